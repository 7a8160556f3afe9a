"""The ``root`` marker (tests/conftest.py): without root a root-only test skips with its reason;
under CI (``CI=true``) a root-only test that skips, for any reason, fails the run.

Runs a throwaway test file through pytest in a subprocess with the suite's conftest as a plugin,
as the user running the suite, and as a user who is not root: for that a small plugin makes
``os.geteuid`` answer 65534 (a real unprivileged run is tests/cli/test_setup.py's ``scripts/test``
as ``nobody``; this one needs no root and no second installation).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOT_ROOT_PLUGIN = "import os\n\nos.geteuid = lambda: 65534  # as a normal user sees it\n"

SAMPLE = """\
import pytest


@pytest.mark.root
def test_builds_a_namespace():
    pass


@pytest.mark.root("opens raw sockets")
def test_with_its_own_reason():
    pass


@pytest.mark.root
def test_tool_missing_on_this_machine():
    pytest.skip("nft is not installed")


def test_plain():
    pass
"""


@pytest.fixture
def sample() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="nc-root-marker-"))
    folder.chmod(0o755)
    (folder / "test_sample.py").write_text(SAMPLE)
    (folder / "not_root.py").write_text(NOT_ROOT_PLUGIN)
    yield folder / "test_sample.py"
    shutil.rmtree(folder, ignore_errors=True)


def pytest_run(sample: Path, *, ci: bool, root: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NETCHECK_FAILURE_COVERAGE")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=f"{REPO}{os.pathsep}{sample.parent}")
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
               "-c", str(REPO / "pyproject.toml"), "--rootdir", str(sample.parent),
               "-p", "tests.conftest", str(sample)]  # fmt: skip
    if not root:
        command[3:3] = ["-p", "not_root"]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.root("the sample's root-only tests run only when the suite runs as root")
def test_root_tests_run_as_root_and_a_skip_fails_only_under_ci(sample: Path) -> None:
    local = pytest_run(sample, ci=False, root=True)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "3 passed, 1 skipped" in local.stdout
    ci = pytest_run(sample, ci=True, root=True)
    assert ci.returncode == 1, ci.stdout
    assert "a root-only test was skipped under CI (CI=true): Skipped: nft is not installed" in (
        ci.stdout
    )
    assert "1 failed, 3 passed" in ci.stdout


def test_without_root_they_skip_with_their_reason(sample: Path) -> None:
    user = pytest_run(sample, ci=False, root=False)
    assert user.returncode == 0, user.stdout + user.stderr
    assert "1 passed, 3 skipped" in user.stdout
    assert "root-only: needs root (network namespaces" in user.stdout
    assert "root-only: opens raw sockets" in user.stdout
    ci = pytest_run(sample, ci=True, root=False)
    assert ci.returncode == 1
    assert "1 passed, 3 errors" in ci.stdout  # failed in set-up, where the skip happened
    assert "a root-only test was skipped under CI (CI=true): Skipped: root-only:" in ci.stdout

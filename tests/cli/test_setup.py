"""The README's set-up, as a new user runs it: a fresh clone, Debian's externally managed Python
first on PATH, and no root.

As an unprivileged user (``nobody``, through ``setpriv``) in a fresh ``git clone`` of this
repository: ``scripts/setup && .venv/bin/netcheck --version`` exactly as the README writes it
(``--version`` and ``targets list`` stand in for ``run``, which would measure real services),
then ``scripts/test`` on a tiny selection, where the root-only tests must be reported skipped
with their reason. Switching to another user needs root, hence the ``root`` marker.

Speed: the test first fills a wheel cache (``WHEELS``, kept between runs, refreshed when
pyproject.toml changes) from the package index, then the unprivileged user's pip reads only that
(``PIP_FIND_LINKS``/``PIP_NO_INDEX``, as a mirror's configuration would), so the set-up under
test does not wait on the network: about a minute and a half once the cache is warm.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534
WHEELS = Path("/var/cache/netcheck-tests/wheels")

pytestmark = [pytest.mark.root("switches to an unprivileged user with setpriv")]


def _system_python_is_externally_managed() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    stdlib = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return bool(stdlib) and (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def fill_wheel_cache() -> None:
    """Every wheel the set-up and the test extra need (and the build backend), once per
    pyproject.toml: built or downloaded by root's pip from the machine's package index."""
    stamp = WHEELS / ".pyproject-sha256"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return
    WHEELS.mkdir(parents=True, exist_ok=True)
    # the system Python's own pip picks the releases that support it (Debian 12 has 3.11.2)
    builder = WHEELS.parent / "builder-venv"
    if not (builder / "bin" / "python").exists():
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(builder)], check=True)
    wheel = [str(builder / "bin" / "python"), "-m", "pip", "wheel", "-q"]
    subprocess.run([*wheel, "-w", str(WHEELS), f"{REPO}[test]", "setuptools>=68", "wheel", "pip"],
                   check=True, timeout=900, cwd=REPO)  # fmt: skip
    for own in WHEELS.glob("netcheck-*.whl"):
        own.unlink()  # the clone installs its own checkout
    stamp.write_text(want)


@pytest.fixture(scope="module")
def clone() -> Iterator[Path]:
    """A fresh clone of this repository, owned by ``nobody``, in a folder nobody can enter."""
    if not _system_python_is_externally_managed():
        pytest.skip(f"{SYSTEM_PYTHON} is missing or not marked EXTERNALLY-MANAGED (PEP 668)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    fill_wheel_cache()
    sandbox = Path(tempfile.mkdtemp(prefix="nc-setup-"))
    try:
        sandbox.chmod(0o755)
        subprocess.run(["git", "clone", "-q", str(REPO), str(sandbox / "netcheck")], check=True)
        (sandbox / "home").mkdir()
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(sandbox)], check=True)
        yield sandbox / "netcheck"
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)


def as_nobody(clone: Path, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``sh -c command`` in the clone as ``nobody``, the system Python first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("PIP_") or k in ("LANG", "LC_ALL", "TERM")
    }
    env.update(
        PATH="/usr/bin:/bin:/usr/sbin:/sbin",
        HOME=str(clone.parent / "home"),
        COLUMNS="120",
        PIP_FIND_LINKS=str(WHEELS),
        PIP_NO_INDEX="1",
        PIP_NO_COMPILE="1",  # byte-code is compiled on first import instead: half the CPU
    )
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "sh", "-c", command],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip


@pytest.mark.timeout(900)
def test_readme_setup_as_a_normal_user_with_an_externally_managed_python(clone: Path) -> None:
    # the premise: this Python refuses pip outside a venv (when it has pip at all)
    has_pip = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "--version"], capture_output=True)
    if has_pip.returncode == 0:
        refused = as_nobody(clone, "python3 -m pip install --dry-run .", timeout=120)
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stdout + refused.stderr

    done = as_nobody(clone, "scripts/setup && .venv/bin/netcheck --version", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("netcheck ")
    base = as_nobody(clone, ".venv/bin/python -c 'import sys; print(sys.base_prefix)'", 60)
    assert base.stdout.strip() == "/usr", base.stdout  # made with the system Python
    listed = as_nobody(clone, ".venv/bin/netcheck targets list --json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert {t["service"] for t in json.loads(listed.stdout)} >= {"facebook", "youtube", "x"}

    # the README's test command, as a normal user, on a tiny selection: root-only tests skip
    selection = (
        "tests/cli/test_help.py::test_version "
        "tests/measure/test_failures.py::test_vocabulary_is_consistent "
        "tests/measure/test_failures.py::test_network_unreachable_in_an_empty_namespace"
    )
    tested = as_nobody(clone, f"scripts/test -q -rs -p no:cacheprovider {selection}", 600)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output[-4000:]
    assert "2 passed, 1 skipped" in output, output[-4000:]
    assert "SKIPPED" in output, output[-4000:]
    assert "root-only: needs root" in output, output[-4000:]
    assert "not root: no Debian packages installed" in output


@pytest.fixture
def sandbox() -> Iterator[Path]:
    """A folder ``nobody`` can reach (pytest's tmp_path lies under root's private folder)."""
    made = Path(tempfile.mkdtemp(prefix="nc-setup-"))
    made.chmod(0o755)
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_setup_without_python3_venv_says_what_to_run(sandbox: Path) -> None:
    """On a stock Debian without python3-venv (no ensurepip), a normal user gets one line naming
    the package to install, and no half-made .venv."""
    tmp_path = sandbox
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "setup", checkout / "scripts" / "setup")
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    fake = tmp_path / "python3"  # Debian's python3 as it is before python3-venv is installed
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        f'exec {SYSTEM_PYTHON} "$@"\n'
    )
    fake.chmod(0o755)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(tmp_path)], check=True)
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "scripts/setup"],
        cwd=checkout,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "scripts/setup: python3 -m venv needs Debian's python3-venv: run  sudo apt-get install "
        "python3-venv  then scripts/setup again"
    ]
    assert not (checkout / ".venv").exists()

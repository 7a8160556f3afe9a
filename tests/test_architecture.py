"""The dependency rules of issue 11, checked on the real tree.

- ``lint-imports`` keeps the import-linter contracts of ``pyproject.toml``: the pipeline layers
  (cli over the tools, over measure and policy, over classify, targets and the shared modules);
  "classify, policy and report never import measure, httpx, httpcore, socket, ssl, dns or
  scapy"; "no CLI command module imports another" (shared logic goes to the library).
- Every top-level module of ``netcheck`` sits in a layer, so a new one cannot slip past them.
- A fresh interpreter that imports ``netcheck.classify`` (or policy, or report) has loaded none
  of httpx, httpcore, ssl, dns.resolver, dns.query, dns.asyncquery, scapy or netcheck.measure.

``socket`` is not in that list on purpose: pydantic loads it through the standard library
(``importlib.metadata`` -> ``email.utils`` -> ``socket``), so it is in ``sys.modules`` of every
program that uses the models. What matters is that netcheck's own pure code never imports it,
and that is the import-linter contract's job (it reads the import statements, not sys.modules).
Likewise import-linter sees an external package only by its top-level name (``dns``), so the
dnspython submodules that do I/O are checked here by reading the import statements themselves.
"""

from __future__ import annotations

import ast
import functools
import json
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import netcheck
from tests.support.paths import ROOT

PURE = ("netcheck.classify", "netcheck.policy", "netcheck.report")
#: modules that do network I/O (or are the measure stage); none may load with a pure stage
NETWORK = (
    "httpx",
    "httpcore",
    "ssl",
    "dns.resolver",
    "dns.query",
    "dns.asyncquery",
    "scapy",
    "netcheck.measure",
)
#: the third-party libraries the pure stages build on; pyarrow.dataset loads ssl by itself (for
#: its cloud file systems), which the per-module check below must not blame on netcheck
LIBRARIES = (
    "import numpy, pandas, pyarrow.dataset, pyarrow.compute, jinja2, yaml, msgspec, scipy.stats"
)


@functools.cache
def _loaded_after(statement: str) -> frozenset[str]:
    """Module names in ``sys.modules`` of a fresh interpreter after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return frozenset(json.loads(out.stdout.splitlines()[-1]))


def _network_modules(loaded: frozenset[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in NETWORK))


def test_import_linter_contracts_are_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    command = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert command, "lint-imports is missing: install the test extra (pip install -e '.[test]')"
    run = subprocess.run(
        [command, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _contract(name: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name))


def _layered_names() -> set[str]:
    names: set[str] = set()
    for layer in _contract("Pipeline layers")["layers"]:
        for part in layer.replace("|", ":").split(":"):
            names.add(part.strip().strip("()"))
    return names


def test_every_top_level_module_is_in_a_layer() -> None:
    layered = _layered_names()
    top = {f"netcheck.{m.name}" for m in pkgutil.iter_modules(netcheck.__path__)}
    assert top, "found no module under netcheck/"
    assert sorted(top - layered) == []


@pytest.mark.parametrize("package", PURE)
def test_pure_package_loads_no_network_code(package: str) -> None:
    loaded = _loaded_after(f"import {package}")
    assert package in loaded
    assert _network_modules(loaded) == []


def test_the_libraries_of_the_pure_stages_load_only_ssl() -> None:
    """What the per-module check forgives is no more than ssl."""
    assert _network_modules(_loaded_after(LIBRARIES)) == ["ssl"]


@pytest.mark.parametrize("package", PURE)
def test_every_module_of_a_pure_package_loads_no_network_code(package: str) -> None:
    """Not only the package's ``__init__``: every module in it, one interpreter each, beyond
    what its third-party libraries load by themselves."""
    forgiven = set(_network_modules(_loaded_after(LIBRARIES)))
    names = _submodules(package)
    assert len(names) > 1
    for name in names:
        found = set(_network_modules(_loaded_after(f"import {name}"))) - forgiven
        assert sorted(found) == [], name


def _submodules(package: str) -> list[str]:
    folder = ROOT / Path(*package.split("."))
    return [package] + [
        m.name for m in pkgutil.walk_packages([str(folder)], package + ".") if not m.ispkg
    ]


def _imported_names(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, wherever the statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_pure_code_names_no_dns_module_that_does_io() -> None:
    io = ("dns.resolver", "dns.query", "dns.asyncquery", "dns.asyncresolver")
    offenders = []
    for package in PURE:
        for path in sorted((ROOT / Path(*package.split("."))).rglob("*.py")):
            bad = sorted(n for n in _imported_names(path) if n.startswith(io))
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    assert offenders == []


def test_the_checks_above_can_fail(tmp_path: Path) -> None:
    """The import reader sees a lazy import inside a function, and the sys.modules check sees
    the network modules an innocent-looking import drags in."""
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from dns import resolver\n    import dns.query\n")
    assert {"dns.resolver", "dns.query"} <= _imported_names(lazy)
    found = _network_modules(_loaded_after("import netcheck.measure.http"))
    assert {"httpx", "httpcore", "netcheck.measure"} <= set(found)

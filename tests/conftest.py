"""Suite-wide checks.

Failure coverage: every failure string the probe can emit must be produced by at least one test
against a real peer. A spy on the step models notes each ``failure`` a test creates; at the end
of a full run (``scripts/test`` sets NETCHECK_FAILURE_COVERAGE=1) any string never produced
fails the session. Strings created by hand in golden files or model tests do not count: only
steps built by measurement code (``netcheck.measure.dns``/``tcp``/``tls``/``http``/``probe``) do.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from netcheck import failures, models

PRODUCED: set[str] = set()
_MEASURING_MODULES = {
    "netcheck.measure.dns",
    "netcheck.measure.tcp",
    "netcheck.measure.tls",
    "netcheck.measure.http",
    "netcheck.measure.pipeline",
    "netcheck.measure.quic",
    "netcheck.measure.steplog",
}
_STEP_TYPES = (models.DnsStep, models.TcpStep, models.TlsStep, models.HttpStep)
_original_init = models.Frozen.__init__


def _spy_init(self: models.Frozen, /, **data: Any) -> None:
    _original_init(self, **data)
    if isinstance(self, _STEP_TYPES) and data.get("failure"):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller in _MEASURING_MODULES:
            PRODUCED.add(data["failure"])


_original_copy = models.Frozen.model_copy


def _spy_copy(self: models.Frozen, *, update: Any = None, deep: bool = False) -> Any:
    copy = _original_copy(self, update=update, deep=deep)
    if isinstance(copy, _STEP_TYPES) and update and update.get("failure"):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller in _MEASURING_MODULES:
            PRODUCED.add(update["failure"])
    return copy


models.Frozen.__init__ = _spy_init  # type: ignore[method-assign]
models.Frozen.model_copy = _spy_copy  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("NETCHECK_FAILURE_COVERAGE") != "1" or exitstatus != 0:
        return
    missing = sorted(failures.EMITTED - failures.FALLBACK - PRODUCED)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if missing:
        if reporter is not None:
            reporter.write_line(
                "failure coverage: never produced by a test against a real peer: "
                + ", ".join(missing),
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(
            f"failure coverage: all {len(failures.EMITTED)} failure strings produced"
        )


# --- root-only tests ----------------------------------------------------------------------------
# A test that builds namespaces, shapes links with tc or opens raw sockets is marked `root` (lab
# tests are, through their `lab` marker). Without root it skips, saying why. Under CI (CI=true),
# which runs as root with every Debian package installed, any skip fails the run instead — a
# root-only test's, or one whose tool (chromium, setpriv...) is missing: CI never passes by
# skipping.

_ROOT_REASON = "needs root (network namespaces, tc, nftables or raw sockets): run as CI does"


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("lab") is not None and item.get_closest_marker("root") is None:
            item.add_marker(pytest.mark.root)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("root")
    if marker is not None and os.geteuid() != 0:
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else _ROOT_REASON)
        pytest.skip(f"root-only: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _under_ci():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        kind = "a root-only test" if item.get_closest_marker("root") is not None else "a test"
        report.outcome = "failed"
        report.longrepr = f"{kind} was skipped under CI (CI=true): {reason}"

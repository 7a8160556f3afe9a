"""The lab fixture: the real namespaces and daemons, built once per test session.

Lab tests need root (CI runs as root). They are never skipped: without root they fail with a
message saying so. The session uses its own state dir; the namespaces are the lab's fixed
``nclab-`` names, so a test session replaces any lab a user had running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab import scenarios
from netcheck.lab.lifecycle import Lab

STATE = Path("/run/netcheck-lab-test")
NEEDED = ("squid", "unbound", "nginx", "haproxy", "nft", "tc", "ip", "curl")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (network namespaces, nftables): run them with sudo")
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"lab tests need these Debian tools: {', '.join(missing)}")
    instance = Lab(STATE)
    with instance.locked():
        instance.up(scenarios.load()["clean"])
    yield instance
    with instance.locked():
        instance.down()

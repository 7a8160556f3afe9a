"""A throw-away network namespace for tests that must see kernel errors no loopback peer gives.

``isolated_netns(routes)`` creates ``nctest-<pid>-<n>`` with only ``lo`` (up), adds the given
``ip route`` lines, and moves the *calling thread* into it (setns) for the ``with`` block; the
event loop's default executor is replaced by threads that enter it too, so getaddrinfo runs there.
Nothing in the namespace can reach the host's network: it has no interface but ``lo``. Each
thread checks its namespace inode before it is used, so a failed setns can never leak a packet.
Needs root (CI runs as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def _thread_ns_inode() -> int:
    return os.stat(f"/proc/self/task/{_gettid()}/ns/net").st_ino


def _gettid() -> int:
    return int(_libc.syscall(186))  # SYS_gettid on x86_64


def require_root(
    what: str = "this test", needs: str = "network namespaces", tools: Sequence[str] = ()
) -> None:
    """Stop with one line when ``what`` cannot run here: not root (``needs`` says why root),
    or a Debian tool it drives is missing. The ``root`` marker skips such tests first outside
    CI (tests/conftest.py); this guard is for fixtures and for the bench scripts that share
    them, and it raises rather than skips: CI runs as root."""
    if os.geteuid() != 0:
        raise RuntimeError(f"{what}: root needed ({needs}); run as CI does (sudo)")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{what}: these Debian tools are missing: {', '.join(missing)}")


@contextlib.contextmanager
def isolated_netns(routes: list[str] = ()) -> Iterator[str]:  # type: ignore[assignment]
    require_root()
    name = f"nctest-{os.getpid()}-{next(_counter)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for route in routes:
            subprocess.run(["ip", "-n", name, "route", "add", *route.split()], check=True)
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        home = os.open(f"/proc/self/task/{_gettid()}/ns/net", os.O_RDONLY)
        want = os.fstat(target).st_ino

        def enter() -> None:
            _setns(target)
            if _thread_ns_inode() != want:
                raise RuntimeError("thread did not enter the test namespace")

        enter()
        executor = ThreadPoolExecutor(max_workers=2, initializer=enter)
        loop = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
        if loop is not None:
            loop.set_default_executor(executor)
        try:
            yield name
        finally:
            _setns(home)
            executor.shutdown(wait=True)
            os.close(target)
            os.close(home)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)

"""Starting, watching and stopping the lab's daemons inside their namespaces.

In: a state dir, and per daemon a name, a namespace and an argv that stays in the foreground.
Out: running processes whose pids are kept in ``<state>/pids/<name>.pid`` and whose output goes
to ``<state>/logs/<name>.log``. ``ip netns exec`` execs the daemon, so the pid we keep is the
daemon's own. Each runs in its own session: it outlives the ``netcheck lab up`` that started it,
and ``stop_all`` (or ``down`` after a crash) finds it by pid file and by namespace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from netcheck.errors import NetcheckError
from netcheck.lab import topology


class Daemons:
    def __init__(self, state: Path) -> None:
        self.pids = state / "pids"
        self.logs = state / "logs"

    def pid(self, name: str) -> int | None:
        """The daemon's pid, if its pid file names a process started before the file was
        written: a stale file (the daemon died, the pid was reused) or a damaged one (0, -1,
        our own pid) names no process of ours, and signalling it would hit someone else's."""
        path = self.pids / f"{name}.pid"
        try:
            pid = int(path.read_text().strip())
            written = path.stat().st_mtime
        except (OSError, ValueError):
            return None
        if pid <= 1 or pid == os.getpid():
            return None
        started = _started_at(pid)
        return None if started is not None and started > written + 1.0 else pid

    def alive(self, name: str) -> bool:
        pid = self.pid(name)
        return pid is not None and _alive(pid)

    def start(self, name: str, ns: str, argv: Sequence[str]) -> int:
        self.pids.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                topology.ns_argv(ns, argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        (self.pids / f"{name}.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, name: str, grace: float = 3.0) -> None:
        pid = self.pid(name)
        if pid is not None:
            terminate([pid], grace)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    def names(self) -> list[str]:
        if not self.pids.is_dir():
            return []
        return sorted(p.stem for p in self.pids.glob("*.pid"))

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.logs / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):  # a zombie child of ours is dead for us
        os.waitpid(pid, os.WNOHANG)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def terminate(pids: Sequence[int], grace: float = 3.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_listening(ns: str, proto: str, ip: str, port: int, timeout: float = 10.0) -> bool:
    """Poll ``ss`` in the namespace until ``ip:port`` is bound (tcp listening or udp bound)."""
    flag = "-Hltn" if proto == "tcp" else "-Hlun"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = topology.ns_run(ns, ["ss", flag, f"src {ip} and sport = :{port}"], check=False)
        if out.strip():
            return True
        time.sleep(0.05)
    return False


def ensure_listening(
    daemons: Daemons, name: str, ns: str, checks: Sequence[tuple[str, str, int]]
) -> None:
    for proto, ip, port in checks:
        if not wait_listening(ns, proto, ip, port):
            tail = daemons.log_tail(name)
            raise NetcheckError(f"lab: {name} did not start listening on {ip}:{port}\n{tail}")

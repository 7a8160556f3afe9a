"""A PAC script run in a child process that can be killed: the one way to bound its time.

In: the PAC's JavaScript, then (url, host) questions. Out: ``FindProxyForURL``'s answer, or
``PacError`` (the script does not load or throws) / ``PacTimeout`` (it ran past its deadline).

Why a process: pypac evaluates PAC with dukpy, which holds the GIL while JavaScript runs, so a
PAC with ``while(true){}`` (or one that builds a huge string) would freeze the whole probe and
no asyncio or thread timeout could fire. The worker (``python -m netcheck.pacjs``) gets a
memory limit and is killed at the first deadline overrun; every later question then fails at
once. Answers are cached per (url, host): browsers strip https paths, so hosts repeat.
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
import time
from typing import Any

LOAD_TIMEOUT = 5.0
CALL_TIMEOUT = 2.0
MEMORY_LIMIT = 512 * 1024 * 1024
MAX_ANSWER = 64 * 1024


class PacError(Exception):
    """The PAC does not load, or FindProxyForURL threw."""


class PacTimeout(PacError):
    """The PAC ran past its deadline; its worker was killed."""


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class SandboxedPac:
    def __init__(
        self, js: str, *, load_timeout: float = LOAD_TIMEOUT, call_timeout: float = CALL_TIMEOUT
    ) -> None:
        self.call_timeout = call_timeout
        self._cache: dict[tuple[str, str], str] = {}
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "netcheck.pacjs"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - no threads are started before this
        )
        self._ask({"load": js}, load_timeout)

    def find_proxy_for_url(self, url: str, host: str) -> str:
        key = (url, host)
        if key not in self._cache:
            answer = self._ask({"url": url, "host": host}, self.call_timeout)
            self._cache[key] = str(answer.get("result", ""))
        return self._cache[key]

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __del__(self) -> None:
        self.close()

    def _ask(self, message: dict[str, str], timeout: float) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise PacTimeout("the PAC worker was stopped after an earlier overrun")
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        except OSError as exc:
            self.close()
            raise PacError(f"the PAC worker is gone ({exc})") from None
        line = self._read_line(proc.stdout.fileno(), time.monotonic() + timeout)
        if line is None:
            self.close()
            raise PacTimeout(f"the PAC did not answer within {timeout:g} s")
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:
            self.close()
            raise PacError("the PAC worker answered garbage") from None
        if "error" in answer:
            raise PacError(str(answer["error"]))
        return answer

    def _read_line(self, fd: int, deadline: float) -> bytes | None:
        data = bytearray()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or len(data) > MAX_ANSWER:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:  # the worker died (memory limit, crash)
                return None
            data += chunk
        return bytes(data)


def _worker() -> None:
    from pypac.parser import PACFile

    pac: Any = None
    for raw in sys.stdin.buffer:
        message = json.loads(raw)
        try:
            if "load" in message:
                pac = PACFile(message["load"])
                reply: dict[str, str] = {"ok": "loaded"}
            else:
                answer = pac.find_proxy_for_url(message["url"], message["host"])
                reply = {"result": answer if isinstance(answer, str) else "DIRECT"}
        except Exception as exc:  # noqa: BLE001 - every script error goes back as data
            original = getattr(exc, "original_exc", None) or exc
            text = str(original).strip().splitlines()
            reply = {"error": (text[0] if text else type(exc).__name__)[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker()

"""A PAC script run in a child process that can be killed: the one way to bound its time.

In: the PAC's JavaScript, then (url, host) questions. Out: ``FindProxyForURL``'s answer, or
``PacError`` (the script does not load, throws, or returns something that is not a string) /
``PacTimeout`` (it ran past its deadline, or past its total ``budget``). ``parse_pac_result``
turns an answer such as ``PROXY a:3128; PROXY b:3128; DIRECT`` into the ordered list of
``ProxyChoice`` a browser tries in turn; ``SandboxedPac.choices`` asks and parses in one step.

A non-string answer (a number, ``undefined``, an object) is an error, never read as DIRECT:
browsers disagree on it, and a probe that guessed would measure a path nobody configured.

Why a process: pypac evaluates PAC with dukpy, which holds the GIL while JavaScript runs, so a
PAC with ``while(true){}`` (or one that builds a huge string) would freeze the whole probe and
no asyncio or thread timeout could fire. The worker (``python -m netcheck.pacjs``) gets a
memory limit and is killed at the first deadline overrun; every later question then fails at
once. Answers are cached per (url, host): browsers strip https paths, so hosts repeat.

A deadline per call does not bound many calls: a script that takes 1.9 s per answer, asked for
the catalogue's 43 hosts, keeps an importer busy for 80 s. A ``budget`` (seconds, loading
included) bounds them all: once spent, the worker is killed and every question fails. A probe
that lives for hours passes none; a command that reads a config for an answer passes one.

``resolve=False`` is for the offline commands (importers, ``explain``, ``check``, ``report``),
which must never send a packet: the worker's name resolution always fails, so ``dnsResolve``
and ``dnsResolveEx`` answer null, ``isResolvable`` false, ``isInNet`` on a name false (on an
IP literal it is still computed) and ``myIpAddress`` 127.0.0.1, as browsers answer when they
cannot resolve. The probe (``measure/proxy.py``) keeps the default: a real PAC resolves.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import resource
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

LOAD_TIMEOUT = 5.0
CALL_TIMEOUT = 2.0
MEMORY_LIMIT = 512 * 1024 * 1024
MAX_ANSWER = 64 * 1024


class PacError(Exception):
    """The PAC does not load, or FindProxyForURL threw; ``line``: the script's line the engine
    named, when it named one."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class PacTimeout(PacError):
    """The PAC ran past its deadline; its worker was killed."""


# the proxy types PAC results name (Chromium's and Firefox's readings); SOCKS means SOCKS v4
# to Netscape's spec but v5 in practice everywhere since: keep the word, let the user decide
PROXY_KINDS = ("PROXY", "HTTP", "HTTPS", "SOCKS", "SOCKS4", "SOCKS5")
MAX_CHOICES = 32


@dataclass(frozen=True)
class ProxyChoice:
    """One entry of a PAC result: ``DIRECT`` (host and port None) or a proxy to try."""

    kind: str  # "DIRECT" or one of PROXY_KINDS, upper case
    host: str | None = None  # as written; an IPv6 address without brackets
    port: int | None = None

    @property
    def direct(self) -> bool:
        return self.kind == "DIRECT"

    @property
    def url(self) -> str | None:
        """The proxy as a URL (``http://h:p``, ``https://``, ``socks4://``, ``socks5://``)."""
        if self.direct:
            return None
        scheme = {"PROXY": "http", "HTTP": "http", "HTTPS": "https", "SOCKS4": "socks4"}.get(
            self.kind, "socks5"
        )
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        if self.direct:
            return "DIRECT"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{self.kind} {host}:{self.port}"


def parse_pac_result(text: str) -> list[ProxyChoice]:
    """The entries of a ``FindProxyForURL`` answer, in the order a browser tries them.

    ``"PROXY a:3128; PROXY b:3128; DIRECT"`` gives three choices. Entries are separated by
    ``;`` (empty ones are skipped, as browsers do); an empty answer means DIRECT (Netscape's
    spec). Any entry that is not ``DIRECT`` or ``TYPE host:port`` raises ``PacError`` naming
    it: a browser would skip it silently, but a probe should say the PAC is wrong.
    """
    if not isinstance(text, str):
        raise PacError(f"a PAC result must be a string, not {_js_type(text)}")
    entries = [e.strip() for e in text.split(";") if e.strip()]
    if not entries:
        return [ProxyChoice("DIRECT")]
    if len(entries) > MAX_CHOICES:
        raise PacError(f"PAC result with more than {MAX_CHOICES} entries")
    return [_choice(entry) for entry in entries]


def _choice(entry: str) -> ProxyChoice:
    words = entry.split()
    kind = words[0].upper()
    if kind == "DIRECT" and len(words) == 1:
        return ProxyChoice("DIRECT")
    if kind not in PROXY_KINDS or len(words) != 2:
        raise PacError(f"PAC result entry {entry[:80]!r} is not DIRECT or TYPE host:port")
    host, sep, port_text = words[1].rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise PacError(f"PAC result entry {entry[:80]!r}: bad IPv6 address") from None
    elif ":" in host:
        raise PacError(f"PAC result entry {entry[:80]!r}: an IPv6 address needs [brackets]")
    if not sep or not host:
        raise PacError(f"PAC result entry {entry[:80]!r} needs host:port")
    # port 0 is kept: nothing listens there, and some PAC files block with it
    if not port_text.isascii() or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise PacError(f"PAC result entry {entry[:80]!r}: port must be 0-65535")
    return ProxyChoice(kind, host, int(port_text))


def _js_type(value: object) -> str:
    """What a JavaScript value returned through dukpy was, in JavaScript's words."""
    if value is None:
        return "undefined or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class SandboxedPac:
    def __init__(
        self,
        js: str,
        *,
        load_timeout: float = LOAD_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
        budget: float | None = None,
        resolve: bool = True,
    ) -> None:
        self.call_timeout = call_timeout
        self.budget = budget
        self._spent_by = None if budget is None else time.monotonic() + budget
        self._cache: dict[tuple[str, str], str] = {}
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "netcheck.pacjs"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - no threads are started before this
        )
        self._ask({"load": js, "resolve": resolve}, load_timeout)

    def find_proxy_for_url(self, url: str, host: str) -> str:
        """``FindProxyForURL(url, host)`` as the script returned it (always a string)."""
        key = (url, host)
        if key not in self._cache:
            answer = self._ask({"url": url, "host": host}, self.call_timeout)
            result = answer.get("result")
            if not isinstance(result, str):
                raise PacError("the PAC worker answered without a result")
            self._cache[key] = result
        return self._cache[key]

    def choices(self, url: str, host: str) -> list[ProxyChoice]:
        """The ordered proxies (or DIRECT) ``FindProxyForURL`` names for ``url``."""
        return parse_pac_result(self.find_proxy_for_url(url, host))

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __del__(self) -> None:
        self.close()

    def _ask(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise PacTimeout("the PAC worker was stopped after an earlier overrun")
        over_budget = self._spent_by is not None and self._spent_by - time.monotonic() < timeout
        if self._spent_by is not None:
            timeout = max(0.0, min(timeout, self._spent_by - time.monotonic()))
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        except OSError as exc:
            self.close()
            raise PacError(f"the PAC worker is gone ({exc})") from None
        line = self._read_line(proc.stdout.fileno(), time.monotonic() + timeout)
        if line is None:
            self.close()
            if over_budget:
                raise PacTimeout(
                    f"the PAC ran past the {self.budget:g} s it has for loading and answers"
                )
            raise PacTimeout(f"the PAC did not answer within {timeout:g} s")
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:
            self.close()
            raise PacError("the PAC worker answered garbage") from None
        if "error" in answer:
            line = answer.get("line")
            raise PacError(str(answer["error"]), line if isinstance(line, int) else None)
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


def _no_resolution() -> None:  # runs in the worker, before the script is loaded
    """Every pypac function that would resolve a name answers as if none resolves, without
    asking anyone: the module globals (``isInNet`` calls ``dnsResolve``, ``isResolvableEx`` and
    ``isInNetEx`` call ``dnsResolveEx``) and the functions handed to the script. An IP literal
    still "resolves" to itself (no packet)."""
    from pypac import parser
    from pypac import parser_functions as js
    from pypac import parser_functions_ex as js_ex

    def resolve_ex(host: object) -> str:
        return _resolved(host) or ""

    js.dnsResolve = _resolved
    js_ex.dnsResolveEx = resolve_ex
    js.function_injections.update(
        dnsResolve=_resolved,
        isResolvable=lambda host: _resolved(host) is not None,
        myIpAddress=lambda: "127.0.0.1",
    )
    js_ex.function_injections.update(dnsResolveEx=resolve_ex, myIpAddressEx=lambda: "127.0.0.1")
    inject = parser._inject_function_into_js

    def inject_null(context: Any, name: str, func: Any) -> None:
        inject(context, name, func)
        if name == "dnsResolve":  # None crosses dukpy as undefined; browsers answer null
            context.evaljs(
                "dnsResolve = (function (f) { return function (h) { var r = f(h); "
                "return r === undefined ? null : r; }; })(dnsResolve); void 0;"
            )

    parser._inject_function_into_js = inject_null


def _resolved(host: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(host)))
    except ValueError:
        return None


_FRAME = re.compile(r"^\s*at (\S+)?.*<dukpy>:(\d+)")


def _error_reply(text: str, *, loading: bool) -> dict[str, Any]:
    """A script error as the worker sends it back: its first line, in plain words when the
    engine says nothing useful, and the script's line when the engine's stack names one (when
    answering, frames of ``<eval>`` are the call netcheck made, not the script)."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if first in ("", "null", "undefined") or "out of memory" in first.lower():
        first = f"the script ran out of memory ({MEMORY_LIMIT // 2**20} MiB) or died"
    elif "FindProxyForURLEx is not defined" in first or (loading and "not a function" in first):
        first = "the script defines no function FindProxyForURL(url, host)"
        return {"error": first}  # the engine's line is netcheck's own call
    reply: dict[str, Any] = {"error": first[:300]}
    for frame in lines[1:]:
        found = _FRAME.match(frame)
        if found and (loading or found.group(1) != "<eval>"):
            reply["line"] = int(found.group(2))
            break
    return reply


def _worker() -> None:
    from pypac.parser import PACFile

    pac: Any = None
    for raw in sys.stdin.buffer:
        message = json.loads(raw)
        try:
            if "load" in message:
                if message.get("resolve") is False:
                    _no_resolution()
                pac = PACFile(message["load"])
                reply: dict[str, str] = {"ok": "loaded"}
            else:
                if pac is None:
                    raise PacError("no PAC loaded")
                answer = pac.find_proxy_for_url(message["url"], message["host"])
                if not isinstance(answer, str):
                    raise PacError(f"FindProxyForURL returned {_js_type(answer)}, not a string")
                reply = {"result": answer}
        except Exception as exc:  # noqa: BLE001 - every script error goes back as data
            original = getattr(exc, "original_exc", None) or exc
            reply = _error_reply(str(original), loading="load" in message)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker()

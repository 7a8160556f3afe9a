"""Finding a browser on the staff machine and preparing what it runs with.

In: the probe's ``ProxySettings`` and ``Trust`` (the same ones every pipeline step uses) and,
optionally, a browser path (``--browser-path`` or ``NETCHECK_BROWSER``). Out: a ``Launch`` —
the executable, Chromium's flags, Playwright's proxy setting and the environment — made inside a
throwaway directory (``prepared``) that is deleted afterwards.

What we take care of, and why:
- No download, ever: the browser is Debian's ``chromium`` or the Chrome/Edge the OS already has.
  Playwright is told its path (``executable_path``); ``playwright install`` is never run. With no
  browser, ``find_browser`` raises ``BrowserMissing``, which the CLI prints as one line, exit 2.
- No user profile: a fresh temporary HOME (and Playwright's own throwaway user-data-dir per
  launch, and a fresh context per page), so no cookie, login or extension of the user's is used.
- Trust: Chromium on Linux trusts an NSS database (``$HOME/.pki/nssdb``), not a PEM file, so the
  anchors the probe was given (``--ca-bundle``, ``--local-ca``) are imported into one made in the
  throwaway HOME with ``certutil`` (Debian ``libnss3-tools``). Without those flags the browser
  keeps its own root store, as the staff member's browser would.
- Sandbox: on where possible. Chromium refuses to start as root with its sandbox (the lab runs
  as root inside a namespace), so as root it gets ``--no-sandbox`` and the record says so.
- Proxy: ``--proxy`` URL as Playwright's proxy (with its credentials, answered to a 407 by the
  browser), a PAC as ``--proxy-pac-url`` (a local file as a ``data:`` URL), ``none`` as
  ``--no-proxy-server``; with ``--proxy-auth negotiate`` the proxy host is allowed for Kerberos.
- Resolver: the system's (``/etc/resolv.conf``; in the lab the client namespace's own). A
  ``--resolver`` given to the probe cannot be handed to Chromium: the record's host measurements
  use it, the browser does not.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netcheck.errors import InputError, NetcheckError
from netcheck.measure.proxy import ProxySettings
from netcheck.measure.trust import Trust

#: where to look, in order, when no path is given: Debian's chromium first
CANDIDATES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "microsoft-edge-stable",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
)
ENV_BROWSER = "NETCHECK_BROWSER"
#: flags that keep a headless run quiet and self-contained (no sync, no component downloads)
BASE_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--password-store=basic",
    "--mute-audio",
    # the page must not be helped by Chromium's own DNS-over-HTTPS or its QUIC retry logic
    # differently from the probe: both follow the system's configuration
    "--disable-features=DnsOverHttps,AsyncDns",
)
#: most certificates imported from one bundle (certifi holds ~150)
MAX_ANCHORS = 400
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class BrowserMissing(InputError):
    """``--browser`` was asked for, but there is no Chromium, Chrome or Edge to drive."""


def find_browser(path: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The browser executable: ``path``, else ``$NETCHECK_BROWSER``, else the first installed
    candidate. Raises ``BrowserMissing`` (one line, exit 2) when there is none, or Playwright
    (the driver, a Python package) is not installed."""
    env = os.environ if environ is None else environ
    given = path or env.get(ENV_BROWSER)
    if given:
        runnable = os.path.isfile(given) and os.access(given, os.X_OK)  # a folder is "X_OK" too
        found = shutil.which(given) or (given if runnable else None)
        if found is None:
            raise BrowserMissing(f"no executable browser at {given!r}", field="--browser-path")
        return _with_driver(found)
    for name in CANDIDATES:
        found = shutil.which(name) or (
            name if os.path.isabs(name) and os.access(name, os.X_OK) else None
        )
        if found:
            return _with_driver(found)
    raise BrowserMissing(
        "no Chromium, Chrome or Edge found (install Debian's chromium, or give --browser-path); "
        "netcheck never downloads a browser",
        field="--browser",
    )


def _with_driver(executable: str) -> str:
    try:
        import playwright  # noqa: F401
    except ImportError:
        raise BrowserMissing(
            "the Python package playwright is not installed (pip install playwright; "
            "never `playwright install`: netcheck drives the installed browser)",
            field="--browser",
        ) from None
    return executable


def browser_version(executable: str) -> str:
    """``Chromium 156.0...`` as the executable says it (its own wrapper may print noise)."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return Path(executable).name
    lines = [line.strip() for line in out.splitlines() if re.search(r"\d+\.\d+", line)]
    return lines[-1][:120] if lines else Path(executable).name


@dataclass(frozen=True)
class Launch:
    """Everything ``playwright.chromium.launch`` gets, plus what the record says about it."""

    executable: str
    args: list[str]
    env: dict[str, str]
    sandboxed: bool
    proxy: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)

    def playwright_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "executable_path": self.executable,
            "headless": True,
            "args": self.args,
            "env": self.env,
            "chromium_sandbox": self.sandboxed,
            "handle_sigint": False,
        }
        if self.proxy is not None:
            kwargs["proxy"] = self.proxy
        return kwargs


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextlib.contextmanager
def prepared(executable: str, proxy: ProxySettings, trust: Trust | None) -> Iterator[Launch]:
    """A ``Launch`` whose HOME (and NSS database) lives in a directory removed on exit."""
    with tempfile.TemporaryDirectory(prefix="netcheck-browser-") as home:
        env = _environment(home)
        notes: list[str] = []
        if trust is not None and _explicit_anchors(trust):
            imported = import_anchors(Path(home), _explicit_anchors(trust))
            notes.append(f"{imported} trust anchors imported into a throwaway NSS database")
        args = list(BASE_ARGS)
        root = running_as_root()
        if root:
            args.append("--no-sandbox")
            notes.append("running as root: Chromium's sandbox is off (--no-sandbox)")
        pw_proxy, proxy_args = proxy_options(proxy)
        args += proxy_args
        yield Launch(executable, args, env, not root, pw_proxy, notes)


def _environment(home: str) -> dict[str, str]:
    """The browser's environment: the user's, with HOME and XDG dirs in the throwaway dir
    (a Kerberos ticket cache, KRB5CCNAME, still reaches it for a Negotiate proxy)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = home
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[name] = str(Path(home) / name.lower())
    return env


def _explicit_anchors(trust: Trust) -> list[str]:
    """The anchor files the user named. The default public bundle (certifi) is left out: the
    browser's own root store stands for it, as on the staff member's machine."""
    import certifi

    files = [trust.public_ca] if trust.public_ca != certifi.where() else []
    if trust.local_ca is not None:
        files.append(trust.local_ca)
    return files


def import_anchors(home: Path, files: list[str]) -> int:
    """Create ``home/.pki/nssdb`` and import every certificate of ``files`` as a trusted CA."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise NetcheckError(
            "certutil is missing (Debian libnss3-tools): the browser cannot be given the "
            "probe's trust anchors"
        )
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    _certutil([certutil, "-N", "-d", f"sql:{db}", "--empty-password"])
    count = 0
    for path in files:
        text = Path(path).read_text("utf-8", errors="replace")
        for pem in _PEM.findall(text)[:MAX_ANCHORS]:
            one = home / "anchor.pem"
            one.write_text(pem + "\n")
            name = f"netcheck-anchor-{count}"
            _certutil([certutil, "-A", "-d", f"sql:{db}", "-n", name, "-t", "C,,", "-i", str(one)])
            count += 1
    return count


def _certutil(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise NetcheckError(f"certutil failed: {(proc.stderr or proc.stdout).strip()[:300]}")


def proxy_options(settings: ProxySettings) -> tuple[dict[str, str] | None, list[str]]:
    """(Playwright's ``proxy``, extra Chromium flags) for the probe's proxy settings."""
    if settings.mode == "auto" and settings.pac:
        return None, [f"--proxy-pac-url={pac_url(settings.pac)}"]
    server = None
    bypass: list[str] = []
    if settings.mode == "explicit":
        server = settings.url
    elif settings.mode == "env":
        server = settings.https or settings.http
        bypass = list(settings.no_proxy)
    if not server:
        return None, ["--no-proxy-server"]
    proxy: dict[str, str] = {"server": server}
    if bypass:
        proxy["bypass"] = ",".join(bypass)
    creds = dict(settings.credentials).get(server)
    if creds is not None:
        proxy["username"] = creds.username
        proxy["password"] = creds.password
    args: list[str] = []
    if settings.auth == "negotiate":
        args.append(f"--auth-server-allowlist={urlsplit(server).hostname or ''}")
    return proxy, args


def pac_url(pac: str) -> str:
    """A PAC URL Chromium can fetch: a local file becomes a ``data:`` URL (Chromium does not
    read ``file://`` PAC scripts everywhere)."""
    if pac.startswith(("http://", "https://", "data:")):
        return pac
    body = Path(pac).read_bytes()
    return "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(body).decode()

"""The system's proxy settings, as a staff member's browser sees them, on Windows and macOS.

In: the values of ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings``
(``ProxyEnable``, ``ProxyServer`` as ``host:port`` or ``http=h:p;https=h:p``, ``ProxyOverride``
with ``<local>``, ``AutoConfigURL``, WPAD auto-detection), or the text of macOS ``scutil
--proxy``. Out: ``SystemProxy`` — the proxy for HTTPS, a PAC URL, the bypass list — which the
agent turns into ``--proxy`` / ``--pac`` when the IT department did not set them. Linux uses the
environment (``https_proxy``...), as ``netcheck run`` already does.

The parsing is pure and unit-tested on Linux; only ``read_system_proxy`` touches the registry or
runs ``scutil``, and that part is tested on those systems only (the docs list it). An agent that
runs as a service sees the machine's settings (WinHTTP / system), not a logged-in user's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: where Windows looks for a proxy auto-config file when "detect settings" is on and DHCP
#: option 252 gave nothing: the resolver's search domain completes the name
WPAD_URL = "http://wpad/wpad.dat"


@dataclass(frozen=True)
class SystemProxy:
    proxy: str | None = None
    pac: str | None = None
    bypass: tuple[str, ...] = ()
    source: str = ""


def _server(spec: str, scheme: str) -> str | None:
    """``host:port`` or ``http=h:p;https=h:p;ftp=...`` → the proxy for ``scheme`` traffic."""
    spec = spec.strip()
    if not spec:
        return None
    if "=" not in spec:
        return "http://" + spec if "://" not in spec else spec
    parts = dict(p.split("=", 1) for p in spec.split(";") if "=" in p)
    chosen = parts.get(scheme) or parts.get("http")
    if not chosen:
        return None
    return chosen if "://" in chosen else "http://" + chosen


def from_windows_values(values: Mapping[str, Any]) -> SystemProxy:
    """Internet Settings registry values → the settings a browser uses (PAC first, as IE/Edge)."""
    bypass = tuple(
        p.strip() for p in str(values.get("ProxyOverride") or "").split(";") if p.strip()
    )
    pac = str(values.get("AutoConfigURL") or "").strip() or None
    if pac is None and _flag(values.get("AutoDetect")):
        pac = WPAD_URL
    proxy = None
    if _flag(values.get("ProxyEnable")):
        proxy = _server(str(values.get("ProxyServer") or ""), "https")
    return SystemProxy(proxy, pac, bypass, "windows-registry")


def _flag(value: Any) -> bool:
    try:
        return int(value) == 1
    except (TypeError, ValueError):
        return False


_SCUTIL = re.compile(r"^\s*(\w+)\s*:\s*(.*?)\s*$")


def from_scutil(text: str) -> SystemProxy:
    """``scutil --proxy`` output → settings (HTTPS proxy, else HTTP; PAC; exceptions list)."""
    keys: dict[str, str] = {}
    bypass: list[str] = []
    in_exceptions = False
    for line in text.splitlines():
        if "ExceptionsList" in line and "<array>" in line:
            in_exceptions = True
            continue
        if in_exceptions:
            if line.strip() == "}":
                in_exceptions = False
                continue
            found = _SCUTIL.match(line)
            if found:
                bypass.append(found[2])
            continue
        found = _SCUTIL.match(line)
        if found:
            keys[found[1]] = found[2]
    proxy = None
    for kind in ("HTTPS", "HTTP"):
        if keys.get(f"{kind}Enable") == "1" and keys.get(f"{kind}Proxy"):
            port = keys.get(f"{kind}Port", "80")
            proxy = f"http://{keys[f'{kind}Proxy']}:{port}"
            break
    pac = None
    if keys.get("ProxyAutoConfigEnable") == "1":
        pac = keys.get("ProxyAutoConfigURLString") or None
    elif keys.get("ProxyAutoDiscoveryEnable") == "1":
        pac = WPAD_URL
    return SystemProxy(proxy, pac, tuple(bypass), "macos-scutil")


def read_system_proxy() -> SystemProxy | None:  # pragma: no cover - Windows and macOS only
    """The running system's settings, or None where the environment is the source (Linux)."""
    if sys.platform == "win32":
        import winreg

        path = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
        values: dict[str, Any] = {}
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:  # type: ignore[attr-defined]
            for name in (
                "ProxyEnable",
                "ProxyServer",
                "ProxyOverride",
                "AutoConfigURL",
                "AutoDetect",
            ):
                try:
                    values[name] = winreg.QueryValueEx(key, name)[0]  # type: ignore[attr-defined]
                except OSError:
                    continue
        return from_windows_values(values)
    if sys.platform == "darwin":
        out = subprocess.run(
            ["scutil", "--proxy"], capture_output=True, text=True, timeout=10, check=False
        )
        return from_scutil(out.stdout)
    return None

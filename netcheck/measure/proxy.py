"""Which proxy carries which URL: the --proxy/--pac options, the environment, or a PAC file.

In: the ``--proxy`` and ``--pac`` options and the environment (``proxy_settings``); a PAC file
path or URL (``load_pac``); a URL to route (``proxy_for_url``).
Out: ``ProxySettings``; a ``PacEvaluator`` running the PAC's JavaScript in a real engine
(pypac over dukpy); and for each URL either ``"http://host:port"`` or None for DIRECT.
Bad input raises ``InputError`` naming the option, variable or file.

Only plain-HTTP proxies are supported (``PROXY`` in PAC terms): the HTTP stage speaks CONNECT
itself so it can read a refusal. SOCKS and HTTPS-proxy entries in a PAC are skipped and noted
in ``PacEvaluator.notes``. PAC helpers ``dnsResolve``/``isInNet``/``myIpAddress`` ask the
system resolver, as a browser would; they run on the caller's thread.

Credentials come in the proxy URL, as ``http_proxy`` spells them (``http://user:pass@host:port``,
percent-encoded); ``--proxy-auth`` picks the scheme (``proxyauth``). They are split off at once:
every proxy URL handed on (``ProxySettings.url``, steps' ``proxy``) is ``http://host:port``;
``display`` shows ``http://***@host:port``; error messages show the URL with ``***`` in place
of the user information.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from netcheck.errors import InputError
from netcheck.measure.errmap import failure_from_exception
from netcheck.measure.proxyauth import (
    AUTH_SCHEMES,
    AuthScheme,
    AuthSession,
    ProxyCredentials,
    gssapi_available,
)
from netcheck.pacjs import PacError, PacTimeout, SandboxedPac

PAC_MAX_BYTES = 1024 * 1024
PAC_FETCH_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProxySettings:
    """``url`` is the --proxy URL (explicit; in env mode the https, else http, proxy, for
    display); ``pac`` the PAC path or URL (auto); ``http``/``https``/``no_proxy`` come from
    the environment (env) and are what routes in env mode."""

    mode: Literal["none", "env", "explicit", "auto"]
    url: str | None = None
    pac: str | None = None
    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()
    #: --proxy-auth: which scheme answers a 407 ("auto": whatever the proxy offers that we can)
    auth: AuthScheme = "auto"
    #: (proxy URL, its credentials) for proxies given with user information
    credentials: tuple[tuple[str, ProxyCredentials], ...] = ()

    def session_for(self, proxy: str) -> AuthSession:
        """A fresh answerer for one request through ``proxy`` (``http://host:port``)."""
        creds = dict(self.credentials).get(proxy)
        host = urlsplit(proxy).hostname or ""
        return AuthSession(self.auth, creds, host)

    @property
    def display(self) -> str | None:
        """What the record's ``probe.proxy`` says: the proxy, credentials shown as ``***``."""
        if self.mode == "auto":
            return f"auto (PAC {self.pac})"
        if self.mode in ("explicit", "env") and self.url:
            if self.url in dict(self.credentials):
                return self.url.replace("http://", "http://***@", 1)
            return self.url
        return None


def redact(text: str) -> str:
    """``text`` with the user information of a URL (``user:pass@``) replaced by ``***@``."""
    head, sep, rest = text.partition("://")
    if not sep:
        head, rest = "", text
    netloc, slash, tail = rest.partition("/")
    if "@" not in netloc:
        return text
    shown = "***@" + netloc.rpartition("@")[2] + slash + tail
    return f"{head}://{shown}" if sep else shown


def split_proxy_url(text: str, *, field: str) -> tuple[str, ProxyCredentials | None]:
    """``[user:pass@]host:port`` or ``http://[user:pass@]host:port[/]`` -> (``http://host:port``,
    credentials or None); port 80 when absent; user and password percent-decoded."""
    raw = text.strip()
    if "://" not in raw:
        raw = "http://" + raw
    shown = redact(text)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"bad proxy URL {shown!r}: {redact(str(exc))}", field=field) from None
    if parts.scheme.lower() != "http":
        raise InputError(
            f"unsupported proxy {shown!r}: only http:// proxies are supported", field=field
        )
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"bad proxy URL {shown!r}: expected http://host:port", field=field)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    creds = None
    if parts.username is not None or parts.password is not None:
        user = unquote(parts.username or "")
        if not user:
            raise InputError(f"bad proxy URL {shown!r}: credentials without a user", field=field)
        creds = ProxyCredentials(user, unquote(parts.password or ""))
    return f"http://{host}:{port or 80}", creds


def normalize_proxy_url(text: str, *, field: str) -> str:
    """``host:port`` or ``http://host:port[/]`` -> ``http://host:port``; port 80 when absent."""
    return split_proxy_url(text, field=field)[0]


def _env(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(variable, value) for ``name``; the lowercase spelling wins, empty means unset."""
    for key in (name, name.upper()):
        if env.get(key, "").strip():
            return key, env[key].strip()
    return None


def _auth_scheme(auth: str | None) -> AuthScheme:
    choice = (auth or "auto").strip().lower()
    if choice not in AUTH_SCHEMES:
        raise InputError(
            f"unknown scheme {auth!r} (known: {', '.join(AUTH_SCHEMES)})", field="--proxy-auth"
        )
    if choice == "negotiate" and not gssapi_available():
        raise InputError(
            "negotiate (Kerberos) needs pyspnego's Kerberos support: pip install "
            "'pyspnego[kerberos]' (builds against libkrb5-dev)",
            field="--proxy-auth",
        )
    return choice  # type: ignore[return-value]


def _check_auth(settings: ProxySettings, auth: str | None) -> ProxySettings:
    """--proxy-auth against the settings: a scheme that needs a password needs one given."""
    if auth is None:
        return settings
    if settings.mode == "none":
        raise InputError("given without a proxy (--proxy or http_proxy)", field="--proxy-auth")
    if settings.auth in ("basic", "digest", "ntlm") and not settings.credentials:
        raise InputError(
            f"{settings.auth} needs credentials in the proxy URL (http://user:pass@host:port)",
            field="--proxy-auth",
        )
    return settings


def proxy_settings(
    proxy_opt: str | None,
    pac_opt: str | None,
    env: Mapping[str, str],
    auth: str | None = None,
) -> ProxySettings:
    """Settings from ``--proxy none|URL|auto``, ``--pac FILE|URL``, ``--proxy-auth`` and the
    environment."""
    scheme = _auth_scheme(auth)
    choice = proxy_opt.strip() if proxy_opt is not None else None
    if choice is None and pac_opt:
        choice = "auto"  # --pac alone can only mean "use this PAC"
    if choice is not None and choice.lower() == "auto":
        if not pac_opt:
            raise InputError("--proxy auto needs a PAC file or URL", field="--pac")
        return _check_auth(ProxySettings("auto", pac=pac_opt, auth=scheme), auth)
    if pac_opt:
        raise InputError("--pac only applies with --proxy auto", field="--pac")
    if choice is not None and choice.lower() == "none":
        return _check_auth(ProxySettings("none"), auth)
    if choice is not None:
        url, creds = split_proxy_url(choice, field="--proxy")
        given = ((url, creds),) if creds is not None else ()
        return _check_auth(ProxySettings("explicit", url=url, auth=scheme, credentials=given), auth)
    found: dict[str, str | None] = {}
    given_env: dict[str, ProxyCredentials] = {}
    for kind in ("http", "https"):
        var = _env(env, f"{kind}_proxy") or _env(env, "all_proxy")
        found[kind] = None
        if var:
            url, creds = split_proxy_url(var[1], field=var[0])
            found[kind] = url
            if creds is not None:
                given_env[url] = creds
    if found["http"] is None and found["https"] is None:
        return _check_auth(ProxySettings("none"), auth)
    no_proxy = _env(env, "no_proxy")
    entries = tuple(
        e.strip().lower() for e in (no_proxy[1] if no_proxy else "").split(",") if e.strip()
    )
    settings = ProxySettings(
        "env",
        url=found["https"] or found["http"],
        http=found["http"],
        https=found["https"],
        no_proxy=entries,
        auth=scheme,
        credentials=tuple(given_env.items()),
    )
    return _check_auth(settings, auth)


def bypasses_proxy(host: str, port: int, no_proxy: tuple[str, ...]) -> bool:
    """``no_proxy`` as curl and Python read it: ``*``; a domain (leading ``.`` or ``*.``
    optional) covers itself and its subdomains; an IP or CIDR; an optional ``:port``."""
    host = host.lower().strip("[]").rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for entry in no_proxy:
        if entry == "*":
            return True
        name, entry_port = entry, None
        if entry.startswith("["):  # [v6]:port
            name, _, rest = entry[1:].partition("]")
            entry_port = rest.lstrip(":") or None
        elif entry.count(":") == 1:
            name, entry_port = entry.split(":")
        if entry_port is not None and entry_port != str(port):
            continue
        if ip is not None and ("/" in name or name.count(":") > 1 or name[:1].isdigit()):
            try:
                if ip in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class PacEvaluator:
    """A loaded PAC file. ``decide(url)`` gives its raw answer, ``proxy_for(url)`` the proxy."""

    def __init__(self, pac: SandboxedPac, source: str) -> None:
        self._pac = pac
        self.source = source
        self.notes: list[str] = []
        #: proxy URL -> why it could not be reached (``check_proxies``): skipped for the run,
        #: as a browser marks a dead proxy bad and falls back to the next PAC entry
        self.unreachable: dict[str, str] = {}

    def decide(self, url: str) -> str:
        """FindProxyForURL's answer, called as a browser does (https: path and query cut)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme.lower() in ("https", "wss"):
            netloc = f"[{host}]" if ":" in host else host
            if parts.port is not None:
                netloc += f":{parts.port}"
            url = f"{parts.scheme.lower()}://{netloc}/"
        # a non-string answer is a PacError (pacjs), never a silent DIRECT
        return self._pac.find_proxy_for_url(url, host)

    def candidates(self, url: str) -> list[str | None]:
        """The usable entries for ``url`` in PAC order: proxy URLs, None for DIRECT."""
        try:
            answer = self.decide(url)
        except Exception:  # noqa: BLE001 - proxy_for notes it
            return [None]
        found: list[str | None] = []
        for entry in answer.split(";"):
            kind, _, where = entry.strip().partition(" ")
            if kind.upper() == "DIRECT":
                found.append(None)
            elif kind.upper() in ("PROXY", "HTTP") and where.strip():
                with contextlib.suppress(InputError):
                    found.append(normalize_proxy_url(where.strip(), field="--pac"))
        return found

    async def check_proxies(self, urls: Iterable[str], timeout: float) -> None:
        """TCP-connect once to every proxy the PAC names for ``urls``; those that cannot be
        reached are passed over by ``proxy_for`` (and noted), as browsers fall back."""
        proxies = {p for url in urls for p in self.candidates(url) if p is not None}

        async def one(proxy: str) -> None:
            parts = urlsplit(proxy)
            try:
                async with asyncio.timeout(timeout):
                    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
                writer.transport.abort()
            except (OSError, TimeoutError) as exc:
                self.unreachable[proxy] = failure_from_exception(exc)

        await asyncio.gather(*(one(p) for p in sorted(proxies)))

    def proxy_for(self, url: str) -> str | None:
        try:
            answer = self.decide(url)
        except Exception as exc:  # noqa: BLE001 - browsers go DIRECT when the PAC throws
            self.notes.append(f"{url}: PAC error ({exc}); going DIRECT")
            return None
        for entry in answer.split(";"):
            kind, _, where = entry.strip().partition(" ")
            kind = kind.upper()
            if kind == "DIRECT":
                return None
            if kind in ("PROXY", "HTTP") and where.strip():
                try:
                    chosen = normalize_proxy_url(where.strip(), field="--pac")
                except InputError as exc:
                    self.notes.append(f"{url}: skipped PAC entry {entry.strip()!r}: {exc}")
                    continue
                if chosen in self.unreachable:
                    why = self.unreachable[chosen]
                    self.notes.append(f"{url}: skipped {chosen} ({why}), the next PAC entry")
                    continue
                return chosen
            if kind:
                self.notes.append(f"{url}: skipped unsupported PAC entry {entry.strip()!r}")
        self.notes.append(f"{url}: no usable PAC entry in {answer!r}; going DIRECT")
        return None


def proxy_for_url(settings: ProxySettings, pac: PacEvaluator | None, url: str) -> str | None:
    """The proxy URL for ``url`` (``http://host:port``), or None to go DIRECT."""
    if settings.mode == "explicit":
        return settings.url
    if settings.mode == "auto":
        return pac.proxy_for(url) if pac is not None else None
    if settings.mode == "env":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        if bypasses_proxy(parts.hostname or "", port, settings.no_proxy):
            return None
        return settings.https if scheme == "https" else settings.http if scheme == "http" else None
    return None


async def _fetch(url: str, timeout: float) -> bytes:
    data = bytearray()
    try:
        async with asyncio.timeout(timeout):
            # fetched DIRECT, like a browser fetches its PAC; redirects are common for PAC hosts
            async with (
                httpx.AsyncClient(trust_env=False, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise InputError(
                        f"PAC fetch answered HTTP {response.status_code}",
                        file=url,
                        field="--pac",
                    )
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > PAC_MAX_BYTES:
                        raise InputError(
                            f"PAC larger than {PAC_MAX_BYTES} bytes", file=url, field="--pac"
                        )
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        raise InputError(f"cannot fetch PAC: {reason}", file=url, field="--pac") from None
    return bytes(data)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(PAC_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read PAC: {exc.strerror or exc}", file=path, field="--pac"
        ) from None
    if len(data) > PAC_MAX_BYTES:
        raise InputError(f"PAC larger than {PAC_MAX_BYTES} bytes", file=path, field="--pac")
    return data


async def load_pac(
    settings: ProxySettings, *, timeout: float = PAC_FETCH_TIMEOUT
) -> PacEvaluator | None:
    """Load and compile the PAC of ``--proxy auto``; None for every other mode."""
    if settings.mode != "auto" or not settings.pac:
        return None
    source = settings.pac
    if source.lower().startswith(("http://", "https://")):
        data = await _fetch(source, timeout)
    else:
        path = source.removeprefix("file://")
        data = await asyncio.to_thread(_read, str(Path(path).expanduser()))
    try:
        js = data.decode("utf-8")
    except UnicodeDecodeError:
        js = data.decode("latin-1")
    try:
        # in a worker process with a deadline: a PAC that loops cannot freeze the probe
        return PacEvaluator(await asyncio.to_thread(SandboxedPac, js), source)
    except PacTimeout as exc:
        raise InputError(
            f"PAC does not finish loading: {exc}", file=source, field="--pac"
        ) from None
    except PacError as exc:
        raise InputError(f"PAC does not evaluate: {exc}", file=source, field="--pac") from None

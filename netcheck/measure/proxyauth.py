"""Answering a proxy's 407: Basic, Digest, NTLM and Negotiate (Kerberos/SPNEGO).

In: the ``Proxy-Authenticate`` headers of a 407, the request's method and URI, and what the user
gave — a scheme (``--proxy-auth``: auto, basic, digest, ntlm, negotiate) and credentials from
the proxy URL (``http://user:pass@host:port``, percent-decoded; ``ProxyCredentials``).
Out: per request, an ``AuthSession`` whose ``respond`` gives the next ``Proxy-Authorization``
value, or None when the probe has nothing (more) to offer: then the 407 is the evidence.

Browsers' order when a proxy offers several schemes: Negotiate, NTLM, Digest, Basic. Negotiate
uses the user's Kerberos ticket (or the URL's password) through pyspnego over GSSAPI; NTLM is
pyspnego's own implementation. Both are connection-bound: the caller keeps the connection for
every leg. Each scheme gets one try per request: a second 407 after our answer means the
credentials were refused, and asking again would only lock the account.

Credentials live in ``ProxyCredentials`` only, whose repr hides them; nothing here puts them in
a record, a log line or an error message. GSSAPI and NTLM steps can block (a KDC round trip), so
they run in a worker thread under the caller's deadline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

AuthScheme = Literal["auto", "basic", "digest", "ntlm", "negotiate"]
AUTH_SCHEMES: tuple[str, ...] = ("auto", "basic", "digest", "ntlm", "negotiate")
#: what browsers prefer when a proxy offers several schemes
PREFERENCE = ("negotiate", "ntlm", "digest", "basic")
SHOWN = {"negotiate": "Negotiate", "ntlm": "NTLM", "digest": "Digest", "basic": "Basic"}
#: legs one request may take (NTLM: negotiate, then authenticate; a retry on a stale nonce)
MAX_LEGS = 4


@dataclass(frozen=True)
class ProxyCredentials:
    """A user name and password for a proxy; ``repr`` and ``str`` never show them."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def __str__(self) -> str:
        return "ProxyCredentials(***)"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case
    token: str | None = None  # token68: NTLM / Negotiate legs
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})\s*(?:,|$)')
_TOKEN68 = re.compile(r"\s*([A-Za-z0-9\-._~+/]+=*)\s*(?:,|$)")
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?=\s|,|$)")


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in ``Proxy-Authenticate`` values (several per header allowed, RFC 9110
    §11.6.1). Malformed text ends that header's parse; what was read is kept."""
    found: list[Challenge] = []
    for value in values:
        pos = 0
        while pos < len(value):
            m = _SCHEME.match(value, pos)
            if not m:
                break
            scheme, pos = m.group(1).lower(), m.end()
            params: dict[str, str] = {}
            token: str | None = None
            p = _PARAM.match(value, pos)
            t = _TOKEN68.match(value, pos)
            if p is None and t is not None and t.group(1):
                token, pos = t.group(1), t.end()
            while p is not None:
                raw = p.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[p.group(1).lower()] = raw
                pos = p.end()
                p = _PARAM.match(value, pos)
            found.append(Challenge(scheme, token, params))
    return found


def offered(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The schemes a 407 offers, as a reader would name them (``Negotiate``, ``Basic``...)."""
    values = [v for k, v in headers if k.lower() == "proxy-authenticate"]
    names: list[str] = []
    for c in parse_challenges(values):
        name = SHOWN.get(c.scheme, c.scheme)
        if name not in names:
            names.append(name)
    return names


def gssapi_available() -> bool:
    """Whether pyspnego can reach Kerberos: it needs both python-gssapi and python-krb5."""
    try:
        from spnego._gss import HAS_GSSAPI
    except ImportError:
        return False
    return bool(HAS_GSSAPI)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_response(
    challenge: Challenge, creds: ProxyCredentials, method: str, uri: str, *, cnonce: str = ""
) -> str | None:
    """RFC 7616 with qop=auth (or RFC 2069 without qop); MD5, SHA-256 and their -sess forms."""
    p = challenge.params
    algorithm = p.get("algorithm", "MD5")
    name = algorithm.upper().removesuffix("-SESS")
    digest = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(name)
    realm, nonce = p.get("realm", ""), p.get("nonce")
    if digest is None or nonce is None:
        return None

    def h(text: str) -> str:
        return digest(text.encode("utf-8")).hexdigest()

    cnonce = cnonce or secrets.token_hex(8)
    ha1 = h(f"{creds.username}:{realm}:{creds.password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()]
    fields = [
        f"username={_quote(creds.username)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"algorithm={algorithm}",
    ]
    if "auth" in qops:
        nc = "00000001"
        fields.append(f"response={_quote(h(f'{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}'))}")
        fields += ["qop=auth", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
    elif qops:
        return None  # auth-int only: we would have to hash a body we do not send
    else:
        fields.append(f"response={_quote(h(f'{ha1}:{nonce}:{ha2}'))}")
    if "opaque" in p:
        fields.append(f"opaque={_quote(p['opaque'])}")
    return "Digest " + ", ".join(fields)


class AuthSession:
    """One request's answers to a proxy's 407s (a fresh one per request or CONNECT)."""

    def __init__(
        self, scheme: AuthScheme, credentials: ProxyCredentials | None, proxy_host: str
    ) -> None:
        self.scheme = scheme
        self._creds = credentials
        self._host = proxy_host
        self._tried: set[str] = set()
        self._context: Any = None  # pyspnego's client context while a leg is open
        self._legs = 0
        #: the scheme answered with (recorded on the step); None while none was
        self.used: str | None = None

    def __repr__(self) -> str:
        return f"AuthSession(scheme={self.scheme!r}, used={self.used!r})"

    def _allowed(self, scheme: str) -> bool:
        if self.scheme not in ("auto", scheme):
            return False
        if scheme in ("basic", "digest", "ntlm"):
            return self._creds is not None
        return scheme == "negotiate"

    async def respond(
        self, headers: Iterable[tuple[str, str]], method: str, uri: str
    ) -> str | None:
        """The next Proxy-Authorization value for a 407 with ``headers``, or None to give up."""
        self._legs += 1
        if self._legs > MAX_LEGS:
            return None
        challenges = parse_challenges(v for k, v in headers if k.lower() == "proxy-authenticate")
        by_scheme = {c.scheme: c for c in reversed(challenges)}
        current = self.used
        if current in ("ntlm", "negotiate") and self._context is not None:
            follow = by_scheme.get(current)
            if follow is not None and follow.token:  # the next leg of a running handshake
                answer = await self._spnego_step(current, follow.token)
                if answer is not None:
                    return answer
            self._context = None
        if current == "digest":
            again = by_scheme.get("digest")
            if again is not None and again.params.get("stale", "").lower() == "true":
                return digest_response(again, self._creds, method, uri) if self._creds else None
        for scheme in PREFERENCE:
            if scheme not in by_scheme or scheme in self._tried or not self._allowed(scheme):
                continue
            self._tried.add(scheme)
            answer = await self._first(scheme, by_scheme[scheme], method, uri)
            if answer is not None:
                self.used = scheme
                return answer
        return None

    async def _first(self, scheme: str, challenge: Challenge, method: str, uri: str) -> str | None:
        creds = self._creds
        if scheme == "basic" and creds is not None:
            pair = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        if scheme == "digest" and creds is not None:
            return digest_response(challenge, creds, method, uri)
        if scheme in ("ntlm", "negotiate"):
            return await self._spnego_step(scheme, None)
        return None

    async def _spnego_step(self, scheme: str, token: str | None) -> str | None:
        try:
            out = await asyncio.to_thread(self._spnego_blocking, scheme, token)
        except Exception:  # noqa: BLE001 - no ticket, no KDC, a bad token: nothing to offer
            self._context = None
            return None
        if not out:
            return None
        return f"{SHOWN[scheme]} {base64.b64encode(out).decode('ascii')}"

    def _spnego_blocking(self, scheme: str, token: str | None) -> bytes | None:
        import spnego

        if self._context is None:
            creds = self._creds
            self._context = spnego.client(
                creds.username if creds else None,
                creds.password if creds else None,
                hostname=self._host,
                service="HTTP",
                protocol="ntlm" if scheme == "ntlm" else "negotiate",
            )
        data = base64.b64decode(token) if token else None
        out: bytes | None = self._context.step(data)
        return out

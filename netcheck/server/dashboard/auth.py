"""Who may read the dashboard: password hashes, signed session cookies, CSRF tokens, login limits.

In: the collector's store (its ``users`` table), the data folder (``dashboard.key``, a random
secret made on first start, mode 0600), and the values a browser sends. Out: ``add_user`` and
``check_password`` over scrypt hashes; ``Sessions``, which issues and reads session cookies and
derives CSRF tokens; ``LoginLimiter``, which counts failed sign-ins.

Passwords are hashed with scrypt (``hashlib.scrypt``, RFC 7914: n=2**15, r=8, p=1, 32 bytes,
a 16-byte random salt), a memory-hard KDF in the standard library, so no native package is
needed on the collector's VM. The stored form is ``scrypt$n$r$p$salt$hash`` so the cost can be
raised later without breaking old hashes. An unknown user name is checked against a dummy hash,
so a wrong name and a wrong password take the same time.

A session cookie is ``payload.mac``: the payload (user, expiry, a fingerprint of the user's
current hash) in base64url, and an HMAC-SHA256 of it under the secret. Nothing is stored server
side; a changed password or a removed user ends every session of that user, and so does
replacing ``dashboard.key``. The browser gets it ``HttpOnly``, ``SameSite=Strict``, ``Secure``
when the request came over HTTPS, with ``Max-Age``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from netcheck.errors import InputError
from netcheck.server.store import read_secret

N, R, P, DKLEN = 2**15, 8, 1, 32
MAXMEM = 64 * 1024 * 1024  # scrypt needs 128 * r * n = 32 MiB at these settings
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
SESSION_SECONDS = 8 * 3600
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
KEY_FILE = "dashboard.key"


class UserStore(Protocol):
    """The part of the collector's ``Store`` the dashboard's users live in."""

    def query(self, sql: str, args: tuple[object, ...] = ...) -> list[tuple[object, ...]]: ...

    def execute(self, statements: list[tuple[str, tuple[object, ...]]]) -> None: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=R, p=P, maxmem=MAXMEM, dklen=DKLEN
    )
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        again = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=MAXMEM,
            dklen=len(_unb64(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again, _unb64(digest))


@functools.cache
def _dummy() -> str:
    """Checked when the user name is unknown, so the answer takes as long as for a known one."""
    return hash_password(secrets.token_urlsafe(16))


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise InputError(
            "a user name is 1-64 letters, digits, '.', '_', '@' or '-'", field="--name"
        )
    return name


def add_user(store: UserStore, name: str, password: str) -> bool:
    """Create or replace ``name``'s password; True when the user is new."""
    check_user_name(name)
    if "\n" in password or "\r" in password or "\0" in password:
        raise InputError("the password must be one line", field="password")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(
            f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    known = bool(store.query("SELECT 1 FROM users WHERE name = ?", (name,)))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.execute(
        [
            (
                "INSERT INTO users VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "password = excluded.password",
                (name, hash_password(password), stamp),
            )
        ]
    )
    return not known


def user_hash(store: UserStore, name: str) -> str | None:
    rows = store.query("SELECT password FROM users WHERE name = ?", (name,))
    return str(rows[0][0]) if rows else None


def check_password(store: UserStore, name: str, password: str) -> str | None:
    """The user's stored hash when ``password`` is right, else None (same time either way)."""
    stored = user_hash(store, name) if USER_NAME.match(name) else None
    good = verify_password(password[:MAX_PASSWORD], stored or _dummy())
    return stored if good and stored is not None else None


def secret_key(data: Path) -> bytes:
    """``DATA/dashboard.key``: made once (mode 0600), 32 random bytes in hex."""
    path = data / KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: read theirs
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    text = read_secret(path, "the dashboard key", minimum=64)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError("the dashboard key is not hexadecimal", file=str(path), line=1) from None


@dataclass(frozen=True)
class Session:
    user: str
    expires: int
    fingerprint: str


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Sessions:
    key: bytes
    lifetime: int = SESSION_SECONDS

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())

    def issue(self, user: str, password_hash: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.lifetime)
        body = json.dumps({"u": user, "e": expires, "f": fingerprint(password_hash)})
        payload = _b64(body.encode())
        return f"{payload}.{self._mac('session', payload)}"

    def read(self, cookie: str, now: float | None = None) -> Session | None:
        """The session in ``cookie`` when its MAC holds and it has not expired."""
        payload, _, mac = cookie.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["u"]), int(data["e"]), str(data["f"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (time.time() if now is None else now):
            return None
        return session

    def csrf(self, bound_to: str) -> str:
        """A form token bound to a cookie value: a page on another site cannot know it."""
        return self._mac("csrf", bound_to)

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        return hmac.compare_digest(token, self.csrf(bound_to))


@dataclass
class LoginLimiter:
    """At most ``per_client`` failed sign-ins per client address, and ``per_user`` per user
    name, in any ``window`` seconds; then ``retry_after`` says how long to wait."""

    per_client: int = 5
    per_user: int = 10
    window: float = 300.0
    failures: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self.failures.get(key, []) if now - t < self.window]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def retry_after(self, client: str, user: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        waits = []
        for key, cap in ((f"client:{client}", self.per_client), (f"user:{user}", self.per_user)):
            recent = self._recent(key, now)
            if len(recent) >= cap:
                waits.append(recent[-cap] + self.window - now)
        return max(waits, default=0.0)

    def failed(self, client: str, user: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (f"client:{client}", f"user:{user}"):
            self.failures.setdefault(key, []).append(now)
        if len(self.failures) > 100_000:  # a flood of names: forget the oldest half
            for key in list(self.failures)[:50_000]:
                del self.failures[key]

"""What keeps the control from becoming an open proxy: destination policy and rate limits.

In: ``--allow-dest`` CIDRs; client addresses and request costs. Out: ``DestinationPolicy``
(``refusal(url)`` for a URL's scheme, credentials and literal host; ``forbidden(ip)`` for a
resolved address), ``TokenBucket`` (per-client allowance) and ``advertised`` (the headers that
tell a probe the allowance, so it paces itself instead of being turned away). On the probe's
side, ``Allowance`` (its copy of the bucket, from those headers), ``retry_after`` and
``backoff``. Pure apart from the clock and the jitter's randomness.

Destinations are judged by address, after resolution, at every redirect hop: a name that
resolves to 127.0.0.1, or a public page that redirects to 169.254.169.254, is refused exactly
like the literal address. Forbidden: every address that is not globally routable (private,
loopback, link-local, CGNAT, multicast, reserved, documentation, benchmarking, unspecified),
plus IPv6 forms that embed an IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16), unless an
``--allow-dest`` range covers it.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.netaddr import IPNetwork, is_bogon, parse_cidr, parse_ip

#: jitter added to a 429's wait: up to BACKOFF × 2^retry seconds, at most BACKOFF_CAP
BACKOFF = 0.5
BACKOFF_CAP = 30.0

SCHEMES = frozenset({"http", "https"})

#: ``netcheck control serve``'s defaults. The burst holds one probe's whole run (the built-in
#: catalogue, about 50 URLs, plus an agency's own targets) so an hourly run never waits; the
#: rate (one URL a second, 3,600 an hour) is what bounds a client that keeps asking.
DEFAULT_RATE = 1.0
DEFAULT_BURST = 200
DEFAULT_MAX_URLS = 10
_EMBEDDING = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("2002::/16"))


@dataclass(frozen=True)
class DestinationPolicy:
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_specs(cls, specs: Sequence[str]) -> DestinationPolicy:
        """CIDRs as given to ``--allow-dest``; InputError names the bad one."""
        nets = []
        for spec in specs:
            try:
                nets.append(parse_cidr(spec))
            except InputError as exc:
                raise InputError(exc.message, field="--allow-dest") from None
        return cls(tuple(nets))

    def forbidden(self, ip: str) -> str | None:
        """Why the control must not connect to ``ip``, or None when it may."""
        addr = parse_ip(ip)
        if addr is None:
            return f"{ip!r} is not an address"
        if any(addr.version == net.version and addr in net for net in self.allow):
            return None
        if addr.is_loopback:
            return f"{addr} is a loopback address"
        if addr.is_link_local:
            return f"{addr} is a link-local address"
        if addr.is_multicast:
            return f"{addr} is a multicast address"
        if isinstance(addr, ipaddress.IPv6Address) and any(addr in n for n in _EMBEDDING):
            return f"{addr} embeds an IPv4 address"
        if addr.is_private or not addr.is_global or is_bogon(str(addr)) or addr.is_reserved:
            return f"{addr} is a private or reserved address"
        return None

    def refusal(self, url: str) -> str | None:
        """Why the control must not fetch ``url`` at all (before any resolution), or None."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return "malformed URL"
        if parts.scheme.casefold() not in SCHEMES:
            return f"scheme {parts.scheme or '(none)'!r} is not http or https"
        if not host:
            return "URL without a host"
        if parts.username is not None or parts.password is not None:
            return "URL with credentials"
        if parse_ip(host) is not None:
            return self.forbidden(host)
        return None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class TokenBucket:
    """Per-client allowance: ``burst`` units at most, refilled at ``rate`` units per second.

    One unit is one URL to measure (a request costs at least one, so floods of bad requests
    are limited too). The table of clients is bounded: past ``max_clients`` the fullest
    buckets (idle clients) are forgotten first.
    """

    rate: float
    burst: float
    max_clients: int = 4096
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, client: str, cost: float, now: float | None = None) -> float:
        """Spend ``cost`` units; 0.0 when allowed, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget(now)
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if cost > self.burst:
            return float("inf")
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate if self.rate > 0 else float("inf")

    def level(self, client: str, now: float | None = None) -> float:
        """Units ``client`` may spend right now (the burst for a client never seen)."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            return self.burst
        return min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)

    def _forget(self, now: float) -> None:
        def level(item: tuple[str, _Bucket]) -> float:
            return item[1].tokens + (now - item[1].stamp) * self.rate

        for client, _ in sorted(self._buckets.items(), key=level, reverse=True)[
            : max(1, self.max_clients // 4)
        ]:
            del self._buckets[client]


def advertised(bucket: TokenBucket, client: str, max_urls: int) -> dict[str, str]:
    """The allowance as response headers: the IETF httpapi draft's ``RateLimit-*`` fields (the
    bucket read as ``burst`` units per ``burst / rate`` seconds, the same average rate) and
    ``Netcheck-Max-Urls``, the batch size one request may carry."""
    level = bucket.level(client)
    window = max(1, round(bucket.burst / bucket.rate)) if bucket.rate > 0 else 86_400
    refill = (bucket.burst - level) / bucket.rate if bucket.rate > 0 else 0.0
    return {
        "RateLimit-Policy": f"{int(bucket.burst)};w={window}",
        "RateLimit-Limit": str(int(bucket.burst)),
        "RateLimit-Remaining": str(max(0, int(level))),
        "RateLimit-Reset": str(max(0, math.ceil(refill))),
        "Netcheck-Max-Urls": str(max_urls),
    }


# --- the probe's side: pacing to what the control advertises ---------------------------------


@dataclass
class Allowance:
    """What the control lets this client send: a copy of its token bucket (``rate`` None when
    it advertises none: then only 429s pace the client) and the batch size."""

    max_urls: int = DEFAULT_MAX_URLS
    burst: float = 0.0
    rate: float | None = None
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)
    #: no request before this moment (monotonic): set by a 429 for every batch of the client
    not_before: float = 0.0

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Allowance:
        found = cls()
        found.update(headers)
        return found

    def update(self, headers: Mapping[str, str]) -> None:
        """Take in an answer's advertisement; the local copy only ever gets more careful."""
        size = headers.get("netcheck-max-urls", "")
        if size.isdigit() and int(size) > 0:
            self.max_urls = int(size)
        policy = _policy(headers.get("ratelimit-policy", ""))
        if policy is not None:
            quota, window = policy
            if self.rate is None:
                self.tokens = quota
            self.burst, self.rate = quota, quota / window
        remaining = headers.get("ratelimit-remaining", "")
        if self.rate is not None and remaining.isdigit():
            self.tokens = min(self._level(time.monotonic()), float(remaining))
            self.stamp = time.monotonic()

    def wait_for(self, cost: int, now: float) -> float:
        """Seconds until ``cost`` units are there (0.0 when they are)."""
        hold = max(0.0, self.not_before - now)
        if self.rate is None or self.rate <= 0:
            return hold
        short = cost - self._level(now)
        return max(hold, short / self.rate if short > 0 else 0.0)

    def spend(self, cost: int, now: float) -> None:
        if self.rate is not None:
            self.tokens = self._level(now) - cost  # below zero: spent ahead of the refill
            self.stamp = now

    def hold(self, until: float) -> None:
        self.not_before = max(self.not_before, until)

    def _level(self, now: float) -> float:
        if self.rate is None:
            return float("inf")
        return min(self.burst, self.tokens + (now - self.stamp) * self.rate)


def _policy(value: str) -> tuple[float, float] | None:
    """``RateLimit-Policy: 200;w=200`` (or the later ``"name";q=200;w=200``) -> (200, 200)."""
    quota: float | None = None
    window: float | None = None
    for i, part in enumerate(value.split(",", 1)[0].split(";")):
        key, _, number = part.strip().partition("=")
        text = key if i == 0 and not number else number
        try:
            parsed = float(text)
        except ValueError:
            continue
        if key == "w":
            window = parsed
        elif key == "q" or (i == 0 and not number):
            quota = parsed
    if quota is None or window is None or quota <= 0 or window <= 0:
        return None
    return quota, window


def retry_after(value: str | None, now: float | None = None) -> float:
    """``Retry-After`` in seconds (a number or an HTTP date); 1 s when absent or unreadable."""
    text = (value or "").strip()
    if text.isdigit():
        return float(text)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(text).timestamp()
        return max(0.0, when - (time.time() if now is None else now))
    return 1.0


def backoff(after: float, retry: int) -> float:
    """The wait before retry number ``retry`` (1, 2, ...): never less than the control asked,
    plus a jitter that spreads the retries of many waiting batches and probes apart."""
    return after + random.uniform(0.0, min(BACKOFF_CAP, BACKOFF * 2**retry))

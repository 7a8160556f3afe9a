"""Delivery: the outbox's signed batches to the collector, in order, with backoff.

In: the agent's state and outbox. Out: batches delivered (each removed from the outbox only after
a 2xx: ``stored`` or ``already-stored``), and the state's ``last_upload`` / ``last_error``.
A network failure, a 5xx or a 429 waits (``Retry-After``, else exponential backoff with full jitter
from ``BASE_DELAY``, doubling up to ``MAX_DELAY``) and tries again, at most ``MAX_ATTEMPTS`` times
in a row and within a time budget per cycle; what is left waits for the next cycle, in order (the
schedule, ``--every`` plus ``--jitter``, is the long backoff: an offline laptop costs one quick
attempt an hour, not a retry loop). A 401 (revoked or unknown), 409 (chain break) or 4xx about the
batch itself stops delivery with the collector's reason in ``last_error``: the batch stays,
untouched, as evidence.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from netcheck.agent.spool import Spool, load_batch
from netcheck.agent.state import AgentState
from netcheck.errors import InputError, ServiceError
from netcheck.models import utc_now

BASE_DELAY = 1.0
MAX_DELAY = 60.0
MAX_ATTEMPTS = 3
TIMEOUT = 30.0


@dataclass
class Delivery:
    sent: int = 0
    left: int = 0
    stopped: str | None = None  # the collector's refusal that stops delivery


def tls_verify(ca_bundle: str | None) -> ssl.SSLContext:
    """The collector's certificate is checked against ``--ca-bundle`` if given, else the OS
    trust store (truststore: Windows and macOS keep the agency's CAs there, not in a PEM)."""
    if ca_bundle:
        try:
            return ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise InputError(
                f"not a readable PEM CA bundle: {why}", file=ca_bundle, field="--ca-bundle"
            ) from None
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def client(state: AgentState) -> httpx.Client:
    return httpx.Client(
        base_url=state.server, verify=tls_verify(state.ca_bundle), timeout=TIMEOUT, trust_env=True
    )


def backoff(attempt: int, *, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(MAX_DELAY, BASE_DELAY * 2^n)]."""
    return float(rng() * min(MAX_DELAY, BASE_DELAY * 2**attempt))


def deliver(
    state: AgentState,
    folder: Path,
    spool: Spool,
    *,
    budget: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    http: httpx.Client | None = None,
) -> Delivery:
    result = Delivery()
    deadline = time.monotonic() + budget
    own = http is None
    conn = http or client(state)
    try:
        attempt = 0
        for path in spool.outbox():
            while True:
                wait, stop = _send_one(conn, state, path)
                if stop is not None:
                    result.stopped = state.last_error = stop
                    state.save(folder)
                    result.left = len(spool.outbox())
                    return result
                if wait is None:
                    result.sent += 1
                    attempt = 0
                    break
                pause = wait if wait > 0 else backoff(attempt)
                attempt += 1
                if attempt >= MAX_ATTEMPTS or time.monotonic() + pause > deadline:
                    state.save(folder)
                    result.left = len(spool.outbox())
                    return result
                sleep(pause)
    finally:
        if own:
            conn.close()
    state.save(folder)
    return result


def _send_one(conn: httpx.Client, state: AgentState, path: Path) -> tuple[float | None, str | None]:
    """(None, None) delivered; (seconds, None) try again after (0 = use backoff); (_, reason)
    stop."""
    batch = load_batch(path)
    try:
        answer = conn.post(
            "/v1/batches",
            content=batch.to_wire(),
            headers={"content-type": "application/json", "x-netcheck-probe": state.probe_id},
        )
    except httpx.HTTPError as exc:
        state.last_error = f"{utc_now()} cannot reach the collector: {type(exc).__name__}: {exc}"
        return 0.0, None
    if answer.status_code in (200, 201):
        path.unlink()
        state.delivered_seq = int(path.stem)
        state.last_upload, state.last_error = utc_now(), None
        return None, None
    reason = _reason(answer)
    if answer.status_code == 429:
        state.last_error = f"{utc_now()} 429 {reason}"
        retry = answer.headers.get("retry-after", "")
        return (float(retry) if retry.isdigit() else 0.0), None
    if answer.status_code >= 500 or answer.status_code == 408:
        state.last_error = f"{utc_now()} {answer.status_code} {reason}"
        return 0.0, None
    return None, f"{utc_now()} batch {int(path.stem)} refused: {answer.status_code} {reason}"


def _reason(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    if isinstance(body, dict):
        line = f" (record {body['line']})" if body.get("line") else ""
        return str(body.get("error", ""))[:300] + line
    return str(body)[:200]


def enroll(server: str, code: str, public_key: str, ca_bundle: str | None) -> tuple[str, str]:
    """Register the public key with a one-time code: (probe id, network)."""
    import platform

    try:
        with httpx.Client(base_url=server, verify=tls_verify(ca_bundle), timeout=TIMEOUT) as conn:
            answer = conn.post(
                "/v1/enroll",
                json={"code": code, "public_key": public_key, "platform": platform.system()},
            )
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot reach the collector at {server}: {exc}") from None
    if answer.status_code != 200:
        raise ServiceError(
            f"the collector refused the enrollment: {answer.status_code} {_reason(answer)}"
        )
    try:
        body = answer.json()
        return str(body["probe_id"]), str(body["network"])
    except (ValueError, KeyError, TypeError):
        raise ServiceError(
            f"the collector at {server} answered the enrollment with something else than "
            "a probe id and network"
        ) from None

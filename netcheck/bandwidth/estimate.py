"""Goodput estimation, pure: time-stamped read sizes in, a goodput figure and a stop decision out.

In: ``(t, nbytes)`` samples, one per read (``t`` in seconds since the clock started, after the
client was set up), and the path's RTT from a TCP connect. Out: ``Estimate`` (goodput, bytes,
seconds, whether it settled, the window and slot series), and for two estimates, the Wehe-style
tests (``ks_test``, ``area_test``) that ``throttle.decide`` combines.

Why windows and not an average (FIELD_NOTES §4): slow start makes a short average read low (26%
at 150 ms RTT over 5 s) and a large token-bucket burst makes it read high (9x at 0.5 s). So the
clock is cut into windows of ``max(250 ms, 2 x RTT)`` and the run stops (after at least 1 s, at
most 8 s) when the last four windows agree within +-1% of their mean, or the last eight within
+-2%; the mean of the agreeing windows is the goodput. Why two tiers and not "four within +-2%":
dips are one-sided (a loss recovery, a reader that lost the CPU for a few ms: a window only ever
reads *below* the path's rate, apart from the catch-up right after a stall), and four windows
within +-2% can be a stretch of dips, e.g. 0.970 0.979 0.975 0.993 of the ceiling, which settled
2-3% low on shaped links. A clean plateau agrees within +-0.5% (measured: 1-500 Mbit/s), so +-1%
over four windows passes it at the same 1-1.25 s; a path that is really that noisy still settles,
on twice the evidence. Hitting a byte or time cap first gives ``stable=False`` ("inconclusive"):
a reader starved of CPU at 500 Mbit/s, whose windows wander 0.8-1.0, now says so instead of
settling on a plateau that is not one. Besides the caller's fixed caps, a byte budget scales
with the link: once the bytes moved exceed what ``BUDGET_SECONDS`` (5 s, half of a 10 s test) at
the best recent window rate would move, stop.

Bytes in a window come from the cumulative byte curve, linearly interpolated between reads: a
read landing just after a boundary would otherwise move a whole packet (4.6% of a 250 ms window
at 1 Mbit/s) from one window to the next and the windows would never agree.

Replay mode (``even_slots=K``, what ``throttle`` uses): a short byte-capped transfer is cut into
K equal-time slots between its first and last read instead of 50 ms slots, and its goodput is
bytes over that span. A 400 kB run at 95 Mbit/s lasts ~35 ms: no 50 ms slot would close, yet two
such runs compare (KS, area) on K samples each, as Wehe's replays compare equal byte streams.

Memory is bounded: only the window and slot series are kept (at most cap / width entries), and
in replay mode at most ``MAX_SERIES`` points of the byte curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from netcheck.models import StopReason

MIN_WINDOW_S = 0.25
AGREE_TIGHT = 0.01  # N_AGREE windows within +-1% of their mean: a clean plateau
N_AGREE = 4
AGREE = 0.02  # or N_AGREE_LONG windows within +-2%: a noisy path, on twice the evidence
N_AGREE_LONG = 8
MIN_SECONDS = 1.0
MAX_SECONDS = 8.0
SLOT_S = 0.05  # the finer series the statistical tests use
MAX_SERIES = 4096
#: byte budget: stop (inconclusive) once the transfer has moved what this many seconds at the
#: rate seen lately would move, i.e. half of a 10 s test: a cap that scales with the link
BUDGET_SECONDS = 5.0  # hard cap on stored windows/slots, whatever the caller's caps say


def window_seconds(rtt_s: float | None) -> float:
    """The window width for a path: ``max(250 ms, 2 x RTT)``."""
    if rtt_s is None or not math.isfinite(rtt_s) or rtt_s < 0:
        return MIN_WINDOW_S
    return max(MIN_WINDOW_S, 2.0 * rtt_s)


def mbps(nbytes: float, seconds: float) -> float:
    return nbytes * 8.0 / seconds / 1e6 if seconds > 0 else 0.0


def agree(rates: Sequence[float], tolerance: float = AGREE) -> bool:
    """True when every rate is within ``tolerance`` of the rates' mean (and the mean is > 0)."""
    if not rates:
        return False
    mean = sum(rates) / len(rates)
    return mean > 0 and all(abs(r - mean) <= tolerance * mean for r in rates)


@dataclass(frozen=True)
class Estimate:
    """What one transfer showed. ``goodput_mbps`` is the settled mean when ``stable``; otherwise
    the best figure we have (mean of the last windows, or bytes/seconds), to be read as a hint."""

    goodput_mbps: float | None
    bytes: int
    seconds: float
    stable: bool
    reason: StopReason
    window_s: float
    windows_mbps: tuple[float, ...] = ()
    #: slot rates (``SLOT_S`` each) over the windows that settled (or the last windows)
    slots_mbps: tuple[float, ...] = ()
    first_byte_s: float | None = None


@dataclass
class _Series:
    """Cumulative byte curve cut at regular boundaries ``width, 2 width, ...``."""

    width: float
    rates: list[float] = field(default_factory=list)
    edge_bytes: float = 0.0  # interpolated cumulative bytes at the last boundary

    def advance(self, t_prev: float, c_prev: int, t: float, c: int) -> int:
        """Close every boundary crossed between the reads at ``t_prev`` and ``t``."""
        closed = 0
        while len(self.rates) < MAX_SERIES:
            edge = (len(self.rates) + 1) * self.width
            if edge > t:
                break
            span = t - t_prev
            frac = (edge - t_prev) / span if span > 0 else 1.0
            at_edge = c_prev + (c - c_prev) * min(max(frac, 0.0), 1.0)
            self.rates.append(mbps(at_edge - self.edge_bytes, self.width))
            self.edge_bytes = at_edge
            closed += 1
        return closed


class Estimator:
    """Feed it reads with ``add``; it says when to stop; ``finish`` gives the ``Estimate``."""

    def __init__(
        self,
        rtt_s: float | None,
        *,
        max_bytes: int | None = None,
        max_seconds: float = MAX_SECONDS,
        min_seconds: float = MIN_SECONDS,
        tolerance: float = AGREE,
        n_agree: int = N_AGREE,
        tight_tolerance: float = AGREE_TIGHT,
        n_agree_long: int = N_AGREE_LONG,
        budget_seconds: float | None = BUDGET_SECONDS,
        even_slots: int | None = None,
    ) -> None:
        self.window_s = window_seconds(rtt_s)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.min_seconds = min_seconds
        self.tolerance = tolerance
        self.n_agree = n_agree
        self.tight_tolerance = tight_tolerance
        self.n_agree_long = n_agree_long
        self.budget_seconds = budget_seconds
        self._n_settled = 0  # how many trailing windows agreed, once settled
        self._windows = _Series(self.window_s)
        self._slots = _Series(SLOT_S)
        self._t = 0.0
        self._bytes = 0
        self._first_byte: float | None = None
        self._stop: StopReason | None = None
        self.even_slots = even_slots
        self._curve: list[tuple[float, int]] = []  # (t, cumulative bytes) per read, replay mode

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def stopped(self) -> StopReason | None:
        return self._stop

    def add(self, t: float, nbytes: int) -> bool:
        """Record a read of ``nbytes`` returned at ``t``; True when the transfer should stop."""
        if self._stop is not None:
            return True
        t = max(t, self._t)  # a clock never runs backwards here
        if nbytes > 0 and self._first_byte is None:
            self._first_byte = t
        # past the time cap, only the part of the curve up to the cap counts
        t_cut = min(t, self.max_seconds)
        c_new = self._bytes + nbytes
        c_cut = c_new
        if t > self.max_seconds and t > self._t:
            c_cut = round(self._bytes + nbytes * (t_cut - self._t) / (t - self._t))
        closed = self._windows.advance(self._t, self._bytes, t_cut, c_cut)
        self._slots.advance(self._t, self._bytes, t_cut, c_cut)
        self._t, self._bytes = t, c_new
        if self.even_slots and nbytes > 0 and len(self._curve) < MAX_SERIES:
            self._curve.append((t_cut, c_cut))
        if closed and self._settled():
            self._stop = "stable"
        elif t >= self.max_seconds:
            self._stop = "time_cap"
        elif self._over_byte_cap() or (closed and self._over_budget()):
            self._stop = "byte_cap"
        return self._stop is not None

    def _over_byte_cap(self) -> bool:
        return self.max_bytes is not None and self._bytes >= self.max_bytes

    def _over_budget(self) -> bool:
        """More bytes than ``budget_seconds`` at the best rate of the last windows would move."""
        rates = self._windows.rates[-self.n_agree :]
        if self.budget_seconds is None or len(rates) < 2:
            return False
        return self._bytes >= max(rates) * 1e6 / 8 * self.budget_seconds

    def _settled(self) -> bool:
        rates = self._windows.rates
        if len(rates) < self.n_agree or len(rates) * self.window_s < self.min_seconds:
            return False
        if agree(rates[-self.n_agree :], self.tight_tolerance):
            self._n_settled = self.n_agree
        elif len(rates) >= self.n_agree_long and agree(rates[-self.n_agree_long :], self.tolerance):
            self._n_settled = self.n_agree_long
        return self._n_settled > 0

    def finish(self, reason: StopReason | None = None, at: float | None = None) -> Estimate:
        """The estimate so far. ``reason`` names why the caller stopped (eof, failed) if the
        estimator did not; ``at`` is the time the transfer ended (defaults to the last read)."""
        stop: StopReason = self._stop or reason or "eof"
        seconds = max(self._t, at or 0.0)
        rates = self._windows.rates
        tail = rates[-(self._n_settled or self.n_agree) :]
        goodput: float | None
        if stop == "stable" or len(rates) >= 2:
            goodput = sum(tail) / len(tail)
        elif seconds > 0 and self._bytes > 0:
            start = self._first_byte or 0.0
            goodput = mbps(self._bytes, max(seconds - start, 1e-6))
        else:
            goodput = None
        span = len(tail) * self.window_s
        n_slots = max(1, int(round(span / SLOT_S)))
        slots = tuple(self._slots.rates[-n_slots:])
        if self.even_slots:
            goodput, slots = _replay(self._curve, self.even_slots, goodput)
        return Estimate(
            goodput_mbps=goodput,
            bytes=self._bytes,
            seconds=seconds,
            stable=stop == "stable",
            reason=stop,
            window_s=self.window_s,
            windows_mbps=tuple(rates),
            slots_mbps=slots,
            first_byte_s=self._first_byte,
        )


def _replay(
    curve: Sequence[tuple[float, int]], k: int, fallback: float | None
) -> tuple[float | None, tuple[float, ...]]:
    """(goodput over the span from first to last read, rates of ``k`` equal slots of it).

    The bytes of the first read arrived before its time stamp, so they open the curve and count
    in neither; fewer than two reads or a zero span give no slots (no statistical claim)."""
    if len(curve) < 2 or curve[-1][0] <= curve[0][0]:
        return fallback, ()
    t0, c0 = curve[0]
    span = curve[-1][0] - t0
    width = span / k
    series = _Series(width)
    prev_t, prev_c = 0.0, 0
    for t, c in curve[1:]:
        series.advance(prev_t, prev_c, t - t0, c - c0)
        prev_t, prev_c = t - t0, c - c0
    rates = series.rates[:k]
    if len(rates) < k:  # float rounding can leave the last edge a hair past the last read
        rates.append(mbps(prev_c - series.edge_bytes, width))
    return mbps(curve[-1][1] - c0, span), tuple(rates)


def estimate(
    samples: Sequence[tuple[float, int]], rtt_s: float | None, **caps: float | int | None
) -> Estimate:
    """Run the stop rule over a recorded stream (what ``speed`` does live, for tests/replays)."""
    est = Estimator(rtt_s, **caps)  # type: ignore[arg-type]
    end = 0.0
    for t, n in samples:
        end = t
        if est.add(t, n):
            break
    return est.finish("eof", at=end)


# --- Wehe-style statistics ---------------------------------------------------------------------

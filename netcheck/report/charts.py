"""Charts as inline SVG, drawn by code: no plotting library, no external file, no script.

In: small lists of numbers already aggregated by ``comms``/``audit`` (a chart never sees records).
Out: an ``<svg>`` string to place in an HTML report. Every chart carries its title as visible
text (and as ``<title>`` for screen readers), a legend, axes with tick values and an axis title
that names the unit. Text is escaped; sizes are fixed in a ``viewBox`` so a report looks the same
in a mail client, a browser, a headless screenshot and on paper (the page's CSS scales it to the
column; colours are dark enough to survive a grey-scale printer, and values are also written).

- ``stacked_bars``: one horizontal bar per label, split into parts, on a count axis (networks
  where each service function works / works in part / does not work).
- ``against_requirement``: measured value per label on a unit axis, with a mark at the
  requirement (goodput against the policy's Mbit/s).
- ``stacked_columns``: one column per date or hour, split by series (a channel's state over time;
  the audit's findings per day).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = {
    "ok": "#2e7d32",
    "blocked": "#c62828",
    "other": "#9e9e9e",
    "yes": "#2e7d32",
    "partial": "#e65100",
    "no": "#c62828",
    "unknown": "#9e9e9e",
    "self-blocking": "#c62828",
    "unenforced-block": "#ef6c00",
    "bandwidth-shortfall": "#f9a825",
    "compliant": "#2e7d32",
    "undeclared": "#1565c0",
    "inconclusive": "#9e9e9e",
}
_FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12"'
_SMALL = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="11" fill="#333"'
_TITLE = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="14" font-weight="bold"'
_GRID = 'stroke="#d0d0d0" stroke-width="1"'
_AXIS = 'stroke="#333" stroke-width="1"'
_HEAD = 52  # title and legend above every plot


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="0" y="16" {_TITLE}>{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], x: int, y: int) -> list[str]:
    out = []
    for name, colour in items:
        out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y}" {_FONT}>{escape(name)}</text>')
        x += 30 + int(6.8 * len(name))
    return out


def ticks(peak: float, *, integer: bool = False, most: int = 6) -> list[float]:
    """Round tick values from 0 to at least ``peak`` (1, 2 or 5 times a power of ten)."""
    peak = max(peak, 1.0 if integer else 1e-9)
    raw = peak / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    count = math.ceil(peak / step - 1e-9)
    return [step * i for i in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _x_axis(
    left: float, right: float, top: float, bottom: float, values: Sequence[float], label: str
) -> list[str]:
    """Vertical grid lines at ``values`` along a horizontal value axis, and its title."""
    top_value = values[-1] or 1.0
    out = []
    for v in values:
        x = left + (right - left) * v / top_value
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" {_GRID}/>')
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" {_SMALL}>{_number(v)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" {_AXIS}/>')
    out.append(
        f'<text x="{(left + right) / 2:.1f}" y="{bottom + 30}" text-anchor="middle" {_FONT}>'
        f"{escape(label)}</text>"
    )
    return out


def stacked_bars(
    title: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    parts: Sequence[tuple[str, str]],
    *,
    axis: str,
    width: int = 720,
) -> str:
    """``rows``: (label, counts per part); ``parts``: (legend name, colour) in the same order;
    ``axis``: what the counts are ("redes"). Bars share one scale, so lengths compare."""
    label_w, bar_h, gap = 250, 16, 6
    top = _HEAD + 6
    bottom = top + len(rows) * (bar_h + gap)
    right = width - 40
    values = ticks(max([sum(c) for _, c in rows] or [1]), integer=True)
    scale = (right - label_w) / (values[-1] or 1)
    body = _legend(parts, label_w, 40)
    body += _x_axis(label_w, right, top - 4, bottom, values, axis)
    for i, (label, counts) in enumerate(rows):
        y = top + i * (bar_h + gap)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        x = float(label_w)
        for count, (_, colour) in zip(counts, parts, strict=True):
            w = scale * count
            if w > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                )
            x += w
    return _svg(width, bottom + 40, title, body)


def against_requirement(
    title: str,
    rows: Sequence[tuple[str, float, float | None]],
    legend: tuple[str, str, str],
    *,
    axis: str,
    width: int = 720,
) -> str:
    """``rows``: (label, measured, required or None); ``legend``: names of "measured", "measured
    below the requirement" and "required"; ``axis``: the unit. A black mark at the need."""
    label_w, bar_h, gap = 250, 16, 8
    top = _HEAD + 6
    bottom = top + len(rows) * (bar_h + gap)
    right = width - 60
    values = ticks(max([max(v, r or 0.0) for _, v, r in rows] or [1.0]))
    scale = (right - label_w) / (values[-1] or 1.0)
    body = _legend([(legend[0], PALETTE["ok"]), (legend[1], PALETTE["no"])], label_w, 40)
    lx = label_w + 60 + int(6.8 * (len(legend[0]) + len(legend[1])))
    body.append(
        f'<line x1="{lx + 5}" x2="{lx + 5}" y1="28" y2="42" stroke="#000" stroke-width="3"/>'
    )
    body.append(f'<text x="{lx + 14}" y="40" {_FONT}>{escape(legend[2])}</text>')
    body += _x_axis(label_w, right, top - 4, bottom, values, axis)
    for i, (label, value, required) in enumerate(rows):
        y = top + i * (bar_h + gap)
        short = required is not None and value < required
        colour = PALETTE["no"] if short else PALETTE["ok"]
        body.append(
            f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{value * scale:.1f}" height="{bar_h}" '
            f'fill="{colour}"/>'
        )
        text = f"{value:.1f}"
        if required is not None:
            rx = label_w + required * scale
            body.append(
                f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{y - 3}" y2="{y + bar_h + 3}" '
                'stroke="#000" stroke-width="3"/>'
            )
            text += f" / {required:g}"
        end = label_w + max(value, required or 0.0) * scale
        body.append(f'<text x="{end + 6:.1f}" y="{y + 12}" {_FONT}>{escape(text)}</text>')
    return _svg(width, bottom + 40, title, body)


def stacked_columns(
    title: str,
    dates: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    *,
    x_label: str = "",
    y_label: str = "",
    width: int = 720,
    height: int = 260,
) -> str:
    """``dates``: column labels (``YYYY-MM-DD`` is shown as ``MM-DD``); ``series``: (legend
    name, colour, one count per column), stacked bottom up in the order given."""
    left, top, bottom = 56, _HEAD + 8, height - 44
    plot_h = bottom - top
    totals = [sum(s[2][i] for s in series) for i in range(len(dates))]
    values = ticks(max(totals or [1]), integer=True)
    peak = values[-1] or 1
    step = (width - left - 10) / max(len(dates), 1)
    col_w = max(min(step * 0.7, 60.0), 1.0)
    body = _legend([(name, colour) for name, colour, _ in series], left, 40)
    for v in values:
        y = bottom - plot_h * v / peak
        body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" {_GRID}/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {_SMALL}>{_number(v)}</text>'
        )
    body.append(f'<line x1="{left}" x2="{width - 10}" y1="{bottom}" y2="{bottom}" {_AXIS}/>')
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" {_AXIS}/>')
    body.append(
        f'<text transform="translate(14 {(top + bottom) / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle" {_FONT}>{escape(y_label)}</text>'
    )
    body.append(
        f'<text x="{(left + width) / 2:.0f}" y="{height - 6}" text-anchor="middle" {_FONT}>'
        f"{escape(x_label)}</text>"
    )
    every = max(1, math.ceil(len(dates) / 12))
    for i, date in enumerate(dates):
        x = left + i * step + (step - col_w) / 2
        y = float(bottom)
        for _, colour, counts in series:
            h = plot_h * counts[i] / peak
            if h > 0:
                y -= h
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"/>'
                )
        if i % every == 0:
            shown = date[5:] if len(date) == 10 and date[4] == "-" else date
            body.append(
                f'<text x="{x + col_w / 2:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f"{_SMALL}>{escape(shown)}</text>"
            )
    return _svg(width, height, title, body)

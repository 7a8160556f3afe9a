"""Charts as inline SVG, drawn by code: no plotting library, no external file, no script.

In: small lists of numbers already aggregated by ``comms``/``audit`` (a chart never sees records).
Out: an ``<svg>`` string to place in an HTML report. Text is escaped; sizes are fixed so a
report looks the same in a mail client, a browser and a headless screenshot.

- ``stacked_bars``: one horizontal bar per label, split into parts (reachability by service and
  function: accessible / blocked / other).
- ``against_requirement``: measured value and a requirement mark per label (goodput).
- ``stacked_columns``: one column per date, split by series (findings over time).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = {
    "ok": "#2e7d32",
    "blocked": "#c62828",
    "other": "#9e9e9e",
    "self-blocking": "#c62828",
    "unenforced-block": "#ef6c00",
    "bandwidth-shortfall": "#f9a825",
    "compliant": "#2e7d32",
    "undeclared": "#1565c0",
    "inconclusive": "#9e9e9e",
}
_FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12"'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], x: int, y: int) -> list[str]:
    out = []
    for name, colour in items:
        out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y}" {_FONT}>{escape(name)}</text>')
        x += 28 + 7 * len(name)
    return out


def stacked_bars(
    title: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    parts: Sequence[tuple[str, str]],
    *,
    width: int = 720,
) -> str:
    """``rows``: (label, counts per part); ``parts``: (legend name, colour) in the same order."""
    label_w, bar_h, gap, top = 230, 16, 6, 34
    height = top + len(rows) * (bar_h + gap) + 10
    scale_w = width - label_w - 60
    body = _legend(parts, label_w, 16)
    for i, (label, counts) in enumerate(rows):
        y = top + i * (bar_h + gap)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        total = sum(counts) or 1
        x = float(label_w)
        for count, (_, colour) in zip(counts, parts, strict=True):
            w = scale_w * count / total
            if w > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                )
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 12}" {_FONT}>{sum(counts)}</text>')
    return _svg(width, height, title, body)


def against_requirement(
    title: str, rows: Sequence[tuple[str, float, float | None]], *, width: int = 720
) -> str:
    """``rows``: (label, measured, required or None); a bar per label, a black mark at the need."""
    label_w, bar_h, gap, top = 230, 16, 6, 14
    height = top + len(rows) * (bar_h + gap) + 10
    top_value = max([max(v, r or 0.0) for _, v, r in rows] or [1.0]) or 1.0
    scale = (width - label_w - 70) / top_value
    body: list[str] = []
    for i, (label, value, required) in enumerate(rows):
        y = top + i * (bar_h + gap)
        short = required is not None and value < required
        colour = PALETTE["blocked"] if short else PALETTE["ok"]
        body.append(
            f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{value * scale:.1f}" height="{bar_h}" '
            f'fill="{colour}"/>'
        )
        if required is not None:
            rx = label_w + required * scale
            body.append(
                f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" '
                'stroke="#000" stroke-width="2"/>'
            )
        body.append(
            f'<text x="{label_w + value * scale + 6:.1f}" y="{y + 12}" {_FONT}>{value:.1f}</text>'
        )
    return _svg(width, height, title, body)


def stacked_columns(
    title: str,
    dates: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    *,
    width: int = 720,
    height: int = 220,
) -> str:
    """``series``: (legend name, colour, one count per date)."""
    left, top, bottom = 50, 30, 40
    plot_h = height - top - bottom
    totals = [sum(s[2][i] for s in series) for i in range(len(dates))]
    peak = max(totals or [1]) or 1
    step = (width - left - 10) / max(len(dates), 1)
    col_w = max(step * 0.8, 1.0)
    body = _legend([(name, colour) for name, colour, _ in series], left, 16)
    body.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#444"/>'
    )
    body.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {_FONT}>{peak}</text>')
    for i, date in enumerate(dates):
        x = left + i * step
        y = float(top + plot_h)
        for _, colour, counts in series:
            h = plot_h * counts[i] / peak
            if h > 0:
                y -= h
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"/>'
                )
        if len(dates) <= 12 or i % max(1, len(dates) // 8) == 0:
            body.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" {_FONT}>{escape(date[5:])}</text>'
            )
    return _svg(width, height, title, body)

"""A log-log line chart of time against scale, as standalone SVG (no plotting library).

Used by ``pipeline_bench.py`` for the "time vs scale, per step" image in BENCHMARKS.md. Both
axes are logarithmic, so linear growth is a line of slope 1; a dashed grey guide of slope 1
through the first point of the first series shows where linear growth would put each scale.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#222222", "#b279a2", "#9d755d", "#e45756")


def _ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten and their 2x and 5x between ``lo`` and ``hi``."""
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if lo <= v <= hi:
                out.append(v)
    return out


def _label(v: float) -> str:
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def loglog_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 720,
    height: int = 420,
) -> str:
    """Lines of ``(x, y)`` points per named series on log-log axes, with a legend."""
    points = [p for pts in series.values() for p in pts if p[0] > 0 and p[1] > 0]
    if not points:
        raise ValueError("nothing to plot: every series is empty")
    left, right, top, bottom = 70, 150, 40, 50
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_lo, x_hi = min(xs) / 1.5, max(xs) * 1.5
    y_lo, y_hi = min(ys) / 2, max(ys) * 2

    def px(x: float) -> float:
        return left + (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo)) * (
            width - left - right
        )

    def py(y: float) -> float:
        return (
            height
            - bottom
            - (math.log10(y) - math.log10(y_lo))
            / (math.log10(y_hi) - math.log10(y_lo))
            * (height - top - bottom)
        )

    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="14">{e(title)}</text>',
    ]
    for x in _ticks(x_lo, x_hi):
        out.append(
            f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{height - bottom}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{_label(x)}</text>"
        )
    for y in _ticks(y_lo, y_hi):
        out.append(
            f'<line x1="{left}" y1="{py(y):.1f}" x2="{width - right}" y2="{py(y):.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        )
    out.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" text-anchor="middle">'
        f"{e(x_label)}</text>"
        f'<text x="16" y="{(top + height - bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + height - bottom) / 2:.0f})">{e(y_label)}</text>'
    )
    first = next((pts for pts in series.values() if pts), None)
    if first:
        x0, y0 = sorted(first)[0]
        x1 = x_hi / 1.05
        out.append(
            f'<line x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" '
            f'y2="{py(min(y0 * x1 / x0, y_hi)):.1f}" stroke="#999" stroke-dasharray="4 4">'
            "<title>linear growth from the first point</title></line>"
        )
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = sorted(p for p in pts if p[0] > 0 and p[1] > 0)
        if pts:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            for x, y in pts:
                out.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                    f"<title>{e(name)}: {y:,.1f} at {x:,.0f}</title></circle>"
                )
        ly = top + 10 + i * 20
        out.append(
            f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 36}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - right + 42}" y="{ly + 4}">{e(name)}</text>'
        )
    ly = top + 10 + len(series) * 20
    out.append(
        f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 36}" y2="{ly}" '
        'stroke="#999" stroke-dasharray="4 4"/>'
        f'<text x="{width - right + 42}" y="{ly + 4}">linear</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"

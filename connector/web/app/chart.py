"""Clicks and orders per day as an SVG drawn on the server: no chart library, no CDN, nothing to load.

Clicks are bars on the left scale, orders a line on the right scale (there are far fewer of them). Every
number and date is formatted here; no merchant text goes into the drawing.
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 16, 40
CLICKS, ORDERS, GRID, TEXT = "#91d0ff", "#005bd3", "#e3e3e3", "#616161"


def _nice(value: int) -> int:
    """A round top for a scale, at least `value`: 1, 2, 5, 10, 20, 50, 100, ..."""
    top = 1
    while top < value:
        top = top * 2 if str(top)[0] in "15" else top * 5 // 2
    return max(top, 1)


def draw(days: Sequence[tuple[date, int, int]]) -> str:
    """`days`: (day, clicks, orders), oldest first, one per day of the period."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(days), 1)
    top_clicks = _nice(max((c for _d, c, _o in days), default=0))
    top_orders = _nice(max((o for _d, _c, o in days), default=0))
    slot = plot_w / count
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Clicks and orders per day" preserveAspectRatio="none" class="cnx-chart">',
             "<title>Clicks and orders per day</title>"]
    for step in range(5):  # grid and both scales
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        for top, x, anchor, colour in ((top_clicks, LEFT - 6, "end", TEXT), (top_orders, WIDTH - RIGHT + 6, "start",
                                                                             ORDERS)):
            if top * step % 4 == 0:  # whole numbers only: there is no half an order
                parts.append(f'<text x="{x}" y="{y + 4:.1f}" text-anchor="{anchor}" font-size="12" '
                             f'fill="{colour}">{top * step // 4}</text>')
    points = []
    label_every = max(1, round(count / 6))
    for i, (day, clicks, orders) in enumerate(days):
        x = LEFT + slot * i
        height = plot_h * clicks / top_clicks
        parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{height:.1f}" fill="{CLICKS}"><title>{day:%b %d}: {clicks} clicks, {orders} orders'
                     "</title></rect>")
        points.append(f"{x + slot / 2:.1f},{TOP + plot_h - plot_h * max(orders, 0) / top_orders:.1f}")
        if i % label_every == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                         f'font-size="12" fill="{TEXT}">{day:%b %d}</text>')
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{ORDERS}" stroke-width="2"/>')
    legend_y = HEIGHT - 8
    parts.append(f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{CLICKS}"/>'
                 f'<text x="{LEFT + 14}" y="{legend_y}" font-size="12" fill="{TEXT}">Clicks (left)</text>'
                 f'<line x1="{LEFT + 110}" x2="{LEFT + 124}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{ORDERS}" '
                 f'stroke-width="2"/><text x="{LEFT + 128}" y="{legend_y}" font-size="12" fill="{TEXT}">Orders '
                 "(right)</text>")
    parts.append("</svg>")
    return "".join(parts)

"""Charts drawn on the server as inline SVG: horizontal bar charts and an hour-of-week heat map.

No script and no library: the reports page (hub/web/routes/reports_page.py) prints the SVG into its
HTML, so it renders under the dashboard's CSP (no inline style, no inline script: colours are SVG
presentation attributes, which CSP does not govern, and classes styled by /static/dashboard.css).

Every chart is an `<svg role="img">` named by its `<title>` and `<desc>` (aria-labelledby), and
carries its values as text, so a screen reader and a test read what a person sees. Labels come from
stored names (posts, villages, officers): hostile input. Each one goes through `display_text`
(control and bidi characters out, cut to a length) and is then escaped by `markupsafe.escape`;
numbers are formatted here. Ids are made from the caller's `chart_id`, which must be a fixed slug.

Pure functions: values in, `Markup` out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from hub.web.render import display_text

WIDTH = 640
LABEL_WIDTH = 190  # the left column of a bar chart: the bar's name
VALUE_WIDTH = 70  # the right margin: the value written after the bar
BAR_HEIGHT = 16
BAR_GAP = 3
ROW_GAP = 10
LABEL_CHARS = 26  # longer names are cut (the full name is in the table and the bar's tooltip)
TOOLTIP_CHARS = 120

HEAT_COLOURS = ("#1e2733", "#3b2f1f", "#6b4417", "#a45a16", "#d9731a", "#ff4d4d")
"""Empty cell, then five steps from few to most; a hot hour is red-orange on the dark dashboard."""
SERIES_COLOURS = ("#4c9aff", "#9bc2ff", "#f08c2e", "#ffd29b")

_SLUG = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Series:
    """One measure drawn for every label (e.g. p50 time to acknowledge); None: no value for that label."""

    name: str
    values: Sequence[float | None]


def _text(value: object, limit: int) -> Markup:
    """A stored name as escaped text for an SVG: printable, cut, escaped."""
    return escape(display_text(value, limit))


def _number(value: float) -> str:
    """Coordinates with at most one decimal: short and never `nan` (a bad value draws nothing)."""
    if not math.isfinite(value):
        return "0"
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _check_id(chart_id: str) -> str:
    if not _SLUG.fullmatch(chart_id):
        raise ValueError(f"chart_id must be a fixed slug ([a-z][a-z0-9-]*), not {chart_id!r}")
    return chart_id


def _open(chart_id: str, title: str, description: str, height: float, css: str, width: int = WIDTH) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" data-testid="chart-{chart_id}" '
        f'viewBox="0 0 {width} {_number(height)}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{_text(title, TOOLTIP_CHARS)}</title>',
        f'<desc id="{chart_id}-desc">{_text(description, 400)}</desc>',
    ]


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[float], str] = lambda v: _number(v),
    empty_text: str = "-",
) -> Markup:
    """Horizontal bars: one row per label, one bar per series in it, its value written after the bar.
    All series share one scale (the largest value). A legend names the series when there are several."""
    _check_id(chart_id)
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v) and v > 0]
    top = max(values, default=0.0)
    legend = 22 if len(series) > 1 else 0
    row = len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + ROW_GAP
    height = legend + max(1, len(labels)) * row + 4
    parts = _open(chart_id, title, description, height, "bar-chart")
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    if legend:
        x = LABEL_WIDTH
        for index, item in enumerate(series):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text class="legend" x="{x + 16}" y="14">{_text(item.name, 40)}</text>')
            x += 24 + 8 * min(len(item.name), 40)
    if not labels:
        parts.append(f'<text class="empty" x="{LABEL_WIDTH}" y="{legend + 14}">{_text(empty_text, 80)}</text>')
    for position, label in enumerate(labels):
        y0 = legend + position * row
        middle = y0 + (row - ROW_GAP) / 2
        parts.append(f'<g class="bar-row" data-label="{_text(label, TOOLTIP_CHARS)}">')
        parts.append(f"<title>{_text(label, TOOLTIP_CHARS)}</title>")
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{_number(middle + 4)}" text-anchor="end">'
            f"{_text(label, LABEL_CHARS)}</text>"
        )
        for index, item in enumerate(series):
            value = item.values[position] if position < len(item.values) else None
            y = y0 + index * (BAR_HEIGHT + BAR_GAP)
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            if value is None or not math.isfinite(value):
                parts.append(f'<text class="value" x="{LABEL_WIDTH + 4}" y="{y + BAR_HEIGHT - 3}">-</text>')
                continue
            length = span * value / top if top > 0 and value > 0 else 0.0
            parts.append(
                f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{_number(length)}" height="{BAR_HEIGHT}" '
                f'fill="{colour}"><title>{_text(item.name, 40)}: {escape(value_text(value))}</title></rect>'
            )
            parts.append(
                f'<text class="value" x="{_number(LABEL_WIDTH + length + 4)}" y="{y + BAR_HEIGHT - 3}">'
                f"{escape(value_text(value))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_level(count: int, top: int) -> int:
    """The colour step of a cell: 0 for none, else 1..5 in proportion to the busiest cell."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(5, math.ceil(5 * count / top)))


CELL = 19
HEAT_LEFT = 76  # weekday names
HEAT_TOP = 22  # hour numbers


def heat_map(
    chart_id: str,
    title: str,
    description: str,
    matrix: Sequence[Sequence[int]],
    row_labels: Sequence[str],
    cell_text: Callable[[str, int, int], str],
) -> Markup:
    """The hour-of-week grid: one row per weekday (`row_labels`, Monday first), 24 hour columns.
    Each cell is coloured by its count (`heat_level`), shows the count when there is one, and has a
    tooltip `cell_text(day, hour, count)`. A legend under the grid gives the scale."""
    _check_id(chart_id)
    top = max((c for r in matrix for c in r), default=0)
    height = HEAT_TOP + len(matrix) * CELL + 40
    parts = _open(chart_id, title, description, height, "heat-map", HEAT_LEFT + 24 * CELL + 8)
    for hour in range(24):
        x = HEAT_LEFT + hour * CELL + CELL / 2
        parts.append(f'<text class="hour" x="{_number(x)}" y="{HEAT_TOP - 6}" text-anchor="middle">{hour:02d}</text>')
    for day, counts in enumerate(matrix):
        y = HEAT_TOP + day * CELL
        name = row_labels[day] if day < len(row_labels) else str(day)
        parts.append(
            f'<text class="label" x="{HEAT_LEFT - 6}" y="{y + CELL - 6}" text-anchor="end">{_text(name, 12)}</text>'
        )
        for hour, count in enumerate(counts[:24]):
            level = heat_level(count, top)
            x = HEAT_LEFT + hour * CELL
            parts.append(
                f'<rect class="cell level-{level}" data-day="{day}" data-hour="{hour}" data-count="{count}" '
                f'x="{x + 1}" y="{y + 1}" width="{CELL - 2}" height="{CELL - 2}" fill="{HEAT_COLOURS[level]}">'
                f"<title>{_text(cell_text(name, hour, count), TOOLTIP_CHARS)}</title></rect>"
            )
            if count:
                parts.append(
                    f'<text class="count level-{level}" x="{_number(x + CELL / 2)}" y="{y + CELL - 6}" '
                    f'text-anchor="middle">{count}</text>'
                )
    legend_y = HEAT_TOP + len(matrix) * CELL + 14
    parts.append(f'<text class="legend" x="{HEAT_LEFT - 6}" y="{legend_y + 10}" text-anchor="end">0</text>')
    for level, colour in enumerate(HEAT_COLOURS):
        parts.append(
            f'<rect x="{HEAT_LEFT + level * (CELL + 2)}" y="{legend_y}" width="{CELL}" height="12" fill="{colour}"/>'
        )
    end = HEAT_LEFT + len(HEAT_COLOURS) * (CELL + 2) + 4
    parts.append(f'<text class="legend" x="{end}" y="{legend_y + 10}">{top}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

"""Charts drawn on the server as inline SVG: no JavaScript, no style attributes (the
pages' CSP allows none), colours from the stylesheet's classes. Each chart is a picture
of a table the page shows beside it, so a screen reader reads the table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

SCALE = 4  # scores run from 1 to 4
GAP_AT = 2  # a score of 2 or less is a gap
LABEL_WIDTH = 230
BAR_WIDTH = 360
BAR_HEIGHT = 14
ROW_HEIGHT = 48
TOP = 34


def competence_chart(
    competences: Sequence[tuple[str, str]],
    scores: Mapping[str, Mapping[str, int]],
    gaps: Sequence[str],
    assessors: Sequence[tuple[str, str]],
    title: str,
    gap_label: str,
) -> Markup:
    """Bars of each assessor's score (1-4) per competence, side by side, with the gap
    threshold drawn and the competences the API counts as gaps marked.

    `competences` and `assessors`: (code, label shown) pairs, in the order drawn;
    `scores`: assessor → competence → score, as the case's `scores`."""
    width = LABEL_WIDTH + BAR_WIDTH + 70
    height = TOP + ROW_HEIGHT * len(competences) + 44
    unit = BAR_WIDTH / SCALE
    parts: list[str] = [
        f'<svg class="chart competence-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        f'focusable="false">',
        f"<title>{escape(title)}</title>",
    ]
    # The legend: one swatch per assessor; the gap marking under the scale.
    x = LABEL_WIDTH
    for index, (_code, label) in enumerate(assessors):
        parts.append(
            f'<rect class="chart-bar chart-bar--{index}" x="{x}" y="4" width="14" height="14"/>'
            f'<text class="chart-text" x="{x + 20}" y="16">{escape(label)}</text>'
        )
        x += 40 + 8 * len(label)
    # The scale: a line per score, the gap threshold dashed.
    bottom = TOP + ROW_HEIGHT * len(competences)
    for step in range(SCALE + 1):
        gx = LABEL_WIDTH + step * unit
        kind = "chart-threshold" if step == GAP_AT else "chart-grid"
        parts.append(f'<line class="{kind}" x1="{gx:g}" y1="{TOP - 4}" x2="{gx:g}" y2="{bottom}"/>')
        if step:
            parts.append(
                f'<text class="chart-text chart-axis" x="{gx:g}" y="{bottom + 16}" '
                f'text-anchor="middle">{step}</text>'
            )
    parts.append(
        f'<text class="chart-text chart-gap-text" x="0" y="{bottom + 36}">'
        f"⚠ {escape(gap_label)}</text>"
    )
    for row, (code, label) in enumerate(competences):
        y = TOP + row * ROW_HEIGHT
        gap = code in gaps
        marker = "⚠ " if gap else ""
        parts.append(
            f'<text class="chart-text{" chart-gap-text" if gap else ""}" x="0" '
            f'y="{y + ROW_HEIGHT / 2 + 4:g}">{marker}{escape(label)}</text>'
        )
        for index, (assessor, _label) in enumerate(assessors):
            score = scores.get(assessor, {}).get(code)
            by = y + 6 + index * (BAR_HEIGHT + 4)
            if score is None:
                continue
            bar = max(0, min(score, SCALE)) * unit
            low = " chart-bar--gap" if score <= GAP_AT else ""
            parts.append(
                f'<rect class="chart-bar chart-bar--{index}{low}" '
                f'x="{LABEL_WIDTH}" y="{by}" width="{bar:g}" height="{BAR_HEIGHT}"/>'
                f'<text class="chart-text chart-value" x="{LABEL_WIDTH + bar + 6:g}" '
                f'y="{by + BAR_HEIGHT - 2}">{score}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


# -- the team lead's dashboard: bars, one row per label ------------------------------------------
# Each row's label stands above its bars, so a chart stays narrow enough to be read on a
# phone's screen as well as on a wide one (it is scaled to the page's width).
BARS_LEFT = 0
BARS_WIDTH = 370
BARS_VALUE_WIDTH = 70
BARS_THICKNESS = 16
LABEL_LINE = 18
LEGEND_ROW = 22
MAX_LABEL = 56
# The stylesheet has this many series colours (chart-series--0 …); more series repeat them.
SERIES_COLOURS = 8


def short(label: str, most: int = MAX_LABEL) -> str:
    """A label cut to fit over its bar (the table under the chart has it whole)."""
    return label if len(label) <= most else label[: most - 1].rstrip() + "…"


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[float | int | None]],
    *,
    stacked: bool = False,
    number: Callable[[float | int], str] = str,
    marked: int | None = None,
    note: str | None = None,
    most: float | None = None,
) -> Markup:
    """Horizontal bars, a row per label: one bar per series side by side, or the series
    stacked into one bar with its total at its end. `values[row][series]`; a missing
    value (None) draws nothing. `marked`: a row drawn in the marking colour (e.g. the
    bucket that holds the median); `note`: a line under the bars (e.g. the median);
    `most`: the value of a full bar (e.g. 100 for percentages; default the largest).

    Every number drawn is also in the page's table of the same figures; labels and
    series names are escaped (a partner's name is free text)."""
    legend = len(series) > 1
    per_row = 1 if stacked or len(series) <= 1 else len(series)
    row_height = LABEL_LINE + per_row * (BARS_THICKNESS + 4) + 8
    legend_rows = _legend_rows(series) if legend else []
    top = 8 + LEGEND_ROW * len(legend_rows)
    bottom = top + row_height * len(labels)
    width = BARS_LEFT + BARS_WIDTH + BARS_VALUE_WIDTH
    height = bottom + (30 if note else 8)
    totals = [
        sum(v or 0 for v in row) if stacked else max([v or 0 for v in row] or [0]) for row in values
    ]
    scale = BARS_WIDTH / (most or max(totals or [0]) or 1)
    parts: list[str] = [
        f'<svg class="chart bar-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        f'focusable="false">',
        f"<title>{escape(title)}</title>",
    ]
    for line, entries in enumerate(legend_rows):
        x = BARS_LEFT
        for index, name in entries:
            y = 6 + line * LEGEND_ROW
            parts.append(
                f'<rect class="chart-series chart-series--{index % SERIES_COLOURS}" x="{x}" '
                f'y="{y}" width="12" height="12"/>'
                f'<text class="chart-text" x="{x + 17}" y="{y + 11}">{escape(short(name))}</text>'
            )
            x += _legend_width(name)
    parts.append(
        f'<line class="chart-grid" x1="{BARS_LEFT}" y1="{top - 2}" x2="{BARS_LEFT}" y2="{bottom}"/>'
    )
    for row, label in enumerate(labels):
        y = top + row * row_height
        parts.append(
            f'<text class="chart-text chart-label" x="{BARS_LEFT + 4}" y="{y + LABEL_LINE - 4}">'
            f"{escape(short(label))}</text>"
        )
        y += LABEL_LINE
        at = float(BARS_LEFT)
        for index, value in enumerate(values[row]):
            if value is None:
                continue
            length = max(0.0, float(value)) * scale
            kind = f"chart-series--{index % SERIES_COLOURS}"
            if marked == row:
                kind += " chart-series--marked"
            by = y if stacked or per_row == 1 else y + index * (BARS_THICKNESS + 4)
            bx = at if stacked else BARS_LEFT
            parts.append(
                f'<rect class="chart-series {kind}" x="{bx:g}" y="{by}" '
                f'width="{length:g}" height="{BARS_THICKNESS}"/>'
            )
            if stacked:
                at += length
            else:
                parts.append(
                    f'<text class="chart-text chart-value" x="{BARS_LEFT + length + 6:g}" '
                    f'y="{by + BARS_THICKNESS - 3}">{escape(number(value))}</text>'
                )
        if stacked:
            parts.append(
                f'<text class="chart-text chart-value" x="{at + 6:g}" '
                f'y="{y + BARS_THICKNESS - 3}">{escape(number(totals[row]))}</text>'
            )
    if note:
        parts.append(
            f'<text class="chart-text chart-note" x="{BARS_LEFT + 4}" y="{bottom + 22}">'
            f"{escape(note)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend_width(name: str) -> int:
    return 30 + 11 * len(short(name))


def _legend_rows(series: Sequence[str]) -> list[list[tuple[int, str]]]:
    """The legend's entries, wrapped into lines that fit over the bars."""
    room = BARS_LEFT + BARS_WIDTH + BARS_VALUE_WIDTH
    lines: list[list[tuple[int, str]]] = [[]]
    used = 0
    for index, name in enumerate(series):
        wide = _legend_width(name)
        if lines[-1] and used + wide > room:
            lines.append([])
            used = 0
        lines[-1].append((index, name))
        used += wide
    return lines

"""Charts drawn on the server as inline SVG: no JavaScript, no style attributes (the
pages' CSP allows none), colours from the stylesheet's classes. Each chart is a picture
of a table the page shows beside it, so a screen reader reads the table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

"""The team lead's dashboard on its own: the bar charts (inline SVG drawn on the server),
the figures built from the three reports (the chart, the table and the CSV of a figure
tell the same numbers), empty and missing figures, names escaped, the period form, and
a CSV that a spreadsheet cannot be tricked into running."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from services.console.charts import BARS_LEFT, BARS_WIDTH, bars
from services.console.dashboard import (
    Figure,
    caseload_figures,
    network_figures,
    outcome_figures,
    period_of,
    safe_cell,
    summary_figure,
    today,
)
from services.console.i18n import Localised

SVG = "{http://www.w3.org/2000/svg}"
EN = Localised("en")

OUTCOMES_REPORT = {
    "from": "2026-01-01T00:00:00Z",
    "to": "2026-04-01T00:00:00Z",
    "followups_with_outcome": 5,
    "outcomes": {"employed": 3, "education": 1, "none": 1},
    "median_days_acceptance_to_outcome": 45.0,
    "share_with_bottleneck": 0.4,
    "feedback": {
        "count": 2,
        "satisfaction_average": 4.5,
        "self_knowledge_improved_share": 0.5,
        "confidence_improved_share": 1.0,
    },
    "by_month": [
        {"month": "2026-01", "outcomes": {"employed": 2}},
        {"month": "2026-02", "outcomes": {}},
        {"month": "2026-03", "outcomes": {"employed": 1, "education": 1, "none": 1}},
    ],
    "days_to_outcome": [
        {"from_days": 0, "to_days": 30, "count": 1},
        {"from_days": 30, "to_days": 60, "count": 3},
        {"from_days": 60, "to_days": 90, "count": 0},
        {"from_days": 90, "to_days": 180, "count": 1},
        {"from_days": 180, "to_days": None, "count": 0},
    ],
    "bottlenecks": {"unreachable": 2, "action_overdue": 1},
}


def svg(markup: object) -> ET.Element:
    return ET.fromstring(str(markup))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def rects(root: ET.Element, series: int | None = None) -> list[ET.Element]:
    """The bars (not the legend's swatches, which are 12 wide and high)."""
    found = [r for r in root.iter(f"{SVG}rect") if r.get("height") != "12"]
    if series is not None:
        found = [r for r in found if f"chart-series--{series}" in (r.get("class") or "").split()]
    return found


def figure(figures: list[Figure], name: str) -> Figure:
    return next(f for f in figures if f.name == name)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# -- the chart ---------------------------------------------------------------------------------
def test_bars_draw_each_value_to_scale_with_its_number_and_label() -> None:
    root = svg(bars("Referrals", ["A", "B", "C"], ["Referrals"], [[4], [2], [0]]))
    assert root.get("role") == "img" and root.get("aria-label") == "Referrals"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text == "Referrals"  # type: ignore[union-attr]
    widths = [float(r.get("width", 0)) for r in rects(root)]
    assert widths == [BARS_WIDTH, BARS_WIDTH / 2, 0]  # the largest fills the width
    assert all(float(r.get("x", 0)) == BARS_LEFT for r in rects(root))
    assert [t for t in texts(root) if t in "ABC"] == ["A", "B", "C"]
    assert [t for t in texts(root) if t.isdigit()] == ["4", "2", "0"]
    # No style attribute anywhere (the CSP forbids them): colours come from classes.
    assert "style=" not in str(bars("x", ["A"], ["s"], [[1]]))


def test_stacked_bars_put_the_series_end_to_end_with_the_total_at_the_end() -> None:
    root = svg(bars("Cases", ["c.jansen"], ["intake", "aftercare"], [[3, 1]], stacked=True))
    first, second = rects(root, 0)[0], rects(root, 1)[0]
    assert float(first.get("width", 0)) == pytest.approx(BARS_WIDTH * 3 / 4)
    assert float(second.get("x", 0)) == pytest.approx(BARS_LEFT + BARS_WIDTH * 3 / 4)
    assert "4" in texts(root)  # the total
    assert {"intake", "aftercare"} <= set(texts(root))  # the legend


def test_a_marked_row_and_a_note() -> None:
    root = svg(bars("Days", ["0-30", "30-60"], ["n"], [[1], [2]], marked=1, note="Median: 45"))
    marked = [r for r in rects(root) if "chart-series--marked" in (r.get("class") or "")]
    assert len(marked) == 1 and float(marked[0].get("width", 0)) == BARS_WIDTH
    assert "Median: 45" in texts(root)


def test_names_are_escaped_and_shortened_in_the_chart() -> None:
    name = '<script>alert("x")</script> & Partners with a very long name indeed'
    markup = str(bars(f"Network {name}", [name], ["Referrals"], [[1]]))
    assert "<script>" not in markup
    root = svg(markup)  # well-formed
    drawn = [t for t in texts(root) if t.startswith("<script>")]
    assert drawn and drawn[0].endswith("…") and len(drawn[0]) <= 56
    assert root.get("aria-label") == f"Network {name}"


# -- the figures -------------------------------------------------------------------------------
def test_outcome_figures_tell_the_reports_numbers_in_table_chart_and_csv() -> None:
    figures = outcome_figures(OUTCOMES_REPORT, EN)
    by_kind = figure(figures, "outcomes")
    assert by_kind.rows == [["employed", 3], ["in education", 1], ["no outcome", 1]]
    assert [t for t in texts(svg(by_kind.chart)) if t.isdigit()] == ["3", "1", "1"]
    assert rows_of(by_kind.csv()) == [
        ["Outcome", "Follow-ups"],
        ["employed", "3"],
        ["in education", "1"],
        ["no outcome", "1"],
    ]

    by_month = figure(figures, "outcomes-by-month")
    assert by_month.columns == ["Month", "employed", "in education", "no outcome", "Total"]
    # A month without outcomes is a row of noughts: the months follow on.
    assert by_month.rows == [
        ["Jan 2026", 2, 0, 0, 2],
        ["Feb 2026", 0, 0, 0, 0],
        ["Mar 2026", 1, 1, 1, 3],
    ]
    assert [t for t in texts(svg(by_month.chart)) if t.isdigit()] == ["2", "0", "3"]

    days = figure(figures, "days-to-outcome")
    assert [r[1] for r in days.rows] == [1, 3, 0, 1, 0]
    assert days.rows[0][0] == "0 to 30 days" and days.rows[-1][0] == "180 days or more"
    assert days.notes == ["Median: 45 days"]
    chart = svg(days.chart)
    marked = [r for r in rects(chart) if "chart-series--marked" in (r.get("class") or "")]
    assert len(marked) == 1 and float(marked[0].get("width", 0)) == BARS_WIDTH  # 30-60: 3
    assert "Median: 45 days" in texts(chart)

    stuck = figure(figures, "bottlenecks")
    assert stuck.rows == [
        ["the client could not be reached three times in a row", 2],
        ["an action is overdue", 1],
    ]
    assert stuck.notes == ["40 % of the follow-ups with an outcome in this period had one."]

    feedback = figure(figures, "feedback")
    assert feedback.rows == [[2, 4.5, 50.0, 100.0]]
    assert rows_of(feedback.csv())[1] == ["2", "4.5", "50.0", "100.0"]


def test_figures_in_another_language_and_locale() -> None:
    nl = outcome_figures(OUTCOMES_REPORT, Localised("nl"))
    assert figure(nl, "outcomes").columns[0] != "Outcome"
    assert figure(nl, "days-to-outcome").notes[0] != "Median: 45 days"


def test_empty_figures_say_so_instead_of_drawing() -> None:
    empty = {
        "outcomes": {},
        "median_days_acceptance_to_outcome": None,
        "share_with_bottleneck": None,
        "feedback": {"count": 0},
        "by_month": [],
        "days_to_outcome": [{"from_days": 0, "to_days": 30, "count": 0}],
        "bottlenecks": {},
    }
    for f in outcome_figures(empty, EN):
        assert f.chart is None and not f.rows and f.missing is None, f.name
        assert f.empty, f.name
    assert figure(outcome_figures(empty, EN), "outcomes").empty == "No outcomes in this period."
    assert figure(outcome_figures(empty, EN), "feedback").empty == "No feedback in this period."
    (load, hours) = caseload_figures({"counsellors": []}, EN)
    assert load.empty == "No open cases." and hours.empty and load.chart is None
    network, times = network_figures({"partners": []}, EN)
    assert network.empty == "No referrals in this period." and network.chart is None
    assert times.empty and times.chart is None
    # Only a header row in the CSV of an empty figure.
    assert rows_of(network.csv()) == [network.columns]


def test_a_service_that_does_not_answer_leaves_a_notice_for_its_figures_only() -> None:
    for f in outcome_figures(None, EN):
        assert f.missing and "follow-up" in f.missing and f.chart is None
    assert all(f.missing for f in caseload_figures(None, EN))
    assert all(f.missing for f in network_figures(None, EN))
    # A report of an older follow-up without the newer parts: those figures have a notice,
    # the rest shows.
    older = {k: v for k, v in OUTCOMES_REPORT.items() if k not in ("by_month", "bottlenecks")}
    figures = outcome_figures(older, EN)
    assert figure(figures, "outcomes-by-month").missing
    assert figure(figures, "bottlenecks").missing
    assert figure(figures, "outcomes").rows and not figure(figures, "outcomes").missing


def test_caseload_and_hours_per_counsellor() -> None:
    report = {
        "counsellors": [
            {
                "counsellor": "c.jansen",
                "open_cases": 3,
                "cases_by_phase": {"intake": 2, "aftercare": 1},
                "cases_opened": 2,
                "cases_closed": 1,
                "hours_budget": 20,
                "hours_used": 7.5,
                "sessions": 5,
            },
            {
                "counsellor": "a.smit",
                "open_cases": 0,
                "cases_by_phase": {},
                "cases_opened": 0,
                "hours_budget": 0,
                "hours_used": 0,
                "sessions": 0,
            },
        ]
    }
    load, hours = caseload_figures(report, EN)
    assert load.columns == [
        "Counsellor",
        "intake",
        "aftercare",
        "Open cases",
        "Cases opened in this period",
        "Cases ended in this period",
    ]
    assert load.rows == [["c.jansen", 2, 1, 3, 2, 1]]  # nothing open nor opened: no row
    assert "3" in texts(svg(load.chart))
    assert hours.rows == [["c.jansen", 7.5, 20.0, 5]]
    assert {"7.5", "20"} <= set(texts(svg(hours.chart)))


def test_network_per_partner_with_rates_and_hours() -> None:
    report = {
        "partners": [
            {
                "partner_id": "p1",
                "name": '=HYPERLINK("http://evil")',
                "referrals": 4,
                "acknowledged": 4,
                "answered": 3,
                "accepted": 2,
                "declined": 1,
                "withdrawn": 0,
                "overdue": 1,
                "acceptance_rate": 0.6667,
                "median_hours_to_acknowledgement": 2.25,
                "median_hours_to_answer": 30.0,
                "outcomes": {"completed": 1, "no_show": 1},
            },
            {
                "partner_id": "p2",
                "name": "<b>Bold</b> & co",
                "referrals": 1,
                "accepted": 0,
                "declined": 0,
                "overdue": 0,
                "acceptance_rate": None,
                "median_hours_to_acknowledgement": None,
                "median_hours_to_answer": None,
                "outcomes": {},
            },
        ]
    }
    network, _ = network_figures(report, EN)
    assert network.rows[0] == [
        '=HYPERLINK("http://evil")',
        4,
        2,
        1,
        1,
        66.7,
        2.2,
        30.0,
        "completed: 1; the client did not show up: 1",
    ]
    assert network.rows[1][5:8] == [None, None, None]
    markup = str(network.chart)
    assert "<b>" not in markup and "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in markup
    lines = rows_of(network.csv())
    assert lines[1][0] == '\'=HYPERLINK("http://evil")'  # not a formula any more
    assert lines[1][1:8] == ["4", "2", "1", "1", "66.7", "2.2", "30.0"]
    assert lines[2][5:8] == ["", "", ""]
    # The answering times: a partner without any has no row.
    (_, times) = network_figures(report, EN)
    assert times.columns == ["Partner", "Median hours to acknowledge", "Median hours to answer"]
    assert times.rows == [['=HYPERLINK("http://evil")', 2.2, 30.0]]
    assert {"2.2", "30"} <= set(texts(svg(times.chart)))


def test_the_summary_adds_up_the_reports() -> None:
    caseload = {
        "counsellors": [
            {"counsellor": "a", "open_cases": 4, "hours_used": 1.5},
            {"counsellor": "b", "open_cases": 6, "hours_used": 2.25},
        ]
    }
    network = {
        "partners": [
            {"name": "P", "referrals": 5, "accepted": 3, "answered": 4},
            {"name": "Q", "referrals": 2, "accepted": 0, "answered": 1},
        ]
    }
    summary = summary_figure(
        {"followup": OUTCOMES_REPORT, "intake": caseload, "referral": network}, EN
    )
    assert summary.missing is None
    assert summary.rows == [
        ["Follow-ups with an outcome", 5],
        ["Median days from acceptance to outcome", 45.0],
        ["Follow-ups with a bottleneck (%)", 40.0],
        ["Open cases", 10],
        ["Hours of guidance held", 3.8],
        ["Referrals sent", 7],
        ["Referrals accepted (%)", 60.0],  # 3 of the 5 answered
    ]
    assert rows_of(summary.csv())[0] == ["Figure", "Value"]
    # A report that did not answer leaves its totals out; none at all: a notice.
    only = summary_figure({"followup": None, "intake": caseload, "referral": None}, EN)
    assert [r[0] for r in only.rows] == ["Open cases", "Hours of guidance held"]
    none = summary_figure({"followup": None, "intake": None, "referral": None}, EN)
    assert none.rows == [] and none.missing
    # No answered referral: no rate, not a division by zero.
    idle = summary_figure({"referral": {"partners": [{"referrals": 1, "answered": 0}]}}, EN)
    assert idle.rows == [["Referrals sent", 1], ["Referrals accepted (%)", None]]


@pytest.mark.parametrize("given", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_injection_is_defused(given: str) -> None:
    assert safe_cell(given) == "'" + given
    f = Figure("x", "x", columns=["Partner"], rows=[[given]])
    assert rows_of(f.csv())[1][0].startswith("'")


def test_harmless_cells_are_kept() -> None:
    assert safe_cell("Leerwerkplaats") == "Leerwerkplaats"
    assert safe_cell(-3) == -3  # a number is no formula
    assert safe_cell(None) == ""


# -- the period --------------------------------------------------------------------------------
def test_the_period_defaults_to_the_last_90_days() -> None:
    period, values, errors = period_of(None, None, EN)
    assert not errors
    assert period.last == today() and period.first == today() - timedelta(days=90)
    assert values == {"from": period.first.isoformat(), "to": period.last.isoformat()}
    assert period.query() == f"from={period.first.isoformat()}&to={period.last.isoformat()}"


def test_the_period_as_given() -> None:
    period, _, errors = period_of("2026-01-01", "2026-03-31", EN)
    assert not errors and (period.first, period.last) == (date(2026, 1, 1), date(2026, 3, 31))
    period, _, errors = period_of(None, "2026-03-31", EN)
    assert period.first == date(2026, 3, 31) - timedelta(days=90)


@pytest.mark.parametrize(
    ("first", "last", "where"),
    [
        ("yesterday", None, "period-from"),
        ("2026-02-30", None, "period-from"),
        (None, "2026-13-01", "period-to"),
        ("1066-10-14", None, "period-from"),
        ("2026-03-01", "2026-02-01", "period-to"),
        ("2026-03-01T00:00", None, "period-from"),
    ],
)
def test_a_bad_period_is_named_at_its_field(
    first: str | None, last: str | None, where: str
) -> None:
    _, values, errors = period_of(first, last, EN)
    assert list(errors.fields) == [where]
    # The input is kept as given.
    if first:
        assert values["from"] == first

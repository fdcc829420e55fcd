"""The case page's competence chart (inline SVG drawn on the server), the plan versions'
diff, and a goal's SMART refusal placed at the goal form's controls, on their own."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from services.console.api import ApiError, form_errors
from services.console.charts import BAR_WIDTH, LABEL_WIDTH, competence_chart
from services.console.diff import plan_diff
from services.console.i18n import Localised
from services.console.planner import GOAL_FIELDS, SMART_AT

SVG = "{http://www.w3.org/2000/svg}"
COMPETENCES = [
    ("quality_reflection", "Qualities"),
    ("motive_reflection", "Motives"),
    ("work_exploration", "Work"),
    ("career_steering", "Steering"),
    ("networking", "Networking"),
]
ASSESSORS = [("client", "Client"), ("counsellor", "Counsellor")]


def chart(scores: dict[str, dict[str, int]], gaps: list[str], **labels: str) -> ET.Element:
    svg = competence_chart(
        COMPETENCES,
        scores,
        gaps,
        ASSESSORS,
        title=labels.get("title", "Competences"),
        gap_label=labels.get("gap", "gap"),
    )
    return ET.fromstring(str(svg))


def bars(root: ET.Element) -> list[ET.Element]:
    """The score bars (the legend's swatches sit above the first row)."""
    return [r for r in root.iter(f"{SVG}rect") if float(r.get("y", 0)) > 30]


def test_the_chart_draws_one_bar_per_score_its_length_the_score() -> None:
    scores = {
        "client": dict(zip([c for c, _ in COMPETENCES], [3, 4, 2, 1, 3], strict=True)),
        "counsellor": dict(zip([c for c, _ in COMPETENCES], [3, 3, 3, 2, 2], strict=True)),
    }
    root = chart(scores, ["work_exploration", "career_steering", "networking"])
    drawn = bars(root)
    assert len(drawn) == 10
    unit = BAR_WIDTH / 4
    widths = [float(b.get("width", 0)) for b in drawn]
    assert widths == [
        s * unit for pair in zip([3, 4, 2, 1, 3], [3, 3, 3, 2, 2], strict=True) for s in pair
    ]
    assert all(float(b.get("x", 0)) == LABEL_WIDTH for b in drawn)
    # The client's bars in one class, the counsellor's in the other; 2 or less: a gap bar.
    assert [b.get("class", "").split()[1] for b in drawn[:2]] == ["chart-bar--0", "chart-bar--1"]
    low = [b for b in drawn if "chart-bar--gap" in b.get("class", "")]
    assert len(low) == 4


def test_the_chart_marks_the_gaps_the_api_names_and_draws_the_threshold() -> None:
    root = chart({"client": {"networking": 1}}, ["networking"], gap="gap: 2 or less")
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "⚠ Networking" in texts
    assert "Qualities" in texts  # no gap: no marker
    assert "⚠ gap: 2 or less" in texts
    threshold = [x for x in root.iter(f"{SVG}line") if x.get("class") == "chart-threshold"]
    assert len(threshold) == 1
    assert float(threshold[0].get("x1", 0)) == LABEL_WIDTH + 2 * BAR_WIDTH / 4


def test_the_chart_is_an_image_with_a_title_and_draws_no_bar_for_a_missing_view() -> None:
    root = chart({"counsellor": {"networking": 4}}, [], title="Both views")
    assert root.get("role") == "img" and root.get("aria-label") == "Both views"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "Both views"
    assert len(bars(root)) == 1


def test_the_chart_escapes_its_labels_and_uses_no_style_attribute() -> None:
    svg = str(
        competence_chart(
            [("networking", "<script>x</script> & co")],
            {"client": {"networking": 2}},
            [],
            ASSESSORS,
            title='a "title"',
            gap_label="gap",
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="a &#34;title&#34;"' in svg
    assert not re.search(r"\sstyle=", svg)  # the pages' CSP allows no inline style
    ET.fromstring(svg)  # well-formed


def goal(goal_id: str, title: str, **more: object) -> dict[str, object]:
    base = {
        "goal_id": goal_id,
        "title": title,
        "specific": "Send three applications",
        "measure": "3 applications",
        "target_date": "2027-03-01",
        "competences": ["networking"],
        "priority": 1,
        "actions": [],
    }
    return {**base, **more}


def action(action_id: str, description: str, **more: object) -> dict[str, object]:
    return {
        "action_id": action_id,
        "description": description,
        "owner": "client",
        "due_date": "2027-01-10",
        "status": "open",
        **more,
    }


def test_two_equal_versions_have_no_changes() -> None:
    content = {"plan_type": "action", "goals": [goal("g1", "Job", actions=[action("a1", "CV")])]}
    assert plan_diff(content, content) == []


def test_the_diff_names_goals_and_actions_added_removed_and_changed_field_by_field() -> None:
    old = {
        "plan_type": "action",
        "goals": [
            goal("g1", "Job", actions=[action("a1", "CV"), action("a2", "Call Anna")]),
            goal("g2", "Course", priority=2),
        ],
    }
    new = {
        "plan_type": "combined",
        "goals": [
            goal(
                "g1",
                "Job",
                measure="4 applications",
                competences=["networking", "career_steering"],
                actions=[action("a1", "CV", status="completed"), action("a3", "Fair")],
            ),
            goal("g3", "Network", priority=2),
        ],
    }
    changes = plan_diff(old, new)
    summary = [(c.kind, c.what, c.label) for c in changes]
    assert summary == [
        ("changed", "plan_type", "combined"),
        ("changed", "goal", "Job"),
        ("added", "goal", "Network"),
        ("removed", "goal", "Course"),
        ("changed", "action", "CV"),
        ("added", "action", "Fair"),
        ("removed", "action", "Call Anna"),
    ]
    job = changes[1]
    assert [(f.name, f.old, f.new) for f in job.fields] == [
        ("measure", "3 applications", "4 applications"),
        ("competences", ["networking"], ["networking", "career_steering"]),
    ]
    cv = changes[4]
    assert cv.goal == "Job"
    assert [(f.name, f.old, f.new) for f in cv.fields] == [("status", "open", "completed")]


def test_the_diff_names_the_question_insights_decisions_and_support_needs() -> None:
    # A version agreed before the plan had these parts has none of them: no change.
    before = {"plan_type": "action", "goals": []}
    empty = {
        **before,
        "career_question": None,
        "insights": [],
        "decisions": [],
        "support_needs": None,
    }
    assert plan_diff(before, empty) == []
    old = {
        **empty,
        "career_question": "What next?",
        "insights": [{"insight_id": "i1", "text": "Old thought"}],
        "support_needs": {"kinds": ["language"], "notes": None},
    }
    new = {
        **empty,
        "career_question": "Which care work?",
        "insights": [{"insight_id": "i2", "text": "New thought"}],
        "decisions": [{"decision_id": "d1", "kind": "choice", "text": "Care", "reasons": "R"}],
        "support_needs": {"kinds": ["childcare", "language"], "notes": "Wednesdays"},
    }
    changes = plan_diff(old, new)
    assert [(c.kind, c.what, c.label) for c in changes] == [
        ("changed", "career_question", "Which care work?"),
        ("added", "insight", "New thought"),
        ("removed", "insight", "Old thought"),
        ("added", "decision", "Care"),
        ("changed", "support_needs", ""),
    ]
    assert [(f.name, f.old, f.new) for f in changes[-1].fields] == [
        ("kinds", ["language"], ["childcare", "language"]),
        ("notes", None, "Wednesdays"),
    ]


def test_competences_in_another_order_are_no_change() -> None:
    old = {"plan_type": "action", "goals": [goal("g1", "Job", competences=["a", "b"])]}
    new = {"plan_type": "action", "goals": [goal("g1", "Job", competences=["b", "a"])]}
    assert plan_diff(old, new) == []


def test_a_goal_refused_as_not_smart_puts_each_criterion_at_the_control_it_judges() -> None:
    problem = {
        "type": "https://waypoint.example/problems/not-smart",
        "status": 422,
        "errors": [
            {"field": "measurable", "message": "Name an observable result."},
            {"field": "achievable", "message": "Less than 7 days."},
            {"field": "time_bound", "message": "Beyond the horizon."},
            {"field": "relevant", "message": "Link a competence."},
        ],
    }
    errors = form_errors(
        ApiError(422, problem), Localised("fr"), GOAL_FIELDS, SMART_AT, prefix="goal-"
    )
    assert list(errors.fields) == ["goal-measure", "goal-target_date", "goal-competences"]
    assert len(errors.fields["goal-target_date"]) == 2  # achievable and time-bound
    assert errors.fields["goal-competences"] == [
        "Reliez l'objectif à au moins une compétence de carrière."
    ]
    assert errors.named == {"measurable", "achievable", "time_bound", "relevant"}
    assert errors.summary == [
        "L'objectif n'est pas encore SMART : voyez chaque critère ci-dessous."
    ]

"""EVC: a standard's CSV file read, and a plan's portfolio compared with a standard item
by item (evidence linked to items, the counsellor's judgement per item, the gaps turned
into training needs of the competence analysis)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.planning.domain import Plan, PlanningError
from services.planning.evc import StandardFileError, read_file, read_standards

DATA = Path(__file__).parents[1] / "data" / "evc"
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SKILL = "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000002"
HEADER = "standard,standard_title,item,title,description,esco_uris\n"


def test_a_standard_file_is_read_with_its_items_in_order() -> None:
    [standard] = read_file(DATA / "care_assistant.csv")
    assert (standard.standard_id, standard.title) == ("mbo2-care", "MBO 2 care assistant")
    assert [i.item_id for i in standard.items] == ["B1-K1-W1", "B1-K1-W2", "B1-K1-W3"]
    assert standard.items[0].description == "Washing and dressing."
    assert standard.items[1].esco_uris == (SKILL,)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a,b\n1,2\n", 1, "no column standard"),
        (HEADER + "bad code!,T,I1,Item,,\n", 2, "standard 'bad code!'"),
        (HEADER + "s,T,I1,Item,,\ns,T,I1,Again,,\n", 3, "twice"),
        (HEADER + "s,T,I1,Item,,http://data.europa.eu/esco/occupation/1b2c3d4e-5f60\n", 2, "skill"),
        (HEADER + "s,T,I1,,,\n", 2, "not empty"),
        (HEADER + "s,T,I1,Item,,\ns,Other,I2,Item,,\n", 3, "another title"),
    ],
    ids=["header", "code", "twice", "occupation", "empty-title", "two-titles"],
)
def test_a_bad_standard_file_names_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(StandardFileError) as error:
        read_standards(text.splitlines(keepends=True))
    assert error.value.line == line
    assert words in str(error.value)


def test_a_file_without_items_is_refused() -> None:
    with pytest.raises(StandardFileError, match="no item"):
        read_standards([HEADER])


# -- the portfolio against a standard --------------------------------------------------------
ITEMS = [
    {"item_id": "W1", "title": "Personal care", "esco_uris": []},
    {"item_id": "W2", "title": "First aid", "esco_uris": [SKILL]},
    {"item_id": "W3", "title": "Reporting", "esco_uris": []},
]


def a_plan_with_evidence() -> tuple[Plan, uuid.UUID]:
    plan = Plan.create(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-a",
        gaps=[],
        scores={},
        actor="intake",
        at=NOW,
    )
    evidence_id = uuid.uuid4()
    plan.add_evidence(
        evidence_id=evidence_id,
        title="Work reference",
        kind="reference",
        description=None,
        dated=date(2024, 1, 1),
        document_hash=None,
        actor="c1",
        at=NOW,
    )
    plan.collect_events()
    return plan, evidence_id


def test_the_comparison_shows_per_item_its_judgement_and_evidence() -> None:
    plan, evidence_id = a_plan_with_evidence()
    plan.choose_portfolio_standard(
        standard_id="mbo2-care", title="MBO 2 care", items=ITEMS, actor="c1", at=NOW
    )
    plan.link_evidence(
        evidence_id=evidence_id, items=["W1", "W2"], esco_uris=[SKILL], actor="c1", at=NOW
    )
    plan.judge_portfolio_item(item_id="W1", judgement="proven", comment=None, actor="c1", at=NOW)
    plan.judge_portfolio_item(
        item_id="W2", judgement="partly", comment="No certificate.", actor="c1", at=NOW
    )
    events = plan.collect_events()
    assert [type(e) for e in events] == [
        Plan.PortfolioStandardChosen,
        Plan.EvidenceLinked,
        Plan.PortfolioItemJudged,
        Plan.PortfolioItemJudged,
    ]
    rows = {r["item_id"]: r for r in plan.portfolio.comparison()}
    assert [r["judgement"] for r in rows.values()] == ["proven", "partly", None]
    assert rows["W2"]["comment"] == "No certificate."
    assert rows["W2"]["evidence"] == [{"evidence_id": evidence_id, "title": "Work reference"}]
    assert rows["W3"]["evidence"] == []
    assert plan.portfolio.evidence[0].esco_uris == (SKILL,)
    assert [i.item_id for i in plan.portfolio.gaps()] == ["W2"]


def test_another_standard_starts_the_judgements_afresh_the_same_keeps_them() -> None:
    plan, _ = a_plan_with_evidence()
    plan.choose_portfolio_standard(standard_id="s1", title="S1", items=ITEMS, actor="c1", at=NOW)
    plan.judge_portfolio_item(item_id="W1", judgement="proven", comment=None, actor="c1", at=NOW)
    plan.choose_portfolio_standard(standard_id="s1", title="S1", items=ITEMS, actor="c1", at=NOW)
    assert set(plan.portfolio.judgements) == {"W1"}
    plan.choose_portfolio_standard(standard_id="s2", title="S2", items=ITEMS, actor="c1", at=NOW)
    assert plan.portfolio.judgements == {}


@pytest.mark.parametrize(
    ("call", "code", "field"),
    [
        (
            lambda p, e: p.link_evidence(
                evidence_id=e, items=["W9"], esco_uris=[], actor="c", at=NOW
            ),
            "invalid",
            "items.0",
        ),
        (
            lambda p, e: p.link_evidence(
                evidence_id=uuid.uuid4(), items=[], esco_uris=[], actor="c", at=NOW
            ),
            "not-found",
            "evidence_id",
        ),
        (
            lambda p, e: p.link_evidence(
                evidence_id=e, items=[], esco_uris=["x"], actor="c", at=NOW
            ),
            "invalid",
            "esco_uris.0",
        ),
        (
            lambda p, e: p.judge_portfolio_item(
                item_id="W9", judgement="proven", comment=None, actor="c", at=NOW
            ),
            "not-found",
            "item_id",
        ),
        (
            lambda p, e: p.judge_portfolio_item(
                item_id="W1", judgement="maybe", comment=None, actor="c", at=NOW
            ),
            "invalid",
            "judgement",
        ),
    ],
    ids=["unknown-item", "unknown-evidence", "not-a-skill", "judge-unknown-item", "judgement"],
)
def test_wrong_links_and_judgements_are_refused_naming_the_field(
    call: object, code: str, field: str
) -> None:
    plan, evidence_id = a_plan_with_evidence()
    plan.choose_portfolio_standard(standard_id="s1", title="S1", items=ITEMS, actor="c1", at=NOW)
    plan.collect_events()
    with pytest.raises(PlanningError) as error:
        call(plan, evidence_id)  # type: ignore[operator]
    assert (error.value.code, error.value.field) == (code, field)
    assert plan.collect_events() == []


def test_judging_before_a_standard_is_chosen_is_refused() -> None:
    plan, _ = a_plan_with_evidence()
    with pytest.raises(PlanningError) as error:
        plan.judge_portfolio_item(item_id="W1", judgement="proven", comment=None, actor="c", at=NOW)
    assert error.value.code == "no-standard"


def test_the_gaps_become_training_needs_once() -> None:
    plan, _ = a_plan_with_evidence()
    plan.record_competence_analysis(
        career_target="Care assistant",
        strengths=[{"text": "Patient"}],
        weaknesses=[],
        training_needs=[{"text": "Dutch B1"}],
        actor="c1",
        at=NOW,
    )
    plan.choose_portfolio_standard(standard_id="s1", title="S1", items=ITEMS, actor="c1", at=NOW)
    for item, judgement in (("W1", "proven"), ("W2", "partly"), ("W3", "not_yet")):
        plan.judge_portfolio_item(
            item_id=item, judgement=judgement, comment=None, actor="c", at=NOW
        )
    plan.collect_events()

    assert plan.gaps_to_training_needs(actor="c1", at=LATER) == 2
    [event] = plan.collect_events()
    assert isinstance(event, Plan.CompetenceAnalysisRecorded)
    analysis = plan.competence_analysis
    assert analysis is not None
    assert analysis.career_target == "Care assistant"
    assert analysis.strengths == ({"text": "Patient"},)
    assert analysis.training_needs == (
        {"text": "Dutch B1"},
        {"text": "First aid (S1, W2)", "esco_uri": SKILL},
        {"text": "Reporting (S1, W3)"},
    )
    assert plan.gaps_to_training_needs(actor="c1", at=LATER) == 0
    assert plan.collect_events() == []


def test_without_gaps_nothing_turns_into_training_needs() -> None:
    plan, _ = a_plan_with_evidence()
    plan.choose_portfolio_standard(standard_id="s1", title="S1", items=ITEMS, actor="c1", at=NOW)
    with pytest.raises(PlanningError) as error:
        plan.gaps_to_training_needs(actor="c1", at=NOW)
    assert error.value.code == "no-gaps"


# -- withdrawing a piece of evidence ------------------------------------------------------------
def test_a_withdrawn_evidence_leaves_with_its_links_and_the_judgements_stay() -> None:
    plan, evidence_id = a_plan_with_evidence()
    kept = uuid.uuid4()
    plan.add_evidence(
        evidence_id=kept,
        title="First aid certificate",
        kind="certificate",
        description=None,
        dated=date(2024, 2, 1),
        document_hash=None,
        actor="c1",
        at=NOW,
    )
    plan.choose_portfolio_standard(
        standard_id="mbo2-care", title="MBO 2 care", items=ITEMS, actor="c1", at=NOW
    )
    plan.link_evidence(evidence_id=evidence_id, items=["W1", "W2"], esco_uris=[], actor="c", at=NOW)
    plan.link_evidence(evidence_id=kept, items=["W2"], esco_uris=[], actor="c1", at=NOW)
    plan.judge_portfolio_item(item_id="W1", judgement="proven", comment=None, actor="c1", at=NOW)
    revision = plan.revision
    plan.collect_events()

    plan.withdraw_evidence(
        evidence_id=evidence_id,
        reason="  Added by mistake: another client's.\n",
        actor="c2",
        at=LATER,
    )

    [event] = plan.collect_events()
    assert isinstance(event, Plan.EvidenceWithdrawn)
    assert (event.evidence_id, event.reason, event.actor, event.timestamp) == (
        evidence_id,
        "Added by mistake: another client's.",
        "c2",
        LATER,
    )
    assert [e.evidence_id for e in plan.portfolio.evidence] == [kept]
    rows = {r["item_id"]: r for r in plan.portfolio.comparison()}
    assert rows["W1"]["evidence"] == []
    assert rows["W2"]["evidence"] == [{"evidence_id": kept, "title": "First aid certificate"}]
    # The judgement stays as it was: the counsellor judges the item again.
    assert rows["W1"]["judgement"] == "proven"
    assert plan.revision == revision + 1


def test_the_last_evidence_withdrawn_leaves_an_empty_portfolio() -> None:
    plan, evidence_id = a_plan_with_evidence()
    plan.withdraw_evidence(evidence_id=evidence_id, reason="Twice.", actor="c1", at=NOW)
    assert plan.portfolio.evidence == ()
    with pytest.raises(PlanningError) as error:
        plan.withdraw_evidence(evidence_id=evidence_id, reason="Twice.", actor="c1", at=NOW)
    assert (error.value.code, error.value.field) == ("not-found", "evidence_id")


@pytest.mark.parametrize(
    ("evidence", "reason", "code", "field"),
    [
        ("other", "Added by mistake.", "not-found", "evidence_id"),
        ("own", "", "invalid", "reason"),
        ("own", " \n\t ", "invalid", "reason"),
        ("own", "Mis\u0007take", "invalid", "reason"),
        # The reason is looked at first: a blank one is refused whichever the evidence.
        ("other", " ", "invalid", "reason"),
    ],
    ids=["unknown-evidence", "empty-reason", "blank-reason", "control-character", "both"],
)
def test_a_withdrawal_of_an_unknown_evidence_or_without_a_reason_is_refused(
    evidence: str, reason: str, code: str, field: str
) -> None:
    plan, evidence_id = a_plan_with_evidence()
    with pytest.raises(PlanningError) as error:
        plan.withdraw_evidence(
            evidence_id=evidence_id if evidence == "own" else uuid.uuid4(),
            reason=reason,
            actor="c1",
            at=NOW,
        )
    assert (error.value.code, error.value.field) == (code, field)
    assert plan.collect_events() == []
    assert [e.evidence_id for e in plan.portfolio.evidence] == [evidence_id]


def test_a_plan_rebuilt_from_its_events_has_the_evidence_withdrawn() -> None:
    plan = Plan.create(
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-a",
        gaps=[],
        scores={},
        actor="intake",
        at=NOW,
    )
    ids = [uuid.uuid4(), uuid.uuid4()]
    for evidence_id in ids:
        plan.add_evidence(
            evidence_id=evidence_id,
            title="Reference",
            kind="reference",
            description=None,
            dated=date(2024, 1, 1),
            document_hash=None,
            actor="c1",
            at=NOW,
        )
    plan.withdraw_evidence(evidence_id=ids[0], reason="Wrong file.", actor="c1", at=LATER)

    rebuilt: Plan | None = None
    for event in plan.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Plan)
    assert [e.evidence_id for e in rebuilt.portfolio.evidence] == [ids[1]]
    assert rebuilt.portfolio == plan.portfolio
    assert (rebuilt.revision, rebuilt.version) == (plan.revision, plan.version)

"""A case's session notes and its reflection-and-action report, on the library's in-memory
persistence (a real key vault in memory): notes recorded and amended with their history,
the report drafted from them, revised, agreed (and agreed again after a revision), its
printable page; the texts sealed and erased with the client.

Not here (HTTP, recorded reads, the export): tests/integration/test_session_notes.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Case, IntakeError
from services.intake.report_document import language_for, render
from shared.privacy import ERASED
from shared.vocabulary import COMPETENCES

ORG, ACTOR = "org-a", "c.jansen"


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


def run(app: IntakeApplication, case_id: uuid.UUID, command: Any) -> Case:
    _, case = app.change(lambda: app.case(case_id, ORG), None, command)
    return case


def a_case(app: IntakeApplication, *, accepted: bool = True) -> uuid.UUID:
    client_id = app.register_client(
        organisation=ORG,
        actor=ACTOR,
        given_name="Lotte",
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email="lotte@example.org",
        preferred_language="nl",
    )
    app.record_consent(client_id, organisation=ORG, actor=ACTOR, purpose="guidance", granted=True)
    case_id = app.open_case(
        client_id=client_id, organisation=ORG, actor=ACTOR, career_question="Which work next?"
    )
    if accepted:

        def accept(case: Case, at: datetime) -> None:
            case.check_entry(eligible=True, notes=None, actor=ACTOR, at=at)
            case.record_assessment(
                assessment_id=uuid.uuid4(),
                assessor="client",
                scores=dict.fromkeys(COMPETENCES, 3),
                actor=ACTOR,
                at=at,
            )
            case.decide(decision="accept", reason=None, actor=ACTOR, at=at)

        run(app, case_id, accept)
    return case_id


def hold(app: IntakeApplication, case_id: uuid.UUID, hours_ago: int = 2) -> uuid.UUID:
    session_id = uuid.uuid4()
    run(
        app,
        case_id,
        lambda c, at: c.hold_session(
            session_id=session_id,
            kind="deepening",
            held_at=at - timedelta(hours=hours_ago),
            minutes=60,
            actor=ACTOR,
            at=at,
        ),
    )
    return session_id


def note(
    app: IntakeApplication, case_id: uuid.UUID, session_id: uuid.UUID, **parts: str | None
) -> Case:
    given = dict.fromkeys(("discussed", "insights", "agreements", "homework"))
    given.update(parts)
    return run(
        app,
        case_id,
        lambda c, at: c.record_session_notes(session_id=session_id, actor=ACTOR, at=at, **given),
    )


# -- session notes -----------------------------------------------------------------------------
def test_notes_are_amended_and_the_earlier_record_is_kept(intake: IntakeApplication) -> None:
    case_id = a_case(intake)
    session_id = hold(intake, case_id)
    note(intake, case_id, session_id, discussed="Values.", insights="Autonomy matters.")
    case = note(intake, case_id, session_id, discussed="Values and pay.", homework="Interview.")
    history = case.session_notes[session_id]
    assert [n.amendment for n in history] == [0, 1]
    assert history[0].insights == "Autonomy matters." and history[1].insights is None
    now = case.notes_of(session_id)
    assert now is not None and (now.discussed, now.homework) == ("Values and pay.", "Interview.")


def test_notes_need_a_held_session_and_some_text(intake: IntakeApplication) -> None:
    case_id = a_case(intake)
    session_id = hold(intake, case_id)
    with pytest.raises(IntakeError) as unknown:
        note(intake, case_id, uuid.uuid4(), discussed="x")
    assert unknown.value.code == "not-found"
    with pytest.raises(IntakeError) as blank:
        note(intake, case_id, session_id, discussed="  ", homework="")
    assert (blank.value.code, blank.value.field) == ("invalid", "discussed")
    with pytest.raises(IntakeError) as control:
        note(intake, case_id, session_id, insights="bad\x00text")
    assert control.value.field == "insights"
    assert intake.case(case_id, ORG).session_notes == {}


def test_notes_and_report_are_sealed_and_erased_with_the_client(
    intake: IntakeApplication,
) -> None:
    case_id = a_case(intake)
    session_id = hold(intake, case_id)
    note(intake, case_id, session_id, discussed="Secret-discussed", insights="Secret-insight")
    run(
        intake,
        case_id,
        lambda c, at: c.draft_report(
            starting_question=None,
            insights=None,
            conclusions="Secret-conclusion",
            actions=["Secret-action"],
            actor=ACTOR,
            at=at,
        ),
    )
    stored = b"".join(e.state for e in intake.recorder.select_events(case_id))
    for secret in (b"Secret-discussed", b"Secret-insight", b"Secret-conclusion", b"Secret-action"):
        assert secret not in stored
    client_id = intake.case(case_id, ORG).client_id
    intake.request_erasure(client_id, organisation=ORG, reason="asked", actor=ACTOR)
    case = intake.case(case_id, ORG)
    notes = case.notes_of(session_id)
    assert notes is not None and notes.discussed == ERASED and notes.insights == ERASED
    assert case.report is not None
    assert case.report.conclusions == ERASED and case.report.actions == [ERASED]


# -- the reflection-and-action report ------------------------------------------------------------
def test_the_draft_is_prefilled_from_the_question_and_the_notes(
    intake: IntakeApplication,
) -> None:
    case_id = a_case(intake)
    later = hold(intake, case_id, hours_ago=1)
    earlier = hold(intake, case_id, hours_ago=3)
    note(intake, case_id, later, insights="Second insight.")
    note(intake, case_id, earlier, insights="First, then amended.")
    note(intake, case_id, hold(intake, case_id), discussed="No insight here.")
    case = run(
        intake,
        case_id,
        lambda c, at: c.draft_report(
            starting_question=None,
            insights=None,
            conclusions=None,
            actions=None,
            actor=ACTOR,
            at=at,
        ),
    )
    report = case.report
    assert report is not None
    assert report.starting_question == "Which work next?"
    assert report.insights == ["First, then amended.", "Second insight."]
    assert (report.revision, report.conclusions, report.actions) == (1, "", [])
    assert case.report_status == "draft"
    with pytest.raises(IntakeError) as again:
        run(
            intake,
            case_id,
            lambda c, at: c.draft_report(
                starting_question=None,
                insights=[],
                conclusions=None,
                actions=None,
                actor=ACTOR,
                at=at,
            ),
        )
    assert again.value.code == "report-exists"


def test_a_report_belongs_to_an_accepted_case(intake: IntakeApplication) -> None:
    case_id = a_case(intake, accepted=False)
    with pytest.raises(IntakeError) as refused:
        run(
            intake,
            case_id,
            lambda c, at: c.draft_report(
                starting_question=None,
                insights=None,
                conclusions=None,
                actions=None,
                actor=ACTOR,
                at=at,
            ),
        )
    assert refused.value.code == "case-not-accepted"


def revise(app: IntakeApplication, case_id: uuid.UUID, **texts: Any) -> Case:
    given: dict[str, Any] = {
        "starting_question": "Which work next?",
        "insights": ["Autonomy matters."],
        "conclusions": "Planning suits her.",
        "actions": ["Apply for the course."],
    }
    given.update(texts)
    return run(app, case_id, lambda c, at: c.revise_report(actor=ACTOR, at=at, **given))


def agree(app: IntakeApplication, case_id: uuid.UUID, revision: int) -> Case:
    return run(app, case_id, lambda c, at: c.agree_report(revision=revision, actor=ACTOR, at=at))


def test_agreement_is_to_a_revision_and_a_revision_after_it_needs_a_new_one(
    intake: IntakeApplication,
) -> None:
    case_id = a_case(intake)
    run(
        intake,
        case_id,
        lambda c, at: c.draft_report(
            starting_question=None,
            insights=[],
            conclusions=None,
            actions=None,
            actor=ACTOR,
            at=at,
        ),
    )
    with pytest.raises(IntakeError) as incomplete:
        agree(intake, case_id, 1)
    assert (incomplete.value.code, incomplete.value.field) == ("report-incomplete", "conclusions")
    case = revise(intake, case_id)
    assert case.report is not None and case.report.revision == 2
    with pytest.raises(IntakeError) as stale:
        agree(intake, case_id, 1)
    assert stale.value.code == "report-changed"
    case = agree(intake, case_id, 2)
    assert case.report_status == "agreed"
    assert [a.revision for a in case.report_agreements] == [2]
    with pytest.raises(IntakeError) as twice:
        agree(intake, case_id, 2)
    assert twice.value.code == "report-agreed"
    version = case.version
    assert revise(intake, case_id).version == version  # the same texts: nothing recorded
    case = revise(intake, case_id, actions=["Apply for the course.", "Visit the fair."])
    assert case.report_status == "revised"
    case = agree(intake, case_id, 3)
    assert case.report_status == "agreed"
    assert [a.revision for a in case.report_agreements] == [2, 3]
    with pytest.raises(IntakeError) as blank:
        revise(intake, case_id, starting_question="  ")
    assert blank.value.field == "starting_question"


def test_the_printed_report_escapes_its_texts_and_says_its_agreement() -> None:
    report = {
        "status": "revised",
        "revision": 3,
        "starting_question": "<b>Which</b> work?",
        "insights": ["Autonomy & pay"],
        "conclusions": "",
        "actions": ["Apply <script>"],
        "agreements": [{"revision": 2, "agreed_at": "2026-03-02T10:00:00+00:00"}],
    }
    page = render(report, client_name="Lotte <Maes>", lang="nl", printed=date(2026, 3, 3))
    assert "&lt;b&gt;Which&lt;/b&gt;" in page and "Apply &lt;script&gt;" in page
    assert "Lotte &lt;Maes&gt;" in page and "Autonomy &amp; pay" in page
    assert "herziening 2 op 2026-03-02" in page and "opnieuw goed te keuren" in page
    assert '<html lang="nl">' in page and "Nog geen." in page
    assert language_for("fr-BE", None) == "fr" and language_for(None, "en") == "en"

"""Planning's request models and the answers of its commands."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictStr

from shared.schemas import Answer, Day, Id, MultiLine, SingleLine, Strict
from shared.vocabulary import Competence

Text = Annotated[StrictStr, Field(min_length=1, max_length=2000), MultiLine]
Title = Annotated[StrictStr, Field(min_length=1, max_length=200), SingleLine]
Note = Annotated[StrictStr, Field(max_length=2000), MultiLine]


class PlanTypeIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"plan_type": "combined"}]})

    plan_type: Literal["action", "reflection", "combined"]
    """`action` (action-oriented), `reflection` (reflection-oriented) or `combined`."""


# A goal's target date lies within the plan's horizon (about 18 months): the examples'
# dates are counted from the day the document is built, so that they are accepted.
EXAMPLE_TARGET = (date.today() + timedelta(days=180)).isoformat()
EXAMPLE_DUE = (date.today() + timedelta(days=60)).isoformat()


class GoalIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Start the care assistant course",
                    "specific": "Enrol in and start the MBO 2 care assistant course at a "
                    "regional college",
                    "measure": "A signed enrolment and 2 attended lessons",
                    "target_date": EXAMPLE_TARGET,
                    "competences": ["work_exploration", "career_steering"],
                    "priority": 1,
                }
            ]
        }
    )

    title: Title
    """A short title (1-200 characters)."""
    specific: Text
    """What the client will do or reach, concretely: at least a few words, not the title again
    (1-2000 characters).
    """
    measure: Text
    """The observable result that shows the goal is reached: a number, a document, an event (1-2000
    characters).
    """
    target_date: Day
    """When it is reached (ISO date): in the future, at least 7 days ahead and within the plan's
    horizon (about 18 months; both configurable).
    """
    competences: list[Competence] = Field(max_length=5)
    """The career competences it serves (at least one for a SMART goal): `quality_reflection`,
    `motive_reflection`, `work_exploration`, `career_steering`, `networking`.
    """
    priority: int = Field(ge=1, le=100)
    """Its rank, 1 = highest; at most one more than the goals so far (the others move down)."""


class PrioritiesIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order": [
                        "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
                        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    ]
                }
            ]
        }
    )

    order: list[Id] = Field(min_length=1, max_length=100)
    """Every goal of the plan, each once, highest priority first."""


class ActionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "description": "Visit the college's open day and ask about enrolment",
                    "owner": "client",
                    "due_date": EXAMPLE_DUE,
                }
            ]
        }
    )

    description: Text
    """What is done (1-2000 characters)."""
    owner: Literal["client", "counsellor", "partner"]
    """Who does it: `client`, `counsellor` or `partner`."""
    due_date: Day
    """By when (ISO date): not in the past, not after the goal's target date."""


class CancelIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The client found a course elsewhere."}]}
    )

    reason: Note | None = None
    """Why (at most 2000 characters); optional, and so is the body."""


Level = Annotated[int, Field(ge=1, le=4)]


class AnalysisItem(Strict):
    text: Annotated[StrictStr, Field(min_length=1, max_length=500), MultiLine]
    """The strength, weakness or training need (1-500 characters)."""
    esco_uri: Annotated[StrictStr, Field(max_length=200), SingleLine] | None = None
    """The matching ESCO skill or occupation, as its URI (optional; `GET /esco/search`
    finds it by label)."""
    self_level: Level | None = None
    """A skill's level as the client assesses it: 1 does not know how, 2 is uncertain how, 3
    knows how, 4 is more than able (seed 000's proficiency levels); optional, not for an
    occupation."""
    counsellor_level: Level | None = None
    """The same skill's level as the counsellor assesses it (1-4); optional."""


class CompetenceAnalysisIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "career_target": "Care assistant",
                    "career_target_uri": "http://data.europa.eu/esco/occupation/"
                    "5b3c2d1e-0000-4000-8000-000000000010",
                    "strengths": [
                        {
                            "text": "provide first aid",
                            "esco_uri": "http://data.europa.eu/esco/skill/"
                            "7a1b2c3d-0000-4000-8000-000000000002",
                            "self_level": 3,
                            "counsellor_level": 2,
                        }
                    ],
                    "weaknesses": [{"text": "No experience with personal care"}],
                    "training_needs": [{"text": "Vocational course care assistant (MBO 2)"}],
                }
            ]
        }
    )

    career_target: Annotated[StrictStr, Field(min_length=1, max_length=500), SingleLine]
    """The occupation aimed at (1-500 characters), e.g. an ESCO occupation's title."""
    career_target_uri: Annotated[StrictStr, Field(max_length=200), SingleLine] | None = None
    """The ESCO occupation aimed at, as its URI (optional)."""
    strengths: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What the client already brings to it (at most 50)."""
    weaknesses: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What falls short (at most 50)."""
    training_needs: list[AnalysisItem] = Field(default_factory=list, max_length=50)
    """What the client needs to learn (at most 50)."""


class EvidenceIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Retail diploma",
                    "kind": "diploma",
                    "description": "MBO 2 retail, 2012.",
                    "date": "2012-06-30",
                    "document_hash": "sha256:"
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                }
            ]
        }
    )

    title: Title
    """The evidence's title (1-200 characters)."""
    kind: Literal["diploma", "certificate", "work_sample", "reference", "assessment", "other"]
    """`diploma`, `certificate`, `work_sample`, `reference`, `assessment` or `other`."""
    description: Note | None = None
    """What it shows (at most 2000 characters)."""
    date: Day
    """The date of the evidence (ISO date), e.g. when the diploma was awarded."""
    document_hash: Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    """The document's SHA-256 as `sha256:<64 hex digits>` (the document itself is kept elsewhere).
    """


class EvidenceWithdrawalIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Added twice: the same diploma is in the portfolio already."}]
        }
    )

    reason: Text
    """Why the evidence is withdrawn (1-2000 characters, not blank)."""


class PortfolioAssessmentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "standard": "MBO 2 care assistant qualification",
                    "comparison": "Customer care and hygiene are covered by the retail work; "
                    "personal care is not.",
                    "advice": "continue",
                }
            ]
        }
    )

    standard: Annotated[StrictStr, Field(min_length=1, max_length=300), SingleLine]
    """The standard the portfolio is compared with (1-300 characters), e.g. a qualification's name.
    """
    comparison: Text
    """How the portfolio measures up to it (1-2000 characters)."""
    advice: Literal["continue", "stop"]
    """`continue` (the recognition procedure) or `stop`."""


Sha256 = Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class ProductIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "application",
                    "title": "Application as care assistant",
                    "date": "2026-01-20",
                    "employer": "Woonzorgcentrum De Linde",
                    "position": "Care assistant (part-time)",
                    "sent_on": "2026-01-21",
                },
                {"kind": "skills_cv", "title": "Skills-based CV", "date": "2026-01-14"},
            ]
        }
    )

    kind: Literal["skills_cv", "cv", "application", "cover_letter", "portfolio_piece", "other"]
    """`skills_cv` (a skills-based CV), `cv` (another CV), `application` (a job
    application), `cover_letter`, `portfolio_piece` or `other`."""
    title: Title
    """What it is, in a few words (1-200 characters)."""
    date: Day
    """When it was made (ISO date, not ahead)."""
    document_hash: Sha256 | None = None
    """The document's SHA-256 as `sha256:<64 hex digits>` (the document itself is kept
    elsewhere)."""
    notes: Note | None = None
    """More about it (at most 2000 characters)."""
    employer: Title | None = None
    """An application's employer (to whom; required for an application, else absent)."""
    position: Title | None = None
    """An application's job (for which job; required for an application, else absent)."""
    sent_on: Day | None = None
    """When an application was sent (not ahead); without it the application is a `draft`."""


class ApplicationStatusIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "interview",
                    "on": "2026-01-28",
                    "answer": "Invited for an interview on 4 February.",
                }
            ]
        }
    )

    status: Literal["sent", "interview", "offer", "rejected", "withdrawn"]
    """Where the application stands now: `sent` (from `draft`), `interview` (again for a
    further round), `offer`, `rejected` or `withdrawn` (the client pulled it or declined the
    offer); `offer`, `rejected` and `withdrawn` end it (an offer can still be declined)."""
    on: Day
    """The day it happened (ISO date): not ahead, not before the application's last step."""
    answer: Note | None = None
    """The employer's answer or what was said, in words (at most 2000 characters)."""


class InstrumentIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instrument": "riasec",
                    "used_on": "2026-01-15",
                    "result": "Social and investigative first: S-I-A.",
                    "scores": {"R": 12, "I": 31, "A": 24, "S": 38, "E": 15, "C": 10},
                    "interpretation": "Fits the wish to work with people; explore care.",
                    "competences": ["quality_reflection", "work_exploration"],
                    "goal_ids": [],
                }
            ]
        }
    )

    instrument: Annotated[StrictStr, Field(min_length=1, max_length=50)]
    """The instrument's code in the agency's list (`GET /planning/v1/instruments`)."""
    used_on: Day
    """The day it was used (ISO date, not ahead)."""
    result: Annotated[StrictStr, Field(max_length=4000), MultiLine] | None = None
    """The result in words (at most 4000 characters); this or `scores` is required."""
    scores: dict[str, float] | None = Field(default=None, max_length=20)
    """The result as scores: a name (1-100 characters) and a number each, at most 20."""
    interpretation: Annotated[StrictStr, Field(max_length=4000), MultiLine] | None = None
    """The counsellor's interpretation (at most 4000 characters); may follow later."""
    competences: list[Competence] = Field(default_factory=list, max_length=5)
    """The career competences it informs, each once."""
    goal_ids: list[Id] = Field(default_factory=list, max_length=50)
    """The goals of this plan it informs, each once."""


class InterpretationIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"interpretation": "Fits the wish to work with people; explore care."}]
        }
    )

    interpretation: Annotated[StrictStr, Field(min_length=1, max_length=4000), MultiLine]
    """The counsellor's interpretation of the result (1-4000 characters); replaces the former."""


class CareerQuestionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "Which work suits me now that I cannot stand all day?"}]
        }
    )

    question: Text
    """The starting question in the plan's own words (1-2000 characters); until stated, the
    plan document shows the case's career question from intake.
    """


class InsightIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "I enjoy helping people more than selling to them.",
                    "date": "2026-01-12",
                }
            ]
        }
    )

    text: Text
    """The reflection or insight, in the client's words (1-2000 characters)."""
    date: Day
    """The day it came (ISO date): not ahead."""


class DecisionIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "decision",
                    "text": "Train as a care assistant.",
                    "reasons": "The work trial at the care home went well; the course is paid.",
                }
            ]
        }
    )

    kind: Literal["choice", "decision"]
    """`choice` (one option taken among others) or `decision` (a course settled)."""
    text: Text
    """What was chosen or decided (1-2000 characters)."""
    reasons: Text
    """Why (1-2000 characters)."""


class SupportNeedsIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kinds": ["language", "childcare"],
                    "notes": "Dutch at B1 for the course; after-school care on Wednesdays.",
                }
            ]
        }
    )

    kinds: list[
        Literal["language", "digital_skills", "childcare", "mobility", "finances", "other"]
    ] = Field(max_length=6)
    """The kinds of support the client needs, each once: `language`, `digital_skills`,
    `childcare`, `mobility`, `finances`, `other` (then `notes` says what); empty: none.
    """
    notes: Note | None = None
    """The needs in words (at most 2000 characters)."""


class AgreementIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"party": "client"}]})

    party: Literal["client", "counsellor"]
    """Who agrees to the current revision: `client` or `counsellor` (the counsellor records both).
    """


class Changed(Answer):
    version: int
    """The plan's version now (its `ETag`; send it as `If-Match`)."""
    status: str
    """The plan's status: `draft`, `agreed`, `revised` or `closed`."""
    revision: int
    """The plan's content revision (a change after an agreement starts a new one)."""


class GoalCreated(Changed):
    goal_id: uuid.UUID
    """The new goal's id."""


class ActionCreated(Changed):
    action_id: uuid.UUID
    """The new action's id."""


class InsightCreated(Changed):
    insight_id: uuid.UUID
    """The new insight's id."""


class DecisionCreated(Changed):
    decision_id: uuid.UUID
    """The new choice's or decision's id."""


class InstrumentUseCreated(Changed):
    use_id: uuid.UUID
    """The new record's id."""


class ProductCreated(Changed):
    product_id: uuid.UUID
    """The new product's id."""


class EvidenceCreated(Changed):
    evidence_id: uuid.UUID
    """The new evidence item's id."""

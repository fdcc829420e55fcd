"""Follow-up's request and response models (a field's docstring is its description)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr

from shared.privacy.retention_answers import RetentionRuleOut
from shared.schemas import Answer, Day, Id, MultiLine, Strict
from shared.vocabulary import ContractType, GuidanceOutcome

Note = Annotated[StrictStr, Field(max_length=4000), MultiLine]
Text = Annotated[StrictStr, Field(min_length=1, max_length=2000), MultiLine]


class ContactIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"channel": "phone", "reached": True, "notes": "Started the course; doing well."}
            ]
        }
    )

    channel: Literal["phone", "email", "meeting", "video"]
    """How the counsellor tried to reach the client: `phone`, `email`, `meeting` or `video`."""
    reached: StrictBool
    """Whether the client was reached (three failures in a row raise a bottleneck)."""
    notes: Note | None = None
    """Notes on the contact (at most 4000 characters)."""


class ActionCheckIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action_id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
                    "status": "partly",
                    "bottleneck": "Waiting for the course to start.",
                }
            ]
        }
    )

    action_id: Id
    """The plan action checked (one of the follow-up's `actions`)."""
    status: Literal["realised", "partly", "not_realised"]
    """Whether it was realised: `realised`, `partly` or `not_realised`."""
    bottleneck: Note | None = None
    """What stood in the way (at most 4000 characters); recorded as a bottleneck linked to the
    action.
    """


class OutcomeIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"outcome": "employed", "contract": "fixed_term", "on": "2026-06-15"}]
        }
    )

    outcome: GuidanceOutcome
    """Where the client ended up: `employed` (a job), `education` (study or training),
    `self_employed` (an own business), `volunteering`, `still_searching` (the client applies
    on), `other` or `none`."""
    contract: ContractType | None = None
    """A job's contract, if known: `permanent`, `fixed_term`, `temp_agency` (interim) or
    `other`; only with `employed`."""
    on: Day
    """The day of the outcome (ISO date): not in the future, not before the case was accepted."""


class FeedbackIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "satisfaction": 4,
                    "self_knowledge_improved": True,
                    "confidence_improved": True,
                    "comments": "The competence test helped me most.",
                }
            ]
        }
    )

    satisfaction: StrictInt = Field(ge=1, le=5)
    """The client's satisfaction, 1 (very dissatisfied) to 5 (very satisfied)."""
    self_knowledge_improved: StrictBool
    """Whether the client knows themselves better now."""
    confidence_improved: StrictBool
    """Whether the client is more confident about their career."""
    comments: Note | None = None
    """The client's comments (at most 4000 characters)."""


class CloseIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "completed", "notes": "Client works as a care assistant."}]
        }
    )

    reason: Literal["completed", "client_withdrew", "unreachable", "other"]
    """Why it closes: `completed`, `client_withdrew`, `unreachable` or `other`."""
    notes: Note | None = None
    """Notes on the closing (at most 4000 characters)."""


class AftercareIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"due_on": "2030-03-01"}]})

    due_on: Day
    """The day of the requested aftercare check-in (ISO date)."""


class ToDoIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "goal_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "description": "Apply for two care-assistant vacancies.",
                    "owner": "client",
                    "due_date": "2030-04-01",
                }
            ]
        }
    )

    goal_id: Id
    """The plan goal the to-do belongs to."""
    description: Text
    """What is to be done (1-2000 characters)."""
    owner: Literal["client", "counsellor", "partner"]
    """Who does it: `client`, `counsellor` or `partner`."""
    due_date: Day
    """When it is due (ISO date)."""


class Changed(Answer):
    version: int
    """The follow-up's version now (its `ETag`; send it as `If-Match`)."""
    status: str
    """The follow-up's status now: `open` or `closed`."""
    closed_by: str | None = Field(
        None,
        description="While closed: the command that closed it "
        "(`feedback` | `outcome` | `checkin` | `close`).",
    )
    closure_reason: str | None = Field(None, description="While closed: why.")


class Created(Changed):
    id: uuid.UUID
    """The id of what was recorded (contact, action check or to-do)."""


class CheckInOut(Answer):
    checkin_id: uuid.UUID
    """The check-in's id."""
    number: int
    """Its number, 1 for the first."""
    due_on: date
    """The day it is due."""
    done: bool
    """Whether it was held."""
    done_at: datetime | None
    """When it was recorded as held."""
    requested: bool
    """Asked for by the client (aftercare), not scheduled by the agreement."""


class FollowUpOut(Answer):
    followup_id: uuid.UUID
    """The follow-up's id."""
    case_id: uuid.UUID
    """The intake case."""
    client_id: uuid.UUID
    """The case's client."""
    organisation: str
    """The organisation it belongs to."""
    counsellor: str
    """Its counsellor: who agreed the plan (`sub`)."""
    status: str
    """`open` or `closed`."""
    plan_version: int
    """The agreed plan version it follows."""
    plan_status: str
    """`agreed`, or `revised` while a change awaits both agreements."""
    checkins: list[CheckInOut]
    """The check-ins, earliest first."""
    actions: list[dict[str, Any]]
    """The plan's actions: [{action_id, goal_id, owner, due_date, status (`open` | `completed` |
    `cancelled`), check}].
    """
    action_checks: list[dict[str, Any]]
    """The action checks: whether each action was realised, with bottleneck."""
    contacts: list[dict[str, Any]]
    """Contact attempts: [{contact_id, channel, reached, notes, at, actor}]."""
    bottlenecks: list[dict[str, Any]]
    """Bottlenecks raised: [{bottleneck_id, key, kind, action_id, checkin_id, description,
    detected_at, actor}].
    """
    todos: list[dict[str, Any]]
    """To-dos agreed in aftercare: [{todo_id, action_id, goal_id, description, owner, due_date,
    agreed_at, actor}].
    """
    outcome: dict[str, Any] | None
    """The outcome: {outcome, contract (a job's, or null), on, recorded_at, actor}; null
    before it."""
    feedback: dict[str, Any] | None
    """The client's feedback: {satisfaction, self_knowledge_improved, confidence_improved, comments,
    given_at, actor}; null before it.
    """
    closed: dict[str, Any] | None
    """While closed: {reason, rule (`outcome_and_feedback` | `last_checkin` | `early`),
    closed_by, notes, at}; null while open."""
    closed_at: datetime | None
    """While closed: when."""
    closure_reason: str | None
    """While closed: why (`completed`, `client_withdrew`, `unreachable`, `other`)."""
    closed_by: str | None
    """While closed: the command that closed it (`feedback` | `outcome` | `checkin` | `close`)."""
    version: int
    """The follow-up's version (its `ETag`)."""


class WorkItem(Answer):
    checkin_id: uuid.UUID
    """The check-in due."""
    followup_id: uuid.UUID
    """Its follow-up."""
    case_id: uuid.UUID
    """The intake case."""
    client_id: uuid.UUID
    """The case's client."""
    counsellor: str
    """The follow-up's counsellor (`sub`)."""
    number: int
    """The check-in's number."""
    due_on: date
    """The day it is due."""
    days_overdue: int
    """Days past its due day; 0 when not yet past it."""


class MonthOutcomes(Answer):
    month: str
    """The calendar month (UTC), `YYYY-MM`."""
    outcomes: dict[str, int]
    """Follow-ups per outcome dated in that month (and in the period); `{}` when none."""


class DaysBucket(Answer):
    from_days: int
    """The bucket's lower bound in days (inclusive)."""
    to_days: int | None
    """Its upper bound in days (exclusive); null for the open end."""
    count: int
    """Follow-ups whose outcome came that many days after the case's acceptance."""


class OutcomesReport(Answer):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    """The period's start (inclusive)."""
    to: datetime
    """The period's end (exclusive)."""
    followups_with_outcome: int
    """Follow-ups with an outcome dated in the period (clients who withdrew the `statistics` consent
    left out, as everywhere here).
    """
    outcomes: dict[str, int]
    """Those follow-ups per outcome, e.g. {"employed": 4, "education": 2, "still_searching":
    1}."""
    employment_contracts: dict[str, int] = Field(default_factory=dict)
    """The `employed` ones per contract type: `permanent`, `fixed_term`, `temp_agency`,
    `other`, and `unknown` where none was given; `{}` when none."""
    median_days_acceptance_to_outcome: float | None
    """Median days from the case's acceptance to the outcome; null when none."""
    share_with_bottleneck: float | None
    """Share (0-1) of those follow-ups with a bottleneck; null when none."""
    feedback: dict[str, Any]
    """Feedback given in the period: {count, satisfaction_average (1-5),
    self_knowledge_improved_share, confidence_improved_share (0-1)}.
    """
    by_month: list[MonthOutcomes]
    """The outcomes per calendar month (UTC), one entry for every month the period
    intersects, oldest first (a month without outcomes: `{}`)."""
    days_to_outcome: list[DaysBucket]
    """Histogram of the days from the case's acceptance to the outcome, always the five
    buckets 0-30, 30-60, 60-90, 90-180 and 180 or more (from inclusive, to exclusive)."""
    bottlenecks: dict[str, int]
    """Bottlenecks detected in the period per kind, e.g. {"unreachable": 2}."""


class StatisticsPurgeOut(Answer):
    """One run of the `statistics` retention that deleted anonymised figures (a receipt)."""

    purge_id: uuid.UUID
    """The receipt's id (the `StatisticsPurged` event's aggregate)."""
    purged_at: datetime
    """When."""
    rule: str
    """The rule applied."""
    cutoff: date
    """Figures dated before this day went."""
    figures: int
    """How many outcome figures went."""
    bottlenecks: int
    """How many bottlenecks went."""
    actor: str
    """`system:retention`."""


class StatisticsRetention(Answer):
    """The retention rules, the anonymised archive of the organisation and its receipts."""

    rules: list[RetentionRuleOut]
    """Every purpose's rule."""
    archived_figures: int
    """The organisation's anonymised outcome figures kept (erased clients')."""
    oldest_figure_on: date | None
    """The day of the oldest of them; null when there is none."""
    purges: list[StatisticsPurgeOut]
    """The statistics retention's runs that deleted figures, the latest first (at most 50)."""

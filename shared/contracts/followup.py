"""Integration events published by follow-up (`guidance.followup.<EventType>`)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import IntegrationEvent, Personal
from shared.vocabulary import ContractType, GuidanceOutcome

Owner = Literal["client", "counsellor", "partner"]
# Why a follow-up closed (`reason` of FollowUpClosed, once opened).
CLOSURE_REASONS = ("completed", "client_withdrew", "unreachable", "other")


class _FollowUp(IntegrationEvent):
    service: ClassVar[str] = "followup"
    subject_field: ClassVar[str] = "case_id"

    followup_id: uuid.UUID
    case_id: uuid.UUID
    client_id: uuid.UUID


class ScheduledCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkin_id: uuid.UUID
    number: int
    due_on: date


class FollowUpOpenedV1(_FollowUp):
    """Aftercare opened for an agreed plan, with its check-ins scheduled."""

    event_type: ClassVar[str] = "FollowUpOpened"

    organisation: str
    plan_version: int
    agreed_on: date
    checkins: list[ScheduledCheckIn]


class CheckInDoneV1(_FollowUp):
    """A scheduled check-in was held."""

    event_type: ClassVar[str] = "CheckInDone"

    checkin_id: uuid.UUID
    due_on: date


class ContactRecordedV1(_FollowUp):
    """The counsellor tried to reach the client; notes are sealed."""

    event_type: ClassVar[str] = "ContactRecorded"

    contact_id: uuid.UUID
    channel: Literal["phone", "email", "meeting", "video"]
    reached: bool
    notes: Personal | None = None


class ActionCheckedV1(_FollowUp):
    """Whether a plan action was realised; a bottleneck text is sealed."""

    event_type: ClassVar[str] = "ActionChecked"

    check_id: uuid.UUID
    action_id: uuid.UUID
    status: Literal["realised", "partly", "not_realised"]
    bottleneck: Personal | None = None


class BottleneckDetectedV1(_FollowUp):
    """A bottleneck in realising the plan (raised once per key)."""

    event_type: ClassVar[str] = "BottleneckDetected"

    bottleneck_id: uuid.UUID
    key: str
    kind: Literal["unreachable", "action", "checkin_overdue", "action_overdue"]
    action_id: uuid.UUID | None = None
    checkin_id: uuid.UUID | None = None
    description: Personal | None = None


class ToDoAgreedV1(_FollowUp):
    """A new to-do agreed in aftercare; planning adds it to the plan as `action_id`."""

    event_type: ClassVar[str] = "ToDoAgreed"

    organisation: str
    todo_id: uuid.UUID
    action_id: uuid.UUID
    goal_id: uuid.UUID
    description: Personal
    owner: Owner
    due_date: date


class OutcomeRecordedV1(_FollowUp):
    """The outcome of the guidance; a job may name its contract type.

    The outcomes: a job (`employed`), study or training (`education`), an own business
    (`self_employed`), `volunteering`, `still_searching`, `other`, `none`."""

    event_type: ClassVar[str] = "OutcomeRecorded"

    outcome: GuidanceOutcome
    on: date
    contract: ContractType | None = None


class FeedbackGivenV1(_FollowUp):
    """The client's feedback at the end of the process; comments are sealed."""

    event_type: ClassVar[str] = "FeedbackGiven"

    satisfaction: int
    self_knowledge_improved: bool
    confidence_improved: bool
    comments: Personal | None = None


class FollowUpClosedV1(_FollowUp):
    """The follow-up closed: by a rule (`reason` "completed"), or explicitly by the
    counsellor (`rule` "early") with a reason (`completed` | `client_withdrew` |
    `unreachable` | `other`; sealed, and before reasons were codes the counsellor's own
    words) and sealed notes. `closed_by` names the command that closed it (absent on
    closures published before it was added)."""

    event_type: ClassVar[str] = "FollowUpClosed"

    rule: Literal["outcome_and_feedback", "last_checkin", "early"]
    reason: Personal
    notes: Personal | None = None
    closed_by: Literal["feedback", "outcome", "checkin", "close"] | None = None


class AftercareRequestedV1(_FollowUp):
    """The client asked for aftercare: a new check-in, reopening a closed follow-up."""

    event_type: ClassVar[str] = "AftercareRequested"

    checkin_id: uuid.UUID
    due_on: date
    reopened: bool


class StatisticsPurgedV1(IntegrationEvent):
    """The `statistics` retention deleted the anonymised figures (`figures` outcome
    figures, `bottlenecks` bottlenecks) dated before `cutoff`, of `organisation` (null: of
    every organisation), by `rule`. No client is named: the figures are anonymous."""

    service: ClassVar[str] = "followup"
    subject_field: ClassVar[str] = "purge_id"
    event_type: ClassVar[str] = "StatisticsPurged"

    purge_id: uuid.UUID
    organisation: str | None = None
    rule: str
    cutoff: date
    figures: int
    bottlenecks: int

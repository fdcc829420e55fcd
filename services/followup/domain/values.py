"""The parts of a follow-up's state: immutable values, built by its events' `apply`.

Their fields are the names the events store (and the API and the export show): the
stored form of the events does not change with them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class CheckIn:
    """A check-in: scheduled by the agreement, or asked for by the client (`requested`)."""

    checkin_id: uuid.UUID
    number: int
    due_on: date
    requested: bool = False
    done: bool = False
    done_at: datetime | None = None
    done_by: str | None = None


@dataclass(frozen=True)
class Contact:
    """A contact attempt; `notes` are personal (sealed in the event)."""

    contact_id: uuid.UUID
    channel: str
    reached: bool
    notes: str | None
    at: datetime
    actor: str


@dataclass(frozen=True)
class ActionCheck:
    """Whether a plan action was realised; `bottleneck` is personal (sealed in the event)."""

    check_id: uuid.UUID
    action_id: uuid.UUID
    status: str
    bottleneck: str | None
    at: datetime
    actor: str


@dataclass(frozen=True)
class Bottleneck:
    """A bottleneck raised once (`key`); `description` is personal (sealed in the event)."""

    bottleneck_id: uuid.UUID
    key: str
    kind: str
    action_id: uuid.UUID | None
    checkin_id: uuid.UUID | None
    description: str | None
    detected_at: datetime
    actor: str

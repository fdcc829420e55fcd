"""Follow-up's use cases and queries on follow-ups (its reactions to planning's events are
in `consumers.py`, what it publishes in `publications.py`)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from eventsourcing.application import AggregateNotFoundError

from services.followup.domain import FollowUp, followup_id_for
from shared.errors import NotFound
from shared.eventstore import ServiceApplication
from shared.privacy import PersonalFields


class FollowUpApplication(ServiceApplication):
    name = "followup"

    personal_data: ClassVar[dict[type, PersonalFields]] = {
        FollowUp.ContactRecorded: PersonalFields(("notes",), subject="client_id"),
        FollowUp.ActionChecked: PersonalFields(("bottleneck",), subject="client_id"),
        FollowUp.BottleneckDetected: PersonalFields(("description",), subject="client_id"),
        FollowUp.ToDoAgreed: PersonalFields(("description",), subject="client_id"),
        FollowUp.FeedbackGiven: PersonalFields(("comments",), subject="client_id"),
        FollowUp.FollowUpClosed: PersonalFields(("reason", "notes"), subject="client_id"),
    }

    # -- queries -----------------------------------------------------------------------
    def existing(self, case_id: uuid.UUID) -> FollowUp | None:
        """The case's follow-up, whatever its organisation; None before its plan is agreed."""
        try:
            found: object = self.repository.get(followup_id_for(case_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, FollowUp) else None

    def followup(self, followup_id: uuid.UUID, organisation: str) -> FollowUp:
        """The follow-up of this organisation; another organisation's reads exactly as
        one that does not exist (same detail)."""
        absent = NotFound(f"No follow-up {followup_id}.")
        try:
            followup = self.load(FollowUp, followup_id)
        except NotFound:
            raise absent from None
        if followup.organisation != organisation:
            raise absent
        return followup

    def followup_for_case(self, case_id: uuid.UUID, organisation: str) -> FollowUp | None:
        try:
            return self.followup(followup_id_for(case_id), organisation)
        except NotFound:
            return None

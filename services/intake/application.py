"""Intake's use cases (commands) and its aggregate queries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import ClassVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.intake.domain import (
    ENDED,
    Case,
    Client,
    ClientErasure,
    Complaint,
    GroupSession,
    IntakeError,
    Objective,
    Objectives,
)
from services.intake.domain.objectives import objectives_id
from shared.errors import NotFound, VersionConflict
from shared.eventstore import ServiceApplication
from shared.idempotency import new_id
from shared.privacy import ERASED, PersonalFields


class IntakeApplication(ServiceApplication):
    name = "intake"

    personal_data: ClassVar[dict[type, PersonalFields]] = {
        Client.Registered: PersonalFields(
            ("given_name", "family_name", "birth_date", "email", "phone")
        ),
        Case.Opened: PersonalFields(("career_question",), subject="client_id"),
        Case.EntryChecked: PersonalFields(("notes",), subject="client_id"),
        Case.Accepted: PersonalFields(("reason", "budget_reason"), subject="client_id"),
        Case.ReferredOut: PersonalFields(("reason",), subject="client_id"),
        Case.Declined: PersonalFields(("reason",), subject="client_id"),
        Case.SessionNotesRecorded: PersonalFields(
            ("discussed", "insights", "agreements", "homework"), subject="client_id"
        ),
        Case.ReportDrafted: PersonalFields(
            ("starting_question", "insights", "conclusions", "actions"), subject="client_id"
        ),
        Case.ReportRevised: PersonalFields(
            ("starting_question", "insights", "conclusions", "actions"), subject="client_id"
        ),
        Case.FileClosed: PersonalFields(("summary",), subject="client_id"),
        Case.Reassigned: PersonalFields(("reason",), subject="client_id"),
        Case.AppointmentCancelled: PersonalFields(("reason",), subject="client_id"),
        Case.BudgetExtended: PersonalFields(("reason",), subject="client_id"),
        Complaint.Registered: PersonalFields(("subject",), subject="client_id"),
        Complaint.Answered: PersonalFields(("answer",), subject="client_id"),
    }

    # -- clients -------------------------------------------------------------------------
    def register_client(
        self,
        *,
        organisation: str,
        actor: str,
        given_name: str,
        family_name: str,
        birth_date: date,
        email: str,
        phone: str | None = None,
        preferred_language: str | None = None,
    ) -> uuid.UUID:
        client = Client.register(
            client_id=new_id(),
            organisation=organisation,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            email=email,
            phone=phone,
            preferred_language=preferred_language,
            actor=actor,
            at=self.clock(),
        )
        self.save(client)
        return client.id

    def client(self, client_id: uuid.UUID, organisation: str) -> Client:
        """The client of this organisation (another organisation's reads as absent)."""
        client = self.load(Client, client_id)
        if client.organisation != organisation or client.given_name == ERASED:
            raise NotFound(f"No client {client_id}.")
        return client

    def load_client(self, client_id: uuid.UUID) -> Client | None:
        """The client, whoever's (the caller checked the organisation through a case)."""
        try:
            return self.load(Client, client_id)
        except (AggregateNotFoundError, NotFound):
            return None

    def record_consent(
        self,
        client_id: uuid.UUID,
        *,
        organisation: str,
        actor: str,
        purpose: str,
        granted: bool,
        partner_id: uuid.UUID | None = None,
        data_categories: list[str] | None = None,
        expected_version: int | None = None,
    ) -> tuple[uuid.UUID, int]:
        """Grant or withdraw a consent; the consent's id and the client's new version."""
        command = consent_change(
            actor=actor,
            purpose=purpose,
            granted=granted,
            partner_id=partner_id,
            data_categories=data_categories,
        )
        consent_id, client = self.change(
            lambda: self.client(client_id, organisation), expected_version, command
        )
        return consent_id, client.version

    # -- cases ---------------------------------------------------------------------------
    def open_case(
        self, *, client_id: uuid.UUID, organisation: str, actor: str, career_question: str
    ) -> uuid.UUID:
        client = self.client(client_id, organisation)
        case = Case.open(
            case_id=new_id(),
            client=client,
            organisation=organisation,
            career_question=career_question,
            hours_budget=self.settings.hours_budget_default,
            actor=actor,
            at=self.clock(),
        )
        self.save(case)
        return case.id

    def case(self, case_id: uuid.UUID, organisation: str) -> Case:
        case = self.load(Case, case_id)
        if case.organisation != organisation:
            raise NotFound(f"No case {case_id}.")
        return case

    def reassign_cases(
        self,
        case_ids: list[uuid.UUID],
        *,
        organisation: str,
        counsellor: str,
        reason: str,
        actor: str,
    ) -> list[uuid.UUID]:
        """Hand each of the cases (of this organisation, still carried: open or accepted)
        to `counsellor`, all saved at once; the ids of those handed over (a case already
        the counsellor's, or ended meanwhile, is left as it is)."""
        if not counsellor.strip():
            raise IntakeError("invalid", "Name the counsellor to hand them to.", "to_counsellor")
        if not reason.strip():
            raise IntakeError("invalid", "Say why the cases are handed over.", "reason")
        for attempt in range(3):
            at = self.clock()
            changed: list[Case] = []
            for case_id in case_ids:
                case = self.case(case_id, organisation)
                if case.status not in ("open", "accepted"):
                    continue
                if case.reassign(counsellor=counsellor, reason=reason, actor=actor, at=at):
                    changed.append(case)
            try:
                self.save(*changed)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            return [c.id for c in changed]
        raise AssertionError("unreachable")

    # -- complaints ----------------------------------------------------------------------
    def register_complaint(
        self,
        *,
        client_id: uuid.UUID,
        organisation: str,
        actor: str,
        subject: str,
        case_id: uuid.UUID | None = None,
    ) -> Complaint:
        """Register the client's complaint (about one of their cases, if named); its answer
        is due `complaint_answer_days` later."""
        client = self.client(client_id, organisation)
        if case_id is not None:
            try:
                case = self.case(case_id, organisation)
            except NotFound:
                raise IntakeError("invalid", f"No case {case_id}.", "case_id") from None
            if case.client_id != client.id:
                raise IntakeError("invalid", "The case is another client's.", "case_id")
        complaint = Complaint.register(
            complaint_id=new_id(),
            organisation=organisation,
            client_id=client.id,
            case_id=case_id,
            subject=subject,
            answer_within_days=self.settings.complaint_answer_days,
            actor=actor,
            at=self.clock(),
        )
        self.save(complaint)
        return complaint

    def complaint(self, complaint_id: uuid.UUID, organisation: str) -> Complaint:
        """The complaint, of this organisation (another's reads as absent)."""
        complaint = self.load(Complaint, complaint_id)
        if complaint.organisation != organisation:
            raise NotFound(f"No complaint {complaint_id}.")
        return complaint

    # -- the organisation's objectives ----------------------------------------------------
    def _objectives(self, organisation: str) -> Objectives | None:
        try:
            return self.load(Objectives, objectives_id(organisation))
        except NotFound:
            return None

    def objectives(self, organisation: str) -> tuple[list[Objective], int]:
        """The organisation's objectives (none set yet: an empty list) and their version."""
        found = self._objectives(organisation)
        return ([], 0) if found is None else (found.listed(), found.version)

    def set_objective(
        self,
        *,
        organisation: str,
        actor: str,
        metric: str,
        target: float,
        starts_on: date,
        ends_on: date,
        programme: str | None,
    ) -> tuple[uuid.UUID, int]:
        """A team lead's objective; the first one starts the organisation's objectives.
        A `programme` must be one of `budget_programmes` or `other` (other hours)."""
        known = self.settings.budget_programmes
        if programme is not None and programme != "other" and programme not in known:
            raise IntakeError("invalid", f"Unknown programme {programme!r}.", "programme")
        at = self.clock()
        objectives = self._objectives(organisation) or Objectives.start(organisation, at)
        objective_id = new_id()
        objectives.set_objective(
            objective_id=objective_id,
            metric=metric,
            target=target,
            starts_on=starts_on,
            ends_on=ends_on,
            programme=programme,
            actor=actor,
            at=at,
        )
        self.save(objectives)
        return objective_id, objectives.version

    def withdraw_objective(self, *, organisation: str, actor: str, objective_id: uuid.UUID) -> int:
        objectives = self._objectives(organisation)
        if objectives is None:
            raise NotFound(f"No objective {objective_id}.")
        objectives.withdraw(objective_id, actor, self.clock())
        self.save(objectives)
        return objectives.version

    # -- group sessions ------------------------------------------------------------------
    def plan_group(
        self,
        *,
        organisation: str,
        actor: str,
        topic: str,
        starts_at: datetime,
        minutes: int,
        place: str,
        case_ids: list[uuid.UUID],
    ) -> GroupSession:
        """Plan a group session with its first participants (cases of this organisation
        still in guidance), saved at once."""
        at = self.clock()
        group = GroupSession.plan(
            group_id=new_id(),
            organisation=organisation,
            topic=topic,
            starts_at=starts_at,
            minutes=minutes,
            place=place,
            actor=actor,
            at=at,
        )
        for case_id in case_ids:
            self.participant(case_id, organisation)
            group.add_participant(case_id=case_id, actor=actor, at=at)
        self.save(group)
        return group

    def group(self, group_id: uuid.UUID, organisation: str) -> GroupSession:
        """The group session, of this organisation (another's reads as absent)."""
        try:
            group = self.load(GroupSession, group_id)
        except NotFound:
            raise NotFound(f"No group session {group_id}.") from None
        if group.organisation != organisation:
            raise NotFound(f"No group session {group_id}.")
        return group

    def participant(self, case_id: uuid.UUID, organisation: str) -> Case:
        """A case that may take part in a group session: of this organisation, in guidance."""
        try:
            case = self.case(case_id, organisation)
        except NotFound:
            raise IntakeError("invalid", f"No case {case_id}.", "case_id") from None
        if case.status in ENDED:
            raise IntakeError("invalid", f"Case {case_id} has ended ({case.status}).", "case_id")
        return case

    def hold_group(
        self,
        group_id: uuid.UUID,
        *,
        organisation: str,
        actor: str,
        held_at: datetime | None,
        minutes: int | None,
        present: dict[uuid.UUID, dict[str, str | None]],
        expected_version: int | None = None,
    ) -> GroupSession:
        """Record the group session held: on the group, who was present and who absent;
        on each participant's case, their part (a `group` session with their own notes, or
        their absence). The group and every participant's case are saved in ONE
        transaction (the application's save of several aggregates at once): all or none."""
        for attempt in range(3):
            at = self.clock()
            group = self.group(group_id, organisation)
            if expected_version is not None and group.version != expected_version:
                raise VersionConflict(
                    f"It is at version {group.version}, not {expected_version}; reload and retry."
                )
            when = held_at or group.starts_at
            length = minutes or group.minutes
            group.hold(held_at=when, minutes=length, present=list(present), actor=actor, at=at)
            cases = []
            for case_id in group.participants:
                case = self.case(case_id, organisation)
                try:
                    case.note_group_session(
                        group_id=group.id,
                        topic=group.topic,
                        held_at=when,
                        minutes=length,
                        present=case_id in present,
                        notes=present.get(case_id),
                        actor=actor,
                        at=at,
                    )
                except IntakeError as e:
                    raise IntakeError(
                        e.code, f"Case {case_id}: {e.message}", "attendance"
                    ) from None
                cases.append(case)
            try:
                self.save(group, *cases)
            except IntegrityError:
                if expected_version is not None or attempt == 2:
                    raise
                continue
            return group
        raise AssertionError("unreachable")

    # -- erasure and legal holds ---------------------------------------------------------
    def erasure(self, client_id: uuid.UUID, organisation: str) -> ClientErasure:
        """The client's erasure record (holds, refusals, request, confirmations); a new,
        unsaved one when nothing was recorded yet. The client may be erased already."""
        client = self.load(Client, client_id)
        if client.organisation != organisation:
            raise NotFound(f"No client {client_id}.")
        try:
            record: object = self.repository.get(ClientErasure.id_for(client_id))
        except AggregateNotFoundError:
            return ClientErasure.start(client_id, organisation, self.clock())
        assert isinstance(record, ClientErasure)
        return record

    def holds_of_case(self, case_id: uuid.UUID, organisation: str) -> ClientErasure:
        """The erasure record of the case's client, for its legal holds (unsaved, and so
        with pending events, when nothing was recorded yet)."""
        case = self.case(case_id, organisation)
        return self.erasure(case.client_id, organisation)

    def set_legal_hold(
        self, case_id: uuid.UUID, *, organisation: str, hold: bool, reason: str | None, actor: str
    ) -> ClientErasure:
        """Place (or lift) a legal hold on the case: its client cannot be erased."""
        case = self.case(case_id, organisation)

        def command(record: ClientErasure, at: datetime) -> None:
            if hold:
                record.place_hold(case_id=case_id, reason=reason or "", actor=actor, at=at)
            else:
                record.lift_hold(case_id=case_id, actor=actor, at=at)

        _, record = self.change(lambda: self.erasure(case.client_id, organisation), None, command)
        return record

    def request_erasure(
        self, client_id: uuid.UUID, *, organisation: str, reason: str, actor: str
    ) -> ClientErasure:
        """Erase the client: refused (and the refusal recorded) under a legal hold; else
        recorded, then the data key destroyed. Asking again changes nothing."""

        def command(record: ClientErasure, at: datetime) -> list[uuid.UUID]:
            if record.requested is not None:
                return []
            held = record.refuse_if_held(reason=reason, actor=actor, at=at)
            if not held:
                record.request(reason=reason, actor=actor, at=at)
            return held

        held, record = self.change(lambda: self.erasure(client_id, organisation), None, command)
        if held:
            raise IntakeError(
                "legal-hold",
                f"The client's case(s) {', '.join(map(str, held))} are under a legal "
                "hold; the erasure is refused (and the refusal recorded).",
            )
        # Destroyed after recording: should this process die in between, intake's own
        # erasure consumer destroys it before confirming.
        self.vault.destroy(client_id, by=actor, reason=reason)
        return record

    def confirm_erasure(self, service: str, client_id: uuid.UUID) -> list[ClientErasure]:
        """A service's ErasureConfirmed: noted on the record; the fourth completes it."""
        try:
            record: object = self.repository.get(ClientErasure.id_for(client_id))
        except AggregateNotFoundError:
            return []
        assert isinstance(record, ClientErasure)
        return [record] if record.confirm(service=service, at=self.clock()) else []


def consent_change(
    *,
    actor: str,
    purpose: str,
    granted: bool,
    partner_id: uuid.UUID | None = None,
    data_categories: list[str] | None = None,
) -> Callable[[Client, datetime], uuid.UUID]:
    """The command granting or withdrawing a consent on a client: it returns the consent's
    id. A withdrawal naming data categories is refused before the client is read."""
    if not granted and data_categories:
        raise IntakeError(
            "invalid",
            "A withdrawal withdraws the whole consent; to narrow a referral consent, "
            "grant it again with fewer data categories.",
            "data_categories",
        )

    def command(client: Client, at: datetime) -> uuid.UUID:
        if granted:
            client.grant_consent(
                consent_id=new_id(),
                purpose=purpose,
                partner_id=partner_id,
                data_categories=list(data_categories or []),
                actor=actor,
                at=at,
            )
        else:
            client.withdraw_consent(
                consent_id=new_id(), purpose=purpose, partner_id=partner_id, actor=actor, at=at
            )
        return client.consent_history[-1].consent_id

    return command

"""Reads of personal data, recorded as events (GDPR accountability).

Every read of a client's personal data through an API (a client's detail, an export, a
referral packet or letter, an audit view that shows personal data) is recorded as one
`DataAccess` aggregate with a single event: who read (subject, role, organisation and,
for a partner, its id), for what purpose, whose data (client, case), which data
categories, through which resource, when, and for an audit read the audit scope the
reader used (`["*"]` or the organisations). A record is never changed: one aggregate
per read keeps reads from contending with each other or with the case they concern.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from shared.auth import Principal
from shared.ids import time_ordered_uuid


class DataAccess(Aggregate):
    class Recorded(Aggregate.Created):
        # v2 added `audit_scope`; reads recorded before it kept none.
        class_version = 2
        client_id: uuid.UUID
        case_id: uuid.UUID | None
        referral_id: uuid.UUID | None
        actor: str
        role: str
        organisation: str
        partner_id: uuid.UUID | None
        purpose: str
        resource: str
        categories: list[str]
        audit_scope: list[str] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["audit_scope"] = None

    def __init__(
        self,
        client_id: uuid.UUID,
        case_id: uuid.UUID | None,
        referral_id: uuid.UUID | None,
        actor: str,
        role: str,
        organisation: str,
        partner_id: uuid.UUID | None,
        purpose: str,
        resource: str,
        categories: list[str],
        audit_scope: list[str] | None = None,
    ) -> None:
        self.client_id = client_id
        self.case_id = case_id
        self.referral_id = referral_id
        self.actor = actor
        self.role = role
        self.organisation = organisation
        self.partner_id = partner_id
        self.purpose = purpose
        self.resource = resource
        self.categories = categories
        self.audit_scope = audit_scope

    @classmethod
    def record(
        cls,
        who: Principal,
        *,
        client_id: uuid.UUID,
        purpose: str,
        resource: str,
        categories: list[str],
        at: datetime,
        case_id: uuid.UUID | None = None,
        referral_id: uuid.UUID | None = None,
        partner_id: uuid.UUID | None = None,
        access_id: uuid.UUID | None = None,
        audit_scope: list[str] | None = None,
    ) -> DataAccess:
        """One read by `who`; its role is the most specific role of the token, and the
        partner is the reader's own or the one the data is read for (`partner_id`)."""
        return cls._create(
            cls.Recorded,
            id=access_id or time_ordered_uuid(),
            timestamp=at,
            client_id=client_id,
            case_id=case_id,
            referral_id=referral_id,
            actor=who.sub,
            role=main_role(who),
            organisation=who.org,
            partner_id=partner_id or who.partner_id,
            purpose=purpose,
            resource=resource,
            categories=list(categories),
            audit_scope=audit_scope,
        )


ROLE_ORDER = ("partner", "auditor", "admin", "team_lead", "counsellor")


def main_role(who: Principal) -> str:
    """The role a read is recorded under (a token may hold several)."""
    for role in ROLE_ORDER:
        if who.has(role):
            return role
    return sorted(who.roles)[0] if who.roles else "unknown"


def record_read(
    app: Any,
    who: Principal,
    *,
    client_id: uuid.UUID,
    resource: str,
    categories: list[str],
    case_id: uuid.UUID | None = None,
    referral_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    purpose: str | None = None,
    audit_scope: list[str] | None = None,
) -> DataAccess:
    """Record (save) one read of a client's personal data through an API; synchronous,
    call it off the event loop. The purpose defaults to the role's: staff read for
    `guidance`, auditors for `audit`."""
    if purpose is None:
        purpose = "audit" if main_role(who) == "auditor" else "guidance"
    access = DataAccess.record(
        who,
        client_id=client_id,
        case_id=case_id,
        referral_id=referral_id,
        partner_id=partner_id,
        purpose=purpose,
        resource=resource,
        categories=categories,
        at=app.clock(),
        audit_scope=audit_scope,
    )
    app.save(access)
    return access


def record_reads(
    app: Any,
    who: Principal,
    *,
    client_ids: list[uuid.UUID],
    resource: str,
    categories: list[str],
    purpose: str | None = None,
) -> list[DataAccess]:
    """Record one read per client (in order, each once) of a list that showed personal
    data of several clients, saved together in one write; synchronous, call it off the
    event loop. Nothing is saved for an empty list."""
    if purpose is None:
        purpose = "audit" if main_role(who) == "auditor" else "guidance"
    at = app.clock()
    accesses = [
        DataAccess.record(
            who, client_id=c, purpose=purpose, resource=resource, categories=categories, at=at
        )
        for c in dict.fromkeys(client_ids)
    ]
    if accesses:
        app.save(*accesses)
    return accesses

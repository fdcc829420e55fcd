"""Referral's part of a client's export: the client's referrals (partner, reason,
categories, consent, status and its times, answers, outcome, resumption, history), the
copies of the client's data referral keeps for packets, and the recipients: every
referral sent to a partner and every recorded read of the data by or for a partner.

Personal fields are opened (ERASED where the client's key is gone). The recorded reads
are the `DataAccess` events of referral's own event store (the source of truth: no
read model stands between a read and its listing here).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any

import asyncpg
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from starlette.concurrency import run_in_threadpool

from services.referral.application import ReferralApplication
from services.referral.domain import Partner, Referral
from shared.audit.access import DataAccess
from shared.messaging.follower import LogFollower
from shared.privacy import is_sealed
from shared.privacy.export import jsonable
from shared.privacy.gathering import event_history, read_models_current

ACCESS_TOPIC = get_topic(DataAccess.Recorded)
PAGE = 1000


def referral_part(
    app: ReferralApplication, r: Referral, partner_name: str | None
) -> dict[str, Any]:
    return {
        "referral_id": r.id,
        "case_id": r.case_id,
        "organisation": r.organisation,
        "partner": {"partner_id": r.partner_id, "name": partner_name},
        "reason": r.reason,
        "data_categories": r.data_categories,
        "consent_id": r.consent_id,
        "status": r.status,
        "proposed_at": r.created_on,
        "proposed_by": r.proposed_by,
        "sent_at": r.sent_at,
        "acknowledged_at": r.acknowledged_at,
        "answered_at": r.answered_at,
        "decline_reason": r.decline_reason,
        "outcome": None if r.outcome is None else asdict(r.outcome),
        "closed_at": r.closed_at,
        "closing_note": r.closing_note,
        "withdrawal_reason": r.withdrawal_reason,
        "overdue": r.overdue,
        "overdue_since": r.overdue_since,
        "consent_revoked": r.consent_revoked,
        "consent_revoked_at": r.consent_revoked_at,
        "resumption": None if r.resumption is None else asdict(r.resumption),
        "packet_removed_at": r.packet_removed_at,
        "packet_removal_rule": r.packet_removal_rule,
        "updated_at": r.modified_on,
        "version": r.version,
        "history": event_history(app, r.id),
    }


class _Partners:
    """Partner names, each loaded once."""

    def __init__(self, app: ReferralApplication) -> None:
        self.app = app
        self.names: dict[uuid.UUID, str | None] = {}

    def name(self, partner_id: uuid.UUID | None) -> str | None:
        if partner_id is None:
            return None
        if partner_id not in self.names:
            try:
                partner: object = self.app.repository.get(partner_id)
            except AggregateNotFoundError:
                partner = None
            self.names[partner_id] = partner.name if isinstance(partner, Partner) else None
        return self.names[partner_id]


def reads_of(app: ReferralApplication, client_id: uuid.UUID) -> list[DataAccess.Recorded]:
    """Every recorded read of the client's data in referral's event store, oldest first."""
    found: list[DataAccess.Recorded] = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start, PAGE, topics=[ACCESS_TOPIC])
        for n in batch:
            event = app.mapper.to_domain_event(n)
            if isinstance(event, DataAccess.Recorded) and event.client_id == client_id:
                found.append(event)
        if len(batch) < PAGE:
            return found
        start = batch[-1].id + 1


def _collect(
    app: ReferralApplication, client_id: uuid.UUID, referral_ids: list[uuid.UUID]
) -> dict[str, Any]:
    partners = _Partners(app)
    loaded: list[object] = [app.repository.get(i) for i in referral_ids]
    referrals = [r for r in loaded if isinstance(r, Referral)]
    consent_of = {r.id: r.consent_id for r in referrals}
    recipients: list[dict[str, Any]] = [
        {
            "kind": "referral",
            "at": r.sent_at,
            "partner_id": r.partner_id,
            "partner_name": partners.name(r.partner_id),
            "categories": list(r.data_categories),
            "consent_id": r.consent_id,
            "referral_id": r.id,
        }
        for r in referrals
        if r.sent_at is not None
    ]
    for read in reads_of(app, client_id):
        if read.partner_id is None:
            continue  # not a disclosure to a partner (e.g. an auditor's read)
        recipients.append(
            {
                "kind": "access",
                "at": read.timestamp,
                "partner_id": read.partner_id,
                "partner_name": partners.name(read.partner_id),
                "categories": list(read.categories),
                "consent_id": consent_of.get(read.referral_id) if read.referral_id else None,
                "referral_id": read.referral_id,
                "access_id": read.originator_id,
                "actor": read.actor,
                "role": read.role,
                "organisation": read.organisation,
                "purpose": read.purpose,
                "resource": read.resource,
            }
        )
    recipients.sort(key=lambda item: item["at"])
    return {
        "referrals": [referral_part(app, r, partners.name(r.partner_id)) for r in referrals],
        "recipients": recipients,
    }


def _opened_copies(app: ReferralApplication, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = dict(row)
        value = _loads(item.pop("value"))
        if is_sealed(value):
            value = app.sealing.open_field(value, item["event_id"], item["field"])
        item["value"] = value
        item["detail"] = _loads(item["detail"])
        out.append(item)
    return out


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def gather(
    app: ReferralApplication,
    pool: asyncpg.Pool,
    client_id: uuid.UUID,
    projection: LogFollower | None = None,
) -> dict[str, Any]:
    """Everything referral holds about the client."""
    await read_models_current(app, pool, projection, app.settings.export_timeout_seconds / 2)
    rows = await pool.fetch(
        "SELECT referral_id FROM referral.referrals_view WHERE client_id = $1 "
        "ORDER BY proposed_at, referral_id",
        client_id,
    )
    part = await run_in_threadpool(_collect, app, client_id, [r["referral_id"] for r in rows])
    consents = await pool.fetch(
        "SELECT consent_id, purpose, partner_id, data_categories, granted, changed_at "
        "FROM referral.consents WHERE client_id = $1 ORDER BY changed_at",
        client_id,
    )
    copies = await pool.fetch(
        "SELECT category, field, case_id, event_id, value, detail, recorded_at "
        "FROM referral.sealed_copies WHERE client_id = $1 ORDER BY category, recorded_at, field",
        client_id,
    )
    part["consents"] = [
        {**dict(c), "data_categories": list(c["data_categories"])} for c in consents
    ]
    part["copies"] = await run_in_threadpool(_opened_copies, app, list(copies))
    out: dict[str, Any] = jsonable(part)
    return out

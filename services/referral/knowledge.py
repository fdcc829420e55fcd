"""What referral knows of clients, cases and plans: read models fed by other services' events.

Referral never reads another service's tables. Two `ReadModelConsumer`s (one on
intake's stream, one on planning's) keep:

- `referral.consents`: the current state of each referral consent per (client, purpose,
  partner). A newer event wins: a change is applied only when its log `position` is
  above the stored one, so a late, older event cannot undo a newer one. Only consents
  of purpose `referral` are kept (referral has no use for the others).
- `referral.cases`: each case's client and organisation, and whether it was accepted.
- `referral.client_languages`: each client's preferred language (not personal), the
  default language of the referral letter the counsellor prints.
- `referral.sealed_copies`: copies of what a packet may carry, per data category. The
  personal values stay sealed exactly as published, each with the id of the event it
  came from and its field name (the AAD it was sealed with), so it opens only with the
  client's key at read time. Assessments and the plan summary are not personal and are
  kept as plain jsonb; `detail` holds non-personal context (goal id, assessor, ...).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg

from shared.messaging.consumer import ReadModelHandler
from shared.messaging.envelope import CloudEvent
from shared.vocabulary import DATA_CATEGORIES

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS referral.consents (
    client_id uuid NOT NULL,
    purpose text NOT NULL,
    partner_id uuid NOT NULL,
    data_categories text[] NOT NULL,
    granted boolean NOT NULL,
    consent_id uuid NOT NULL,
    organisation text NOT NULL,
    changed_at timestamptz NOT NULL,
    source_position bigint NOT NULL,
    event_id uuid NOT NULL,
    PRIMARY KEY (client_id, purpose, partner_id)
);
CREATE TABLE IF NOT EXISTS referral.cases (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    accepted boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS referral.sealed_copies (
    event_id uuid NOT NULL,
    field text NOT NULL,
    client_id uuid NOT NULL,
    case_id uuid,
    category text NOT NULL CHECK (
        category IN ('identity', 'contact', 'career_question', 'assessments', 'plan')
    ),
    value jsonb NOT NULL,
    detail jsonb,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, field)
);
CREATE INDEX IF NOT EXISTS sealed_copies_client ON referral.sealed_copies (client_id, category);
CREATE INDEX IF NOT EXISTS sealed_copies_case ON referral.sealed_copies (case_id, category);
-- The case's counsellor (CaseOpened's actor, or CaseAccepted's `counsellor`); added later.
ALTER TABLE referral.cases ADD COLUMN IF NOT EXISTS counsellor text;
-- The client's preferred language (from ClientRegistered); added later, so clients
-- registered before it have none (their letter is in Dutch unless asked).
CREATE TABLE IF NOT EXISTS referral.client_languages (
    client_id uuid PRIMARY KEY,
    preferred_language text NOT NULL
);
"""

CATEGORIES = DATA_CATEGORIES
CLIENT_FIELDS = {
    "given_name": "identity",
    "family_name": "identity",
    "birth_date": "identity",
    "email": "contact",
    "phone": "contact",
}


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _copy(
    conn: asyncpg.Connection,
    event: CloudEvent,
    *,
    field: str,
    client_id: uuid.UUID,
    case_id: uuid.UUID | None,
    category: str,
    value: Any,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO referral.sealed_copies (event_id, field, client_id, case_id, category, "
        "value, detail, recorded_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::jsonb,$8) "
        "ON CONFLICT (event_id, field) DO NOTHING",
        event.id,
        field,
        client_id,
        case_id,
        category,
        _json(value),
        None if detail is None else _json(detail),
        event.time,
    )


# -- intake ------------------------------------------------------------------------------------
async def on_client_registered(conn: asyncpg.Connection, event: CloudEvent) -> None:
    d = event.data
    client_id = uuid.UUID(d["client_id"])
    if d.get("preferred_language"):
        await conn.execute(
            "INSERT INTO referral.client_languages (client_id, preferred_language) "
            "VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING",
            client_id,
            str(d["preferred_language"]),
        )
    for field, category in CLIENT_FIELDS.items():
        value = d.get(field)
        if value is not None:
            await _copy(
                conn,
                event,
                field=field,
                client_id=client_id,
                case_id=None,
                category=category,
                value=value,
            )


async def _consent_changed(conn: asyncpg.Connection, event: CloudEvent, granted: bool) -> None:
    d = event.data
    if d.get("purpose") != "referral" or d.get("partner_id") is None:
        return
    await conn.execute(
        "INSERT INTO referral.consents (client_id, purpose, partner_id, data_categories, "
        "granted, consent_id, organisation, changed_at, source_position, event_id) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
        "ON CONFLICT (client_id, purpose, partner_id) DO UPDATE SET "
        "data_categories = CASE WHEN EXCLUDED.granted THEN EXCLUDED.data_categories "
        "ELSE referral.consents.data_categories END, "
        "granted = EXCLUDED.granted, consent_id = EXCLUDED.consent_id, "
        "organisation = EXCLUDED.organisation, changed_at = EXCLUDED.changed_at, "
        "source_position = EXCLUDED.source_position, event_id = EXCLUDED.event_id "
        "WHERE referral.consents.source_position < EXCLUDED.source_position",
        uuid.UUID(d["client_id"]),
        d["purpose"],
        uuid.UUID(d["partner_id"]),
        list(d.get("data_categories") or []),
        granted,
        uuid.UUID(d["consent_id"]),
        d["organisation"],
        event.time,
        event.position or 0,
        event.id,
    )


async def on_consent_granted(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await _consent_changed(conn, event, True)


async def on_consent_withdrawn(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await _consent_changed(conn, event, False)


async def on_case_opened(conn: asyncpg.Connection, event: CloudEvent) -> None:
    d = event.data
    case_id, client_id = uuid.UUID(d["case_id"]), uuid.UUID(d["client_id"])
    await conn.execute(
        "WITH c AS (INSERT INTO referral.cases (case_id, client_id, organisation, counsellor) "
        "VALUES ($1,$2,$3,$4) ON CONFLICT (case_id) DO UPDATE "
        "SET counsellor = coalesce(referral.cases.counsellor, EXCLUDED.counsellor) "
        f"RETURNING case_id, counsellor) {COUNSELLOR_OF_REFERRALS}",
        case_id,
        client_id,
        d["organisation"],
        d["actor"],
    )
    await _copy(
        conn,
        event,
        field="career_question",
        client_id=client_id,
        case_id=case_id,
        category="career_question",
        value=d["career_question"],
    )


async def on_case_accepted(conn: asyncpg.Connection, event: CloudEvent) -> None:
    d = event.data
    # It may come before CaseOpened: it carries all a row needs (the counsellor since
    # it carries one).
    await conn.execute(
        "WITH c AS (INSERT INTO referral.cases (case_id, client_id, organisation, accepted, "
        "counsellor) VALUES ($1,$2,$3,true,$4) ON CONFLICT (case_id) DO UPDATE "
        "SET accepted = true, "
        "counsellor = coalesce(referral.cases.counsellor, EXCLUDED.counsellor) "
        f"RETURNING case_id, counsellor) {COUNSELLOR_OF_REFERRALS}",
        uuid.UUID(d["case_id"]),
        uuid.UUID(d["client_id"]),
        d["organisation"],
        d.get("counsellor"),
    )


# After the case's row is written (`c`, in the same statement): its counsellor onto its
# referrals listed before the counsellor was known here.
COUNSELLOR_OF_REFERRALS = (
    "UPDATE referral.referrals_view r SET counsellor = c.counsellor FROM c "
    "WHERE r.case_id = c.case_id AND r.counsellor IS NULL AND c.counsellor IS NOT NULL"
)


async def on_assessment_recorded(conn: asyncpg.Connection, event: CloudEvent) -> None:
    d = event.data
    await _copy(
        conn,
        event,
        field="scores",
        client_id=uuid.UUID(d["client_id"]),
        case_id=uuid.UUID(d["case_id"]),
        category="assessments",
        value=d["scores"],
        detail={"assessment_id": d["assessment_id"], "assessor": d["assessor"]},
    )


INTAKE_HANDLERS: dict[str, ReadModelHandler] = {
    "ClientRegistered": on_client_registered,
    "ConsentGranted": on_consent_granted,
    "ConsentWithdrawn": on_consent_withdrawn,
    "CaseOpened": on_case_opened,
    "CaseAccepted": on_case_accepted,
    "AssessmentRecorded": on_assessment_recorded,
}


# -- planning ----------------------------------------------------------------------------------
async def on_plan_agreed(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Keep only the latest agreed version of a case's plan summary."""
    d = event.data
    case_id, version = uuid.UUID(d["case_id"]), int(d["version"])
    newer = await conn.fetchval(
        "SELECT true FROM referral.sealed_copies WHERE case_id = $1 AND category = 'plan' "
        "AND field = 'summary' AND (value->>'version')::int >= $2 LIMIT 1",
        case_id,
        version,
    )
    if newer:
        return
    await conn.execute(
        "DELETE FROM referral.sealed_copies WHERE case_id = $1 AND category = 'plan' "
        "AND field = 'summary'",
        case_id,
    )
    summary = {
        "plan_id": d["plan_id"],
        "version": version,
        "actions": [
            {
                "action_id": a["action_id"],
                "goal_id": a["goal_id"],
                "owner": a["owner"],
                "due_date": a["due_date"],
                "status": a["status"],
            }
            for a in d.get("actions", [])
        ],
    }
    await _copy(
        conn,
        event,
        field="summary",
        client_id=uuid.UUID(d["client_id"]),
        case_id=case_id,
        category="plan",
        value=summary,
    )


async def on_goal_added(conn: asyncpg.Connection, event: CloudEvent) -> None:
    d = event.data
    await _copy(
        conn,
        event,
        field="title",
        client_id=uuid.UUID(d["client_id"]),
        case_id=uuid.UUID(d["case_id"]),
        category="plan",
        value=d["title"],
        detail={
            "plan_id": d["plan_id"],
            "goal_id": d["goal_id"],
            "priority": d.get("priority"),
            "target_date": d.get("target_date"),
        },
    )


PLANNING_HANDLERS: dict[str, ReadModelHandler] = {
    "PlanAgreed": on_plan_agreed,
    "GoalAdded": on_goal_added,
}


# -- queries -----------------------------------------------------------------------------------
async def consent_for(
    pool: asyncpg.Pool, client_id: uuid.UUID, partner_id: uuid.UUID
) -> list[str] | None:
    """The categories the client consents to share with the partner, or None."""
    row = await pool.fetchrow(
        "SELECT data_categories FROM referral.consents WHERE client_id = $1 "
        "AND purpose = 'referral' AND partner_id = $2 AND granted",
        client_id,
        partner_id,
    )
    return None if row is None else list(row["data_categories"])


async def consent_record(
    pool: asyncpg.Pool, client_id: uuid.UUID, partner_id: uuid.UUID
) -> dict[str, Any] | None:
    """The whole current consent row (granted or not), or None."""
    row = await pool.fetchrow(
        "SELECT * FROM referral.consents WHERE client_id = $1 AND purpose = 'referral' "
        "AND partner_id = $2",
        client_id,
        partner_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["data_categories"] = list(out["data_categories"])
    return out


async def case_info(pool: asyncpg.Pool, case_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT case_id, client_id, organisation, accepted FROM referral.cases WHERE case_id = $1",
        case_id,
    )
    return None if row is None else dict(row)


async def preferred_language(pool: asyncpg.Pool, client_id: uuid.UUID) -> str | None:
    """The client's preferred language as intake registered it (`fr-BE`), None if unknown."""
    value = await pool.fetchval(
        "SELECT preferred_language FROM referral.client_languages WHERE client_id = $1",
        client_id,
    )
    return None if value is None else str(value)


async def packet_sources(
    pool: asyncpg.Pool, case_id: uuid.UUID, categories: Iterable[str]
) -> list[dict[str, Any]]:
    """The stored copies of exactly these categories for the case (and its client).

    Identity and contact belong to the client; the others to the case. Each copy has
    `event_id` and `field`, which open a sealed `value` with the client's key.
    """
    wanted = [c for c in dict.fromkeys(categories) if c in CATEGORIES]
    if not wanted:
        return []
    rows = await pool.fetch(
        "SELECT s.client_id, s.case_id, s.category, s.field, s.event_id, s.value, s.detail, "
        "s.recorded_at FROM referral.sealed_copies s JOIN referral.cases c "
        "ON c.case_id = $1 AND s.client_id = c.client_id "
        "WHERE s.category = ANY($2::text[]) AND (s.case_id = $1 OR s.case_id IS NULL) "
        "ORDER BY s.category, s.recorded_at, s.field",
        case_id,
        wanted,
    )
    out = []
    for r in rows:
        item = dict(r)
        item["value"] = _loads(item["value"])
        item["detail"] = _loads(item["detail"])
        out.append(item)
    return out

"""The tables of referral's read models (`consumers.py` fills them, `queries.py` reads
them) and the writer of a sealed copy.

`SCHEMA_SQL` is carried by the `referral-intake` read model and created when the service
starts (`shared/service.py`); every statement is idempotent (`IF NOT EXISTS`), so
columns added later come as `ADD COLUMN IF NOT EXISTS`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from shared.contracts import as_published
from shared.messaging.envelope import CloudEvent

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
-- Erasing a client deletes its rows by client id: found by index, not by a scan of every
-- client's rows (which grows with the years kept).
CREATE INDEX IF NOT EXISTS cases_client ON referral.cases (client_id);
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
-- Each client's latest word on the `statistics` consent (added later: kept from the
-- events received since), for the team lead's network report.
CREATE TABLE IF NOT EXISTS referral.statistics_consents (
    client_id uuid PRIMARY KEY,
    withdrawn boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    source_position bigint NOT NULL
);
"""


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


async def write_copy(
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
    """Keep `value` of `event`'s `field` as published (sealed), once per event and field."""
    await write_copies(conn, event, [(field, client_id, case_id, category, value, detail)])


# (field, client id, case id, category, value, detail) of one kept copy.
Copy = tuple[str, uuid.UUID, uuid.UUID | None, str, Any, dict[str, Any] | None]


async def write_copies(conn: asyncpg.Connection, event: CloudEvent, copies: list[Copy]) -> None:
    """`write_copy` of several fields of one event, in one round trip."""
    if not copies:
        return
    await conn.executemany(
        "INSERT INTO referral.sealed_copies (event_id, field, client_id, case_id, category, "
        "value, detail, recorded_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::jsonb,$8) "
        "ON CONFLICT (event_id, field) DO NOTHING",
        [
            (
                event.id,
                field,
                client_id,
                case_id,
                category,
                _json(as_published(value)),
                None if detail is None else _json(detail),
                event.time,
            )
            for field, client_id, case_id, category, value, detail in copies
        ],
    )

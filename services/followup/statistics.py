"""Statistics consent in follow-up: a client who withdrew it leaves the figures at once.

Follow-up keeps, from intake's consent events of purpose `statistics`, whether each
client's latest word was a withdrawal. The team lead's report leaves those clients out
from the moment the withdrawal arrives (the follow-ups themselves stay: they serve the
client's guidance, not statistics). A newer event wins (log positions), so a late, older
event cannot undo a newer one.
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.messaging.consumer import ReadModelHandler
from shared.messaging.envelope import CloudEvent

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS followup.statistics_consents (
    client_id uuid PRIMARY KEY,
    withdrawn boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    source_position bigint NOT NULL
);
"""


def in_statistics(table: str = "followups_view") -> str:
    """The SQL condition that keeps a follow-up of `table` (its name or alias in the
    query, always qualified: inside the subquery a bare `client_id` is the subquery's
    own) in the figures."""
    return (
        "NOT EXISTS (SELECT 1 FROM followup.statistics_consents s "
        f"WHERE s.client_id = {table}.client_id AND s.withdrawn)"
    )


async def _changed(conn: asyncpg.Connection, event: CloudEvent, withdrawn: bool) -> None:
    d = event.data
    if d.get("purpose") != "statistics":
        return
    await conn.execute(
        "INSERT INTO followup.statistics_consents (client_id, withdrawn, changed_at, "
        "source_position) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET "
        "withdrawn = EXCLUDED.withdrawn, changed_at = EXCLUDED.changed_at, "
        "source_position = EXCLUDED.source_position "
        "WHERE followup.statistics_consents.source_position < EXCLUDED.source_position",
        uuid.UUID(d["client_id"]),
        withdrawn,
        event.time,
        event.position or 0,
    )


async def on_granted(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await _changed(conn, event, False)


async def on_withdrawn(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await _changed(conn, event, True)


HANDLERS: dict[str, ReadModelHandler] = {
    "ConsentGranted": on_granted,
    "ConsentWithdrawn": on_withdrawn,
}

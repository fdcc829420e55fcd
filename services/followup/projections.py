"""Follow-up's read models, kept from its own log: follow-ups, their check-ins and their
bottlenecks (for the list, the worklist and the report). Only non-personal facts: the sealed
fields stay sealed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date
from typing import Any, ClassVar
from uuid import UUID

import asyncpg

from services.followup.domain import FollowUp, StatisticsPurge
from shared.ddl import column_added_once, kept_by_triggers, table_made_once
from shared.messaging.projection import Handler, Projection, Stored

SCHEMA_SQL = (
    """
CREATE TABLE IF NOT EXISTS followup.followups_view (
    followup_id uuid PRIMARY KEY,
    case_id uuid NOT NULL UNIQUE,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    counsellor text NOT NULL,
    status text NOT NULL,
    version int NOT NULL
);
-- Erasing a client deletes its rows by client id: found by index, not by a scan of every
-- client's rows (which grows with the years kept).
CREATE INDEX IF NOT EXISTS followups_view_client ON followup.followups_view (client_id);
CREATE TABLE IF NOT EXISTS followup.checkins_view (
    checkin_id uuid PRIMARY KEY,
    followup_id uuid NOT NULL,
    case_id uuid NOT NULL,
    organisation text NOT NULL,
    counsellor text NOT NULL,
    number int NOT NULL,
    due_on date NOT NULL,
    done boolean NOT NULL DEFAULT false
);
ALTER TABLE followup.followups_view
    ADD COLUMN IF NOT EXISTS outcome text,
    ADD COLUMN IF NOT EXISTS outcome_on date,
    ADD COLUMN IF NOT EXISTS satisfaction int,
    ADD COLUMN IF NOT EXISTS self_knowledge_improved boolean,
    ADD COLUMN IF NOT EXISTS confidence_improved boolean,
    ADD COLUMN IF NOT EXISTS feedback_on date,
    ADD COLUMN IF NOT EXISTS bottlenecks int NOT NULL DEFAULT 0;
-- A job outcome's contract type (NULL for other outcomes, unknown, or before it was kept).
ALTER TABLE followup.followups_view ADD COLUMN IF NOT EXISTS outcome_contract text;
-- When the follow-up opened (NULL on rows projected before it was kept), for the list.
ALTER TABLE followup.followups_view ADD COLUMN IF NOT EXISTS opened_at timestamptz;
CREATE INDEX IF NOT EXISTS followups_view_counsellor
    ON followup.followups_view (organisation, counsellor, opened_at DESC);
CREATE INDEX IF NOT EXISTS followups_view_org
    ON followup.followups_view (organisation, opened_at DESC);
-- The report counts follow-ups by the day of their outcome (and of their feedback).
CREATE INDEX IF NOT EXISTS followups_view_outcome_on
    ON followup.followups_view (organisation, outcome_on) WHERE outcome_on IS NOT NULL;
CREATE INDEX IF NOT EXISTS followups_view_feedback_on
    ON followup.followups_view (organisation, feedback_on) WHERE feedback_on IS NOT NULL;
-- The case's counsellor after a team lead handed it over (intake's CaseReassigned, kept by
-- the `followup-counsellors` read model): a follow-up opened later is theirs.
CREATE TABLE IF NOT EXISTS followup.case_counsellors (
    case_id uuid PRIMARY KEY,
    counsellor text NOT NULL,
    source_position bigint NOT NULL
);
-- One row per bottleneck raised, for the report's bottlenecks per kind in a period.
CREATE TABLE IF NOT EXISTS followup.bottlenecks_view (
    bottleneck_id uuid PRIMARY KEY,
    followup_id uuid NOT NULL,
    case_id uuid NOT NULL,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    kind text NOT NULL,
    detected_on date NOT NULL
);
CREATE INDEX IF NOT EXISTS bottlenecks_view_detected
    ON followup.bottlenecks_view (organisation, detected_on);
CREATE INDEX IF NOT EXISTS bottlenecks_view_client ON followup.bottlenecks_view (client_id);
-- The `statistics` purpose: an erased client's outcome figures, anonymised (no id of a
-- client, case, follow-up or counsellor, no text), so the figures of past periods stay;
-- filled by the erasure (consumers.ERASURE), emptied by the statistics retention
-- (`StatisticsPurge.Purged`) once older than GUIDANCE_RETENTION_STATISTICS_YEARS.
CREATE TABLE IF NOT EXISTS followup.statistics_archive (
    organisation text NOT NULL,
    outcome text,
    outcome_on date,
    days_to_outcome int,
    bottlenecks int NOT NULL DEFAULT 0,
    satisfaction int,
    self_knowledge_improved boolean,
    confidence_improved boolean,
    feedback_on date,
    figure_on date NOT NULL
);
CREATE INDEX IF NOT EXISTS statistics_archive_org ON followup.statistics_archive
    (organisation, figure_on);
CREATE TABLE IF NOT EXISTS followup.bottleneck_archive (
    organisation text NOT NULL,
    kind text NOT NULL,
    detected_on date NOT NULL
);
CREATE INDEX IF NOT EXISTS bottleneck_archive_org ON followup.bottleneck_archive
    (organisation, detected_on);
-- The receipts of the statistics retention (from `StatisticsPurge.Purged`).
CREATE TABLE IF NOT EXISTS followup.statistics_purges (
    purge_id uuid PRIMARY KEY,
    organisation text,
    rule text NOT NULL,
    cutoff date NOT NULL,
    figures int NOT NULL,
    bottlenecks int NOT NULL,
    purged_at timestamptz NOT NULL,
    actor text NOT NULL
);
-- The lists' orders (shared/paging.py: keyset pages and capped counts read an index in
-- order, whatever the history's length): the follow-ups newest first (a row without its
-- opening moment last), unfiltered, by counsellor, by status; the worklist by due day,
-- unfiltered and by counsellor (replacing `checkins_view_due`, without the id).
CREATE INDEX IF NOT EXISTS followups_view_listed ON followup.followups_view
    (organisation, coalesce(opened_at, to_timestamp(0)), followup_id);
CREATE INDEX IF NOT EXISTS followups_view_carried ON followup.followups_view
    (organisation, counsellor, coalesce(opened_at, to_timestamp(0)), followup_id);
CREATE INDEX IF NOT EXISTS followups_view_status ON followup.followups_view
    (organisation, status, coalesce(opened_at, to_timestamp(0)), followup_id);
DROP INDEX IF EXISTS followup.checkins_view_due;
-- A check-in stays undone when its follow-up closes; the worklist shows only those of
-- open follow-ups (`followup_open`, false while the follow-up is closed), so its index
-- holds only them, however many follow-ups have closed over the years. Added later: the
-- flag of the rows kept before it is set once, when the column is added (not at every
-- start: the join read every closed follow-up, 364 ms at 10 million events).
"""
    + column_added_once(
        "followup.checkins_view",
        "followup_open",
        "boolean NOT NULL DEFAULT true",
        "UPDATE followup.checkins_view c SET followup_open = false FROM followup.followups_view f "
        "WHERE f.followup_id = c.followup_id AND f.status <> 'open' AND NOT c.done",
    )
    + """CREATE INDEX IF NOT EXISTS checkins_view_followup ON followup.checkins_view (followup_id);
DROP INDEX IF EXISTS followup.checkins_view_worklist;
DROP INDEX IF EXISTS followup.checkins_view_worklist_counsellor;
CREATE INDEX IF NOT EXISTS checkins_view_due_open
    ON followup.checkins_view (organisation, due_on, checkin_id) WHERE NOT done AND followup_open;
CREATE INDEX IF NOT EXISTS checkins_view_due_open_counsellor
    ON followup.checkins_view (organisation, counsellor, due_on, checkin_id)
    WHERE NOT done AND followup_open;
-- The worklist's total: the open check-ins of open follow-ups counted per organisation,
-- counsellor and due day as they change (by the triggers below, whoever writes a row: the
-- projection, a rebuild in its shadow schema, an erasure), so that a total is as many rows
-- as days and counsellors, not a count of up to 10,000 index entries (1.5 ms at 10 million
-- events against 0.1 ms at 10,000). Made once from the check-ins, under a lock that holds
-- them still until the triggers exist; a later start finds it and only replaces them.
LOCK TABLE followup.checkins_view IN SHARE ROW EXCLUSIVE MODE;
"""
    + table_made_once(
        "followup.worklist_due",
        "organisation text NOT NULL, counsellor text NOT NULL, due_on date NOT NULL, "
        "checkins bigint NOT NULL, PRIMARY KEY (organisation, counsellor, due_on)",
        "INSERT INTO followup.worklist_due "
        "SELECT organisation, counsellor, due_on, count(*) FROM followup.checkins_view "
        "WHERE NOT done AND followup_open GROUP BY 1, 2, 3",
    )
    + """CREATE OR REPLACE FUNCTION followup.worklist_counted() RETURNS trigger
LANGUAGE plpgsql AS $worklist$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.done AND OLD.followup_open THEN
        UPDATE followup.worklist_due SET checkins = checkins - 1
        WHERE organisation = OLD.organisation AND counsellor = OLD.counsellor
          AND due_on = OLD.due_on;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.done AND NEW.followup_open THEN
        INSERT INTO followup.worklist_due AS w
        VALUES (NEW.organisation, NEW.counsellor, NEW.due_on, 1)
        ON CONFLICT (organisation, counsellor, due_on) DO UPDATE SET checkins = w.checkins + 1;
    END IF;
    RETURN NULL;
END
$worklist$;
"""
    + kept_by_triggers(
        "followup.checkins_view",
        "followup.worklist_counted",
        "worklist",
        ["organisation", "counsellor", "due_on", "done", "followup_open"],
    )
    + """-- The statistics retention (services/followup/jobs.py) counts, for every organisation,
-- the figures older than its cutoff.
CREATE INDEX IF NOT EXISTS statistics_archive_figure_on
    ON followup.statistics_archive (figure_on);
CREATE INDEX IF NOT EXISTS bottleneck_archive_detected_on
    ON followup.bottleneck_archive (detected_on);
"""
)


async def _moved_on(conn: asyncpg.Connection, e: Stored, status: str | None = None) -> None:
    """The follow-up's version now (and its status, when the event changed it)."""
    await conn.execute(
        "UPDATE followup.followups_view SET version = greatest(version, $2), "
        "status = coalesce($3, status) WHERE followup_id = $1",
        e.id,
        e.version,
        status,
    )


async def _checkin(
    conn: asyncpg.Connection,
    followup_id: UUID,
    f: Mapping[str, Any],
    checkin_id: UUID,
    number: int,
    due_on: date,
) -> None:
    await conn.execute(
        "INSERT INTO followup.checkins_view (checkin_id, followup_id, case_id, organisation, "
        "counsellor, number, due_on) VALUES ($1,$2,$3,$4,coalesce((SELECT counsellor FROM "
        "followup.case_counsellors WHERE case_id = $3), $5),$6,$7) "
        "ON CONFLICT (checkin_id) DO NOTHING",
        checkin_id,
        followup_id,
        f["case_id"],
        f["organisation"],
        f.get("counsellor") or f["actor"],
        number,
        due_on,
    )


async def opened(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO followup.followups_view (followup_id, case_id, client_id, "
        "organisation, counsellor, status, version, opened_at) "
        "VALUES ($1,$2,$3,$4,coalesce((SELECT counsellor FROM followup.case_counsellors "
        "WHERE case_id = $2), $5),'open',$6,$7) ON CONFLICT (followup_id) DO NOTHING",
        e.id,
        e["case_id"],
        e["client_id"],
        e["organisation"],
        e["actor"],
        e.version,
        e.at,
    )
    for c in e["checkins"]:
        await _checkin(conn, e.id, e.state, c["checkin_id"], c["number"], c["due_on"])


async def checkin_done(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "UPDATE followup.checkins_view SET done = true WHERE checkin_id = $1", e["checkin_id"]
    )
    await _moved_on(conn, e)


async def aftercare_requested(conn: asyncpg.Connection, e: Stored) -> None:
    # A closed follow-up reopens: its check-ins still undone are on the worklist again.
    await conn.execute(
        "UPDATE followup.checkins_view SET followup_open = true "
        "WHERE followup_id = $1 AND NOT followup_open",
        e.id,
    )
    number = await conn.fetchval(
        "SELECT coalesce(max(number), 0) + 1 FROM followup.checkins_view WHERE followup_id = $1",
        e.id,
    )
    row = await conn.fetchrow(
        "SELECT case_id, organisation, counsellor FROM followup.followups_view "
        "WHERE followup_id = $1",
        e.id,
    )
    if row is not None:
        await _checkin(conn, e.id, dict(row), e["checkin_id"], number, e["due_on"])
    await _moved_on(conn, e, "open")


async def closed(conn: asyncpg.Connection, e: Stored) -> None:
    # Its check-ins still undone leave the worklist (and come back if it reopens).
    await conn.execute(
        "UPDATE followup.checkins_view SET followup_open = false "
        "WHERE followup_id = $1 AND followup_open",
        e.id,
    )
    await _moved_on(conn, e, "closed")


async def outcome_recorded(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "UPDATE followup.followups_view SET outcome = $2, outcome_on = $3, "
        "outcome_contract = $4 WHERE followup_id = $1",
        e.id,
        e["outcome"],
        e["on"],
        e.get("contract"),  # v1 outcomes (before contracts) have none
    )
    await _moved_on(conn, e)


async def feedback_given(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "UPDATE followup.followups_view SET satisfaction = $2, "
        "self_knowledge_improved = $3, confidence_improved = $4, feedback_on = $5 "
        "WHERE followup_id = $1",
        e.id,
        e["satisfaction"],
        e["self_knowledge_improved"],
        e["confidence_improved"],
        e.at.date(),
    )
    await _moved_on(conn, e)


async def bottleneck_detected(conn: asyncpg.Connection, e: Stored) -> None:
    """Counted on the follow-up (for the list) and kept as its own row, dated the UTC day it
    was detected (for the report's bottlenecks per kind)."""
    await conn.execute(
        "UPDATE followup.followups_view SET bottlenecks = bottlenecks + 1 WHERE followup_id = $1",
        e.id,
    )
    await conn.execute(
        "INSERT INTO followup.bottlenecks_view (bottleneck_id, followup_id, case_id, client_id, "
        "organisation, kind, detected_on) SELECT $1, $2, $3, $4, organisation, $5, $6 "
        "FROM followup.followups_view WHERE followup_id = $2 "
        "ON CONFLICT (bottleneck_id) DO NOTHING",
        e["bottleneck_id"],
        e.id,
        e["case_id"],
        e["client_id"],
        e["kind"],
        e.at.astimezone(UTC).date(),
    )
    await _moved_on(conn, e)


async def statistics_purged(conn: asyncpg.Connection, e: Stored) -> None:
    """The receipt, and the anonymised figures dated before its cutoff deleted (again on a
    replay: what was older then is older now)."""
    org = e["organisation"]
    await conn.execute(
        "DELETE FROM followup.statistics_archive WHERE figure_on < $1 "
        "AND ($2::text IS NULL OR organisation = $2)",
        e["cutoff"],
        org,
    )
    await conn.execute(
        "DELETE FROM followup.bottleneck_archive WHERE detected_on < $1 "
        "AND ($2::text IS NULL OR organisation = $2)",
        e["cutoff"],
        org,
    )
    await conn.execute(
        "INSERT INTO followup.statistics_purges (purge_id, organisation, rule, cutoff, "
        "figures, bottlenecks, purged_at, actor) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) "
        "ON CONFLICT (purge_id) DO NOTHING",
        e.id,
        org,
        e["rule"],
        e["cutoff"],
        e["figures"],
        e["bottlenecks"],
        e.at,
        e["actor"],
    )


class FollowUpProjection(Projection):
    schema_sql = SCHEMA_SQL
    # The anonymised archives are filled by the erasure, not from this log: not rebuilt.
    tables = (
        "followups_view",
        "checkins_view",
        "worklist_due",
        "bottlenecks_view",
        "statistics_purges",
    )
    # What the erasure drops from those (its own statements also archive the figures).
    erased_sql = (
        "DELETE FROM followup.checkins_view WHERE followup_id IN (SELECT followup_id FROM "
        "followup.followups_view WHERE client_id = %(client_id)s)",
        "DELETE FROM followup.bottlenecks_view WHERE client_id = %(client_id)s",
        "DELETE FROM followup.followups_view WHERE client_id = %(client_id)s",
    )
    handlers: ClassVar[Mapping[type, Handler]] = {
        FollowUp.Opened: opened,
        FollowUp.CheckInDone: checkin_done,
        FollowUp.AftercareRequested: aftercare_requested,
        FollowUp.FollowUpClosed: closed,
        FollowUp.OutcomeRecorded: outcome_recorded,
        FollowUp.FeedbackGiven: feedback_given,
        FollowUp.BottleneckDetected: bottleneck_detected,
        StatisticsPurge.Purged: statistics_purged,
        # The others only move the version on.
        FollowUp.PlanReagreed: _moved_on,
        FollowUp.PlanRevised: _moved_on,
        FollowUp.PlanActionAdded: _moved_on,
        FollowUp.PlanActionCompleted: _moved_on,
        FollowUp.PlanActionCancelled: _moved_on,
        FollowUp.ContactRecorded: _moved_on,
        FollowUp.ActionChecked: _moved_on,
        FollowUp.ToDoAgreed: _moved_on,
    }

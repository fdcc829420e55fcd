"""Intake's read models (asyncpg): the organisation's clients, cases and complaints.

Fed by the service's own notification log (`IntakeProjection`: one handler per event
class); the rows and the position commit in one transaction. Plaintext personal data
lives only in `clients_view` (dropped on erasure); a case's career question is kept as
stored, sealed with the client's key, and opened only for the page of the case list
that shows it. A complaint's row holds no text of it (that stays sealed in its events).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any, ClassVar

import asyncpg

from services.intake.domain import (
    GAP_SCORES,
    OPEN_STATUSES,
    Case,
    Client,
    Complaint,
    GroupSession,
)
from services.intake.funder import OTHER_HOURS
from shared.ddl import column_added_once, kept_by_triggers, table_made_once
from shared.messaging.projection import Handler, Projection, Stored
from shared.paging import Column, Listed, Order, Page, fetch_page
from shared.periods import Period
from shared.privacy import ERASED, SealingMapper
from shared.privacy.sealing import event_id
from shared.runtime import snapshot
from shared.vocabulary import COMPETENCES

SCHEMA_SQL = (
    """
CREATE TABLE IF NOT EXISTS intake.clients_view (
    client_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    given_name text, family_name text, birth_date date, email text, phone text,
    preferred_language text,
    registered_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS clients_view_org ON intake.clients_view (organisation, registered_at);
CREATE TABLE IF NOT EXISTS intake.cases_view (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    status text NOT NULL,
    phase text NOT NULL,
    hours_budget double precision NOT NULL,
    minutes_used int NOT NULL DEFAULT 0,
    scores jsonb NOT NULL DEFAULT '{}',
    gaps text[] NOT NULL DEFAULT '{}',
    opened_by text NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_view_org ON intake.cases_view (organisation, opened_at, case_id);
CREATE INDEX IF NOT EXISTS cases_view_client ON intake.cases_view (client_id);
-- Added later (rows projected before keep NULL: their career question is not listed).
-- Sealed as in the event (CaseOpened, the case's version 1).
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS career_question_sealed jsonb;
-- When the case ended (declined, referred out, closed; NULL while open, and on rows
-- projected before it was kept), for the caseload report's cases closed in a period.
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS closed_at timestamptz;
-- Indexes of earlier versions of the caseload report (see `caseload_open` below).
DROP INDEX IF EXISTS intake.cases_view_open;
DROP INDEX IF EXISTS intake.cases_view_open_load;
DROP INDEX IF EXISTS intake.cases_view_closed;
-- The counsellor who carries the case now: who opened it, until a team lead hands it
-- over (CaseReassigned). Added later: rows projected before it take their opener. The
-- lists and the caseload report go by it.
-- (Their opener set once, when the column is added: not by a scan of every case at every
-- start.)
"""
    + column_added_once(
        "intake.cases_view",
        "counsellor",
        "text",
        "UPDATE intake.cases_view SET counsellor = opened_by",
    )
    + """DROP INDEX IF EXISTS intake.cases_view_counsellor;
DROP INDEX IF EXISTS intake.cases_view_load;
CREATE INDEX IF NOT EXISTS cases_view_carried
    ON intake.cases_view (organisation, counsellor, opened_at, case_id);
-- One row per session held, for the caseload report's hours and sessions in a period;
-- `counsellor` is who recorded it (the event's actor).
CREATE TABLE IF NOT EXISTS intake.sessions_view (
    session_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    counsellor text NOT NULL,
    held_at timestamptz NOT NULL,
    minutes int NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_view_held ON intake.sessions_view (organisation, held_at);
-- A group session's part of each participant's case names its group: the caseload counts
-- the counsellor's group session once, not once per participant (added later: rows
-- projected before it count per participant).
ALTER TABLE intake.sessions_view ADD COLUMN IF NOT EXISTS group_id uuid;
CREATE INDEX IF NOT EXISTS sessions_view_client ON intake.sessions_view (client_id);
-- When the client was last informed of their rights and duties (NULL: not yet), for the
-- flag on the worklist.
ALTER TABLE intake.clients_view ADD COLUMN IF NOT EXISTS rights_informed_at timestamptz;
-- The hours budget (#16 item 3): the programme it was set from at acceptance, and the
-- hours a team lead approved on top; `minutes_used` counts aftercare check-ins too.
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS programme text;
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS budget_extra double precision
    NOT NULL DEFAULT 0;
-- The report to the funder (#16 item 12): when the case was accepted (first time), when
-- its plan was first agreed and whether the hours used then were within its budget
-- (NULL on rows projected before they were kept).
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS accepted_at timestamptz;
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS plan_agreed_at timestamptz;
ALTER TABLE intake.cases_view ADD COLUMN IF NOT EXISTS plan_within_budget boolean;
CREATE INDEX IF NOT EXISTS cases_view_accepted
    ON intake.cases_view (organisation, accepted_at) WHERE accepted_at IS NOT NULL;
-- One row per complaint, without its text (sealed in its events): the team lead's list
-- and figures. Dropped with the client.
CREATE TABLE IF NOT EXISTS intake.complaints_view (
    complaint_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    client_id uuid NOT NULL,
    case_id uuid,
    status text NOT NULL,
    registered_at timestamptz NOT NULL,
    registered_by text NOT NULL,
    deadline date NOT NULL,
    assigned_to text,
    answered_on date,
    closed_at timestamptz,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS complaints_view_org
    ON intake.complaints_view (organisation, registered_at, complaint_id);
CREATE INDEX IF NOT EXISTS complaints_view_client ON intake.complaints_view (client_id);
-- One row per appointment, for a counsellor's day and calendar feed: no text about the
-- client (the cancellation's reason stays sealed in its event; the place is the agency's
-- room or the call's channel). Dropped with the client.
CREATE TABLE IF NOT EXISTS intake.appointments_view (
    appointment_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    client_id uuid NOT NULL,
    organisation text NOT NULL,
    counsellor text NOT NULL,
    kind text NOT NULL,
    starts_at timestamptz NOT NULL,
    minutes int NOT NULL,
    channel text NOT NULL,
    place text,
    status text NOT NULL,
    sequence int NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS appointments_view_counsellor
    ON intake.appointments_view (organisation, counsellor, starts_at);
CREATE INDEX IF NOT EXISTS appointments_view_client ON intake.appointments_view (client_id);
-- One row per group session: its non-personal facts and its participants' case ids (no
-- name, no note: those stay on each case). Not dropped with a client.
CREATE TABLE IF NOT EXISTS intake.groups_view (
    group_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    topic text NOT NULL,
    starts_at timestamptz NOT NULL,
    minutes int NOT NULL,
    place text NOT NULL,
    counsellor text NOT NULL,
    status text NOT NULL,
    case_ids uuid[] NOT NULL DEFAULT '{}',
    held_at timestamptz,
    version int NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_view_cases ON intake.groups_view USING gin (case_ids);
-- The lists' orders (shared/paging.py: keyset pages and capped counts read an index in
-- order, whatever the history's length): the case list filtered by status, phase or both
-- (unfiltered and by counsellor: cases_view_org, cases_view_carried read backwards), the
-- client list by name, the complaints by deadline, the group sessions by start.
CREATE INDEX IF NOT EXISTS cases_view_status
    ON intake.cases_view (organisation, status, opened_at, case_id);
CREATE INDEX IF NOT EXISTS cases_view_phase
    ON intake.cases_view (organisation, phase, opened_at, case_id);
CREATE INDEX IF NOT EXISTS cases_view_status_phase
    ON intake.cases_view (organisation, status, phase, opened_at, case_id);
-- Retention (services/intake/jobs.py) reads the clients registered before its cutoff.
CREATE INDEX IF NOT EXISTS clients_view_registered ON intake.clients_view (registered_at);
CREATE INDEX IF NOT EXISTS clients_view_name ON intake.clients_view
    (organisation, lower(coalesce(family_name, '')), lower(coalesce(given_name, '')), client_id);
CREATE INDEX IF NOT EXISTS complaints_view_deadline
    ON intake.complaints_view (organisation, deadline, registered_at, complaint_id);
DROP INDEX IF EXISTS intake.groups_view_org;
CREATE INDEX IF NOT EXISTS groups_view_listed
    ON intake.groups_view (organisation, starts_at, group_id);
-- The caseload report's open cases, counted as they change rather than counted again at
-- each report (which read every case the organisation ever had: 440,000 index entries,
-- 112-257 ms, at 10 million events): per organisation, counsellor and phase, the open and
-- accepted cases and their hours budgets, kept by the triggers below on every change of
-- a case's row, whoever makes it (the projection, a rebuild in its shadow schema).
-- Made once, under a lock that holds the case rows still until the triggers exist, from
-- the cases already kept; a later start finds it and only replaces the triggers.
LOCK TABLE intake.cases_view IN SHARE ROW EXCLUSIVE MODE;
"""
    + table_made_once(
        "intake.caseload_open",
        "organisation text NOT NULL, counsellor text NOT NULL, phase text NOT NULL, "
        "cases bigint NOT NULL, hours_budget numeric NOT NULL, "
        "PRIMARY KEY (organisation, counsellor, phase)",
        "INSERT INTO intake.caseload_open "
        "SELECT organisation, coalesce(counsellor, opened_by), phase, count(*), "
        "sum(hours_budget::numeric) "
        "FROM intake.cases_view WHERE status IN ('open', 'accepted') GROUP BY 1, 2, 3",
    )
    + """CREATE OR REPLACE FUNCTION intake.caseload_counted() RETURNS trigger
LANGUAGE plpgsql AS $caseload$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('open', 'accepted') THEN
        UPDATE intake.caseload_open
        SET cases = cases - 1, hours_budget = hours_budget - OLD.hours_budget::numeric
        WHERE organisation = OLD.organisation
          AND counsellor = coalesce(OLD.counsellor, OLD.opened_by) AND phase = OLD.phase;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('open', 'accepted') THEN
        INSERT INTO intake.caseload_open AS c
        VALUES (NEW.organisation, coalesce(NEW.counsellor, NEW.opened_by), NEW.phase, 1,
                NEW.hours_budget::numeric)
        ON CONFLICT (organisation, counsellor, phase) DO UPDATE
        SET cases = c.cases + 1, hours_budget = c.hours_budget + excluded.hours_budget;
    END IF;
    RETURN NULL;
END
$caseload$;
"""
    + kept_by_triggers(
        "intake.cases_view",
        "intake.caseload_counted",
        "caseload",
        ["organisation", "status", "phase", "counsellor", "hours_budget"],
    )
    + """-- The cases opened and closed in a period, by counsellor (the report's other counts):
-- counted per UTC day as cases change, so that a period's whole days are as many rows as
-- days and counsellors however many cases they saw (30,600 cases in 90 days at 10 million
-- events); the part-days at either end of a period (the default one ends now) come from a
-- range of the indexes below. Keyed by who carries the case now, as the report is: a
-- hand-over moves the case's days to the new counsellor. Made once from the cases, under
-- the lock above, like `caseload_open`.
"""
    + table_made_once(
        "intake.caseload_days",
        "organisation text NOT NULL, day date NOT NULL, counsellor text NOT NULL, "
        "opened bigint NOT NULL, closed bigint NOT NULL, "
        "PRIMARY KEY (organisation, day, counsellor)",
        "INSERT INTO intake.caseload_days "
        "SELECT organisation, day, counsellor, sum(opened), sum(closed) FROM ("
        "SELECT organisation, (opened_at AT TIME ZONE 'UTC')::date AS day, "
        "coalesce(counsellor, opened_by) AS counsellor, 1 AS opened, 0 AS closed "
        "FROM intake.cases_view UNION ALL "
        "SELECT organisation, (closed_at AT TIME ZONE 'UTC')::date, "
        "coalesce(counsellor, opened_by), 0, 1 "
        "FROM intake.cases_view WHERE closed_at IS NOT NULL) AS moved GROUP BY 1, 2, 3",
    )
    + """CREATE OR REPLACE FUNCTION intake.caseload_days_counted() RETURNS trigger
LANGUAGE plpgsql AS $caseload$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE intake.caseload_days SET opened = opened - 1
        WHERE organisation = OLD.organisation
          AND day = (OLD.opened_at AT TIME ZONE 'UTC')::date
          AND counsellor = coalesce(OLD.counsellor, OLD.opened_by);
        IF OLD.closed_at IS NOT NULL THEN
            UPDATE intake.caseload_days SET closed = closed - 1
            WHERE organisation = OLD.organisation
              AND day = (OLD.closed_at AT TIME ZONE 'UTC')::date
              AND counsellor = coalesce(OLD.counsellor, OLD.opened_by);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO intake.caseload_days AS c
        VALUES (NEW.organisation, (NEW.opened_at AT TIME ZONE 'UTC')::date,
                coalesce(NEW.counsellor, NEW.opened_by), 1, 0)
        ON CONFLICT (organisation, day, counsellor) DO UPDATE SET opened = c.opened + 1;
        IF NEW.closed_at IS NOT NULL THEN
            INSERT INTO intake.caseload_days AS c
            VALUES (NEW.organisation, (NEW.closed_at AT TIME ZONE 'UTC')::date,
                    coalesce(NEW.counsellor, NEW.opened_by), 0, 1)
            ON CONFLICT (organisation, day, counsellor) DO UPDATE SET closed = c.closed + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$caseload$;
"""
    + kept_by_triggers(
        "intake.cases_view",
        "intake.caseload_days_counted",
        "caseload_days",
        ["organisation", "counsellor", "opened_by", "opened_at", "closed_at"],
    )
    + """-- The part-days at a period's ends: a range of each index.
-- (The index the report used to read whole is dropped.)
DROP INDEX IF EXISTS intake.cases_view_caseload;
CREATE INDEX IF NOT EXISTS cases_view_opened_load
    ON intake.cases_view (organisation, opened_at) INCLUDE (counsellor);
CREATE INDEX IF NOT EXISTS cases_view_closed_load
    ON intake.cases_view (organisation, closed_at) INCLUDE (counsellor)
    WHERE closed_at IS NOT NULL;
"""
)


async def client_registered(conn: asyncpg.Connection, e: Stored) -> None:
    c = e.event  # opened: the list shows (and searches) names in the clear
    if ERASED in (c.given_name, c.family_name):
        return  # the client's key is destroyed (a replay after the erasure): no row again
    await conn.execute(
        "INSERT INTO intake.clients_view (client_id, organisation, given_name, family_name, "
        "birth_date, email, phone, preferred_language, registered_at, version) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (client_id) DO NOTHING",
        e.id,
        c.organisation,
        c.given_name,
        c.family_name,
        c.birth_date if not isinstance(c.birth_date, str) else None,
        c.email,
        c.phone,
        c.preferred_language,
        e.at,
        e.version,
    )


async def consent_changed(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "UPDATE intake.clients_view SET version = $2 WHERE client_id = $1", e.id, e.version
    )


async def informed_of_rights(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "UPDATE intake.clients_view SET version = $2, rights_informed_at = $3 WHERE client_id = $1",
        e.id,
        e.version,
        e.at,
    )


async def complaint_registered(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO intake.complaints_view (complaint_id, organisation, client_id, case_id, "
        "status, registered_at, registered_by, deadline, version) "
        "VALUES ($1,$2,$3,$4,'received',$5,$6,$7,$8) ON CONFLICT (complaint_id) DO NOTHING",
        e.id,
        e["organisation"],
        e["client_id"],
        e.get("case_id"),
        e.at,
        e["actor"],
        _date(e["deadline"]),
        e.version,
    )


def _complaint_becomes(sets: str, *values: Any) -> Handler:
    """A handler setting the complaint's row (`$3`, … are `values(e)`) and its version."""

    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        args = [value(e) for value in values]
        await conn.execute(
            f"UPDATE intake.complaints_view SET version = $2, {sets} "
            "WHERE complaint_id = $1 AND version < $2",
            e.id,
            e.version,
            *args,
        )

    return update


async def group_planned(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO intake.groups_view (group_id, organisation, topic, starts_at, minutes, "
        "place, counsellor, status, version) VALUES ($1,$2,$3,$4,$5,$6,$7,'planned',$8) "
        "ON CONFLICT (group_id) DO NOTHING",
        e.id,
        e["organisation"],
        e["topic"],
        e["starts_at"],
        e["minutes"],
        e["place"],
        e["actor"],
        e.version,
    )


def _group_becomes(sets: str, *values: Any) -> Handler:
    """A handler setting the group's row (`$3`, … are `values(e)`) and its version."""

    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        await conn.execute(
            f"UPDATE intake.groups_view SET version = $2, {sets} "
            "WHERE group_id = $1 AND version < $2",
            e.id,
            e.version,
            *[value(e) for value in values],
        )

    return update


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def case_opened(conn: asyncpg.Connection, e: Stored) -> None:
    await conn.execute(
        "INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, "
        "hours_budget, opened_by, counsellor, opened_at, updated_at, version, "
        "career_question_sealed) VALUES ($1,$2,$3,'open','intake',$4,$5,$5,$6,$6,$7,$8::jsonb) "
        "ON CONFLICT (case_id) DO NOTHING",
        e.id,
        e["client_id"],
        e["organisation"],
        e["hours_budget"],
        e["actor"],
        e.at,
        e.version,
        _sealed_json(e.get("career_question")),  # sealed, as stored
    )


# The latest scores of each assessor, and the competences that any of them scores as a gap
# (in the order of COMPETENCES), computed in the UPDATE: no read before it.
_SCORES = "scores || jsonb_build_object($3::text, $4::jsonb)"
_GAP_TEXTS = ", ".join(f"'{int(score)}'" for score in GAP_SCORES)
_COMPETENCES = ", ".join(f"'{c}'" for c in COMPETENCES if c.replace("_", "").isalnum())
_ASSESSED = (
    f"scores = {_SCORES}, gaps = ARRAY(SELECT c.name FROM unnest(ARRAY[{_COMPETENCES}]) "
    "WITH ORDINALITY AS c(name, at) WHERE EXISTS (SELECT 1 FROM "
    f"jsonb_each({_SCORES}) AS s WHERE jsonb_typeof(s.value) = 'object' "
    f"AND s.value ->> c.name IN ({_GAP_TEXTS})) ORDER BY c.at)"
)


async def assessment_recorded(conn: asyncpg.Connection, e: Stored) -> None:
    await _update_case(conn, e, _ASSESSED, e["assessor"], _dumps(e["scores"]))


async def session_held(conn: asyncpg.Connection, e: Stored) -> None:
    await _update_case(conn, e, "minutes_used = minutes_used + $3", e["minutes"])
    await _session_row(conn, e, None)


async def group_session_noted(conn: asyncpg.Connection, e: Stored) -> None:
    """A participant present: their session's row names the group (the `SessionHeld` that
    follows finds it there)."""
    await _update_case(conn, e, "")
    if e["present"]:
        await _session_row(conn, e, e["group_id"])


async def _session_row(conn: asyncpg.Connection, e: Stored, group_id: Any) -> None:
    """The session's row (once; a group's participant's names its group)."""
    await conn.execute(
        "INSERT INTO intake.sessions_view (session_id, case_id, client_id, organisation, "
        "counsellor, held_at, minutes, group_id) SELECT $1, $2, $3, organisation, $4, $5, $6, "
        "$7 FROM intake.cases_view WHERE case_id = $2 ON CONFLICT (session_id) DO UPDATE "
        "SET group_id = coalesce(EXCLUDED.group_id, intake.sessions_view.group_id)",
        e["session_id"],
        e.id,
        e["client_id"],
        e["actor"],
        e["held_at"],
        e["minutes"],
        group_id,
    )


async def reassigned(conn: asyncpg.Connection, e: Stored) -> None:
    """The case and its appointments still planned go to the new counsellor."""
    await _update_case(conn, e, "counsellor = $3", e["counsellor"])
    await conn.execute(
        "UPDATE intake.appointments_view SET counsellor = $2, sequence = sequence + 1, "
        "updated_at = $3 WHERE case_id = $1 AND status = 'planned' AND updated_at < $3",
        e.id,
        e["counsellor"],
        e.at,
    )


async def appointment_planned(conn: asyncpg.Connection, e: Stored) -> None:
    await _update_case(conn, e, "")
    await conn.execute(
        "INSERT INTO intake.appointments_view (appointment_id, case_id, client_id, "
        "organisation, counsellor, kind, starts_at, minutes, channel, place, status, "
        "updated_at) SELECT $1, $2, $3, organisation, $4, $5, $6, $7, $8, $9, 'planned', $10 "
        "FROM intake.cases_view WHERE case_id = $2 ON CONFLICT (appointment_id) DO NOTHING",
        e["appointment_id"],
        e.id,
        e["client_id"],
        e["counsellor"],
        e["kind"],
        e["starts_at"],
        e["minutes"],
        e["channel"],
        e.get("place"),
        e.at,
    )


def _appointment_becomes(sets: str, *values: Any) -> Handler:
    """A handler setting the appointment's row (`$3`, … are `values(e)`); each change
    counts in its `sequence` (the calendar's SEQUENCE)."""

    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        await _update_case(conn, e, "")
        await conn.execute(
            f"UPDATE intake.appointments_view SET sequence = sequence + 1, updated_at = $2, "
            f"{sets} WHERE appointment_id = $1 AND updated_at < $2",
            e["appointment_id"],
            e.at,
            *[value(e) for value in values],
        )

    return update


async def case_accepted(conn: asyncpg.Connection, e: Stored) -> None:
    """Accepted; from v3 with the hours budget it sets (earlier: the one opened with)."""
    await _update_case(
        conn,
        e,
        "status = 'accepted', phase = 'deepening', "
        "hours_budget = coalesce($3, hours_budget), programme = $4, "
        "accepted_at = coalesce(accepted_at, $5)",
        e.get("hours_budget"),
        e.get("programme"),
        e.at,
    )


async def budget_extended(conn: asyncpg.Connection, e: Stored) -> None:
    await _update_case(conn, e, "budget_extra = budget_extra + $3", e["extra_hours"])


async def aftercare_counted(conn: asyncpg.Connection, e: Stored) -> None:
    await _update_case(conn, e, "minutes_used = minutes_used + $3", e["minutes"])


# The cause of the phase change that the agreed plan brings (see consumers.PLAN_PHASE).
PLAN_AGREED_CAUSE = "planning.PlanAgreed"


async def phase_changed(conn: asyncpg.Connection, e: Stored) -> None:
    """The phase; the plan's first agreement notes when, and whether the hours used by
    then (sessions and aftercare) were within the budget (with the extra hours approved)."""
    if e.get("cause") != PLAN_AGREED_CAUSE:
        await _update_case(conn, e, "phase = $3", e["phase"])
        return
    await _update_case(
        conn,
        e,
        "phase = $3, plan_agreed_at = coalesce(plan_agreed_at, $4), "
        "plan_within_budget = coalesce(plan_within_budget, "
        "minutes_used <= (hours_budget + budget_extra) * 60)",
        e["phase"],
        e.at,
    )


def _case_becomes(sets: str) -> Handler:
    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        await _update_case(conn, e, sets)

    return update


def _case_ends(status: str) -> Handler:
    """The case ends with `status`, in the phase `closed`, at the event's time."""

    async def update(conn: asyncpg.Connection, e: Stored) -> None:
        await _update_case(conn, e, f"status = '{status}', phase = 'closed', closed_at = $3", e.at)

    return update


class IntakeProjection(Projection):
    """The organisation's clients and cases."""

    schema_sql = SCHEMA_SQL
    tables = (
        "clients_view",
        "cases_view",
        "caseload_open",
        "caseload_days",
        "sessions_view",
        "complaints_view",
        "appointments_view",
        "groups_view",
    )
    opened = (Client.Registered,)
    handlers: ClassVar[dict[type, Handler]] = {
        Client.Registered: client_registered,
        Client.ConsentGranted: consent_changed,
        Client.ConsentWithdrawn: consent_changed,
        Case.Opened: case_opened,
        Case.AssessmentRecorded: assessment_recorded,
        Case.SessionHeld: session_held,
        Case.GroupSessionNoted: group_session_noted,
        Case.Accepted: case_accepted,
        Case.ReferredOut: _case_ends("referred_out"),
        Case.Declined: _case_ends("declined"),
        Case.Closed: _case_ends("closed"),
        Case.FileClosed: _case_ends("closed"),
        Case.Reassigned: reassigned,
        Case.Reopened: _case_becomes("status = 'accepted', phase = 'aftercare', closed_at = NULL"),
        Case.PhaseChanged: phase_changed,
        Case.AppointmentPlanned: appointment_planned,
        Case.AppointmentRescheduled: _appointment_becomes(
            "starts_at = $3, minutes = $4, channel = $5, place = $6",
            lambda e: e["starts_at"],
            lambda e: e["minutes"],
            lambda e: e["channel"],
            lambda e: e.get("place"),
        ),
        Case.AppointmentCancelled: _appointment_becomes("status = 'cancelled'"),
        Case.AppointmentMissed: _appointment_becomes("status = 'missed'"),
        Case.AppointmentHeld: _appointment_becomes("status = 'held'"),
        Case.BudgetExtended: budget_extended,
        Case.AftercareContactCounted: aftercare_counted,
        # Any other event of a case: its version and time.
        Case.Event: _case_becomes(""),
        Client.InformedOfRights: informed_of_rights,
        Complaint.Registered: complaint_registered,
        Complaint.Assigned: _complaint_becomes("assigned_to = $3", lambda e: e["team_lead"]),
        Complaint.HandlingStarted: _complaint_becomes("status = 'in_handling'"),
        Complaint.Answered: _complaint_becomes(
            "status = 'answered', answered_on = $3, closed_at = $4",
            lambda e: _date(e["answered_on"]),
            lambda e: e.at,
        ),
        Complaint.Withdrawn: _complaint_becomes(
            "status = 'withdrawn', closed_at = $3", lambda e: e.at
        ),
        GroupSession.Planned: group_planned,
        GroupSession.ParticipantAdded: _group_becomes(
            "case_ids = array_append(case_ids, $3)", lambda e: e["case_id"]
        ),
        GroupSession.ParticipantRemoved: _group_becomes(
            "case_ids = array_remove(case_ids, $3)", lambda e: e["case_id"]
        ),
        GroupSession.Held: _group_becomes(
            "status = 'held', held_at = $3, minutes = $4",
            lambda e: e["held_at"],
            lambda e: e["minutes"],
        ),
        GroupSession.Cancelled: _group_becomes("status = 'cancelled'"),
    }


async def _update_case(conn: asyncpg.Connection, e: Stored, sets: str, *args: Any) -> None:
    extra = f", {sets}" if sets else ""
    await conn.execute(
        f"UPDATE intake.cases_view SET version = $2, updated_at = now(){extra} "
        "WHERE case_id = $1 AND version < $2",
        e.id,
        e.version,
        *args,
    )


def _sealed_json(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def _dumps(value: Any) -> str:
    return json.dumps(value)


# -- queries ------------------------------------------------------------------------------
CASE_COLUMNS = (
    "v.case_id, v.client_id, v.organisation, v.status, v.phase, v.hours_budget, "
    "v.programme, v.budget_extra, v.minutes_used, v.gaps, v.scores, v.opened_by, "
    "v.counsellor, v.opened_at, v.updated_at, "
    "v.version, "
    "v.career_question_sealed, c.given_name, c.family_name, "
    "c.client_id IS NULL AS client_erased, c.rights_informed_at AS client_informed_at"
)


async def list_cases(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    status: str | None = None,
    phase: str | None = None,
    client_id: uuid.UUID | None = None,
    counsellor: str | None = None,
    opened_after: datetime | None = None,
    page: Page | None = None,
) -> Listed:
    """The organisation's cases, newest first (`CASE_ORDER`), with the capped total.

    Each row carries the client's display name (`clients_view`) and the career question
    still sealed (`career_question_sealed`: open it with `open_career_questions`, for
    the page only); an erased client's (its `clients_view` row dropped, or rebuilt from
    events whose key is gone) reads `ERASED`. The case's counsellor is the one who
    carries it now (`counsellor`: who opened it, until a team lead handed it over)."""
    where = ["v.organisation = $1"]
    args: list[Any] = [organisation]
    for column, value in (
        ("status", status),
        ("phase", phase),
        ("client_id", client_id),
        ("counsellor", counsellor),
    ):
        if value is not None:
            args.append(value)
            where.append(f"v.{column} = ${len(args)}")
    if opened_after is not None:
        args.append(opened_after)
        where.append(f"v.opened_at >= ${len(args)}")
    async with snapshot(pool) as conn:
        listed = await fetch_page(
            conn,
            select=CASE_COLUMNS,
            source="FROM intake.cases_view v "
            "LEFT JOIN intake.clients_view c ON c.client_id = v.client_id",
            count_source="FROM intake.cases_view v",
            where=where,
            args=args,
            order=CASE_ORDER,
            page=page or Page(),
        )
    listed.rows = [_case_row(r) for r in listed.rows]
    return listed


# The case list's order (newest first; the id breaks ties, also descending so that one
# index read backwards serves it), matched by `cases_view_org` and, filtered, by
# `cases_view_status`, `cases_view_phase`, `cases_view_status_phase`, `cases_view_carried`.
CASE_ORDER = Order(
    "cases",
    (Column("v.opened_at", "timestamptz", True), Column("v.case_id", "uuid", True)),
)
# The client list's order: by family name, then given name (a missing one sorts as empty).
CLIENT_ORDER = Order(
    "clients",
    (
        Column("lower(coalesce(family_name, ''))", "text"),
        Column("lower(coalesce(given_name, ''))", "text"),
        Column("client_id", "uuid"),
    ),
)
COMPLAINT_ORDER = Order(
    "complaints",
    (
        Column("deadline", "date"),
        Column("registered_at", "timestamptz"),
        Column("complaint_id", "uuid"),
    ),
)
GROUP_ORDER = Order(
    "groups", (Column("starts_at", "timestamptz", True), Column("group_id", "uuid", True))
)


async def search_clients(
    pool: asyncpg.Pool,
    organisation: str,
    text: str | None,
    *,
    client_ids: list[uuid.UUID] | None = None,
    page: Page | None = None,
) -> Listed:
    """The organisation's clients whose name or e-mail address contains `text` (any
    case), or whose birth date is `text` (YYYY-MM-DD); every client without it; only those
    of `client_ids` when given; by family name, then given name; with the total for
    pagination. Erased clients have no row."""
    where = ["organisation = $1"]
    args: list[Any] = [organisation]
    if client_ids is not None:
        args.append(client_ids)
        where.append(f"client_id = ANY(${len(args)}::uuid[])")
    born = _day(text)
    if born is not None:
        args.append(born)
        where.append(f"birth_date = ${len(args)}")
    else:
        for word in (text or "").lower().split():
            args.append(f"%{_like(word)}%")
            at = f"${len(args)}"
            where.append(
                "(lower(coalesce(given_name, '') || ' ' || coalesce(family_name, '')) "
                f"LIKE {at} OR lower(coalesce(email, '')) LIKE {at})"
            )
    async with snapshot(pool) as conn:
        return await fetch_page(
            conn,
            select="client_id, given_name, family_name, birth_date, email, registered_at, "
            "rights_informed_at",
            source="FROM intake.clients_view",
            where=where,
            args=args,
            order=CLIENT_ORDER,
            page=page or Page(),
        )


async def caseload(pool: asyncpg.Pool, organisation: str, period: Period) -> list[dict[str, Any]]:
    """The team lead's caseload per counsellor: open cases now (per phase, with their hours
    budget), cases opened and closed in the period [start, end), and the sessions held in it
    (with their hours; a group session once, however many took part); by counsellor. A
    case's counsellor is who carries it now (`counsellor`: its opener, until a team lead
    handed it over), a session's who recorded it.

    Workload is operational, not statistics: every case counts, whether or not its client
    withdrew the `statistics` consent. Three queries in one snapshot, so they agree: the
    open cases as counted when they change (`caseload_open`), the cases opened and those
    closed in the period (counted per day as they change, `caseload_days`, for the period's
    whole days; a range of an index each for the part-days at its ends), and the sessions
    of the period. The first two are as long as the number of counsellors and days,
    however long the organisation's history and however many cases a day sees."""
    async with snapshot(pool) as conn:
        open_now = await conn.fetch(
            "SELECT counsellor, phase, cases, hours_budget FROM intake.caseload_open "
            "WHERE organisation = $1 AND cases > 0",
            organisation,
        )
        first, after_last, edges = period.split()
        moved = await conn.fetch(
            "SELECT counsellor, sum(opened) AS opened, sum(closed) AS closed FROM ("
            "SELECT counsellor, opened, closed FROM intake.caseload_days "
            "WHERE organisation = $1 AND day >= $2 AND day < $3"
            + "".join(
                f" UNION ALL SELECT counsellor, 1, 0 FROM intake.cases_view "
                f"WHERE organisation = $1 AND opened_at >= ${n} AND opened_at < ${n + 1} "
                f"UNION ALL SELECT counsellor, 0, 1 FROM intake.cases_view "
                f"WHERE organisation = $1 AND closed_at >= ${n} AND closed_at < ${n + 1}"
                for n in range(4, 4 + 2 * len(edges), 2)
            )
            + ") AS m GROUP BY 1 HAVING sum(opened) <> 0 OR sum(closed) <> 0",
            organisation,
            first,
            after_last,
            *(bound for edge in edges for bound in edge),
        )
        # A group session once (its participants' rows share its group), not per client.
        sessions = await conn.fetch(
            "SELECT counsellor, count(*) AS n, sum(minutes) AS minutes FROM ("
            "SELECT DISTINCT ON (coalesce(group_id, session_id)) counsellor, minutes "
            "FROM intake.sessions_view WHERE organisation = $1 AND held_at >= $2 "
            "AND held_at < $3) AS held GROUP BY 1",
            organisation,
            period.start,
            period.end,
        )
    figures: dict[str, dict[str, Any]] = {}

    def of(counsellor: str) -> dict[str, Any]:
        return figures.setdefault(
            counsellor,
            {
                "counsellor": counsellor,
                "open_cases": 0,
                "cases_by_phase": {},
                "cases_opened": 0,
                "cases_closed": 0,
                "hours_budget": 0.0,
                "hours_used": 0.0,
                "sessions": 0,
            },
        )

    for r in moved:
        row = of(r["counsellor"])
        row["cases_opened"] += int(r["opened"])
        row["cases_closed"] += int(r["closed"])
    for r in open_now:
        row = of(r["counsellor"])
        row["open_cases"] += int(r["cases"])
        row["cases_by_phase"][r["phase"]] = int(r["cases"])
        row["hours_budget"] += float(r["hours_budget"])
    for r in sessions:
        row = of(r["counsellor"])
        row["sessions"] = int(r["n"])
        row["hours_used"] = round(int(r["minutes"]) / 60, 2)
    for row in figures.values():
        row["hours_budget"] = round(row["hours_budget"], 2)
    return [figures[c] for c in sorted(figures)]


async def carried_cases(pool: asyncpg.Pool, organisation: str, counsellor: str) -> list[uuid.UUID]:
    """The organisation's open and accepted cases that `counsellor` carries, oldest first."""
    rows = await pool.fetch(
        "SELECT case_id FROM intake.cases_view WHERE organisation = $1 AND counsellor = $2 "
        "AND status IN ('open', 'accepted') ORDER BY opened_at, case_id",
        organisation,
        counsellor,
    )
    return [uuid.UUID(str(r["case_id"])) for r in rows]


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _like(word: str) -> str:
    """`word` matched literally by LIKE (its default escape character is the backslash)."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _case_row(r: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    row = dict(r)
    row["minutes_used"] = int(row["minutes_used"])
    row["hours_used"] = round(row["minutes_used"] / 60, 2)
    row["gaps"] = list(row["gaps"])
    row["scores"] = _json(row["scores"])
    given, family = row.pop("given_name"), row.pop("family_name")
    erased = row.pop("client_erased") or ERASED in (given, family)
    row["client_erased"] = erased
    row["client_name"] = ERASED if erased else " ".join(p for p in (given, family) if p)
    sealed = row.pop("career_question_sealed")
    row["career_question_sealed"] = None if erased or sealed is None else json.loads(sealed)
    row["career_question"] = ERASED if erased else None
    informed = row.pop("client_informed_at")
    row["client_informed_of_rights"] = None if erased else informed is not None
    return row


def open_career_questions(sealing: SealingMapper, rows: list[dict[str, Any]]) -> None:
    """Open the listed rows' career questions in place (their clients' keys fetched in
    one vault query); synchronous, call it off the event loop."""
    todo = [r for r in rows if r["career_question_sealed"] is not None]
    opened = sealing.open_fields(
        [(r["career_question_sealed"], event_id(r["case_id"], 1), "career_question") for r in todo]
    )
    for row, value in zip(todo, opened, strict=True):
        row["career_question"] = value


# -- complaints ---------------------------------------------------------------------------
COMPLAINT_COLUMNS = (
    "complaint_id, client_id, case_id, status, registered_at, registered_by, deadline, "
    "assigned_to, answered_on, closed_at, version"
)
# Which complaints a team lead's list shows.
COMPLAINT_FILTERS = {
    "open": "status = ANY($2::text[])",
    "overdue": "status = ANY($2::text[]) AND deadline < $3",
    "answered": "status = 'answered'",
    "withdrawn": "status = 'withdrawn'",
}


async def list_complaints(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    which: str | None,
    today: date,
    client_id: uuid.UUID | None = None,
    page: Page | None = None,
) -> Listed:
    """The organisation's complaints (`which`: open, overdue, answered, withdrawn; all
    when None), oldest deadline first, with the total; each says whether it is overdue
    (open after its deadline's day, `today`)."""
    where = ["organisation = $1", "$2::text[] IS NOT NULL", "$3::date IS NOT NULL"]
    args: list[Any] = [organisation, list(OPEN_STATUSES), today]
    if which is not None:
        where.append(COMPLAINT_FILTERS[which])
    if client_id is not None:
        args.append(client_id)
        where.append(f"client_id = ${len(args)}")
    async with snapshot(pool) as conn:
        return await fetch_page(
            conn,
            select=f"{COMPLAINT_COLUMNS}, (status = ANY($2::text[]) AND deadline < $3) AS overdue",
            source="FROM intake.complaints_view",
            where=where,
            args=args,
            order=COMPLAINT_ORDER,
            page=page or Page(),
        )


async def complaint_figures(
    pool: asyncpg.Pool, organisation: str, period: Period, today: date
) -> dict[str, int]:
    """Of the complaints registered in the period [start, end): how many per status now,
    how many of the open ones are overdue, and how many were answered by their deadline."""
    row = await pool.fetchrow(
        "SELECT count(*) AS registered, "
        "count(*) FILTER (WHERE status = 'received') AS received, "
        "count(*) FILTER (WHERE status = 'in_handling') AS in_handling, "
        "count(*) FILTER (WHERE status = 'answered') AS answered, "
        "count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn, "
        "count(*) FILTER (WHERE status IN ('received', 'in_handling') AND deadline < $4) "
        "AS overdue, "
        "count(*) FILTER (WHERE status = 'answered' AND answered_on <= deadline) "
        "AS answered_in_time "
        "FROM intake.complaints_view "
        "WHERE organisation = $1 AND registered_at >= $2 AND registered_at < $3",
        organisation,
        period.start,
        period.end,
        today,
    )
    return {k: int(v) for k, v in dict(row).items()}


# -- appointments -------------------------------------------------------------------------
APPOINTMENT_COLUMNS = (
    "appointment_id, case_id, client_id, counsellor, kind, starts_at, minutes, channel, "
    "place, status, sequence, updated_at"
)


async def list_appointments(
    pool: asyncpg.Pool,
    organisation: str,
    counsellor: str,
    *,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
    statuses: tuple[str, ...] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The counsellor's appointments of the organisation, by their start (within
    [`starts_from`, `starts_before`) when given)."""
    where = ["organisation = $1", "counsellor = $2"]
    args: list[Any] = [organisation, counsellor]
    for clause, value in (
        ("starts_at >= ${}", starts_from),
        ("starts_at < ${}", starts_before),
        ("status = ANY(${})", list(statuses) if statuses else None),
    ):
        if value is not None:
            args.append(value)
            where.append(clause.format(len(args)))
    args.append(limit)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {APPOINTMENT_COLUMNS} FROM intake.appointments_view "
            f"WHERE {' AND '.join(where)} ORDER BY starts_at, appointment_id LIMIT ${len(args)}",
            *args,
        )
    ids = ("appointment_id", "case_id", "client_id")
    return [{**dict(r), **{k: uuid.UUID(str(r[k])) for k in ids}} for r in rows]


GROUP_COLUMNS = (
    "group_id, topic, starts_at, minutes, place, counsellor, status, "
    "cardinality(case_ids) AS participants, held_at"
)


async def list_groups(
    pool: asyncpg.Pool,
    organisation: str,
    *,
    status: str | None = None,
    case_id: uuid.UUID | None = None,
    page: Page | None = None,
) -> Listed:
    """The organisation's group sessions (of one status, or one case's, if given), the
    latest first, with the total."""
    where = ["organisation = $1"]
    args: list[Any] = [organisation]
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if case_id is not None:
        args.append([case_id])
        where.append(f"case_ids @> ${len(args)}::uuid[]")
    async with snapshot(pool) as conn:
        return await fetch_page(
            conn,
            select=GROUP_COLUMNS,
            source="FROM intake.groups_view",
            where=where,
            args=args,
            order=GROUP_ORDER,
            page=page or Page(),
        )


async def funder_cases(
    pool: asyncpg.Pool, organisation: str, period: Period, programme: str | None
) -> list[dict[str, Any]]:
    """The cases accepted in the period [start, end) (of one programme, or all; a
    `programme` of `funder.OTHER_HOURS` means those accepted with other hours), each with
    what follow-up said of its outcome and feedback (`consumers.FUNDER_OUTCOMES`): the rows
    `funder.report` takes. No personal data: ids, times, counts and codes."""
    rows = await pool.fetch(
        "SELECT v.case_id, v.client_id, v.programme, v.accepted_at, v.minutes_used, "
        "v.plan_agreed_at, v.plan_within_budget, o.outcome, o.outcome_on, o.satisfaction "
        "FROM intake.cases_view v LEFT JOIN intake.case_outcomes o USING (case_id) "
        "WHERE v.organisation = $1 AND v.accepted_at >= $2 AND v.accepted_at < $3 "
        "AND ($4::text IS NULL OR coalesce(v.programme, $5) = $4) ORDER BY v.accepted_at",
        organisation,
        period.start,
        period.end,
        programme,
        OTHER_HOURS,
    )
    return [dict(r) for r in rows]

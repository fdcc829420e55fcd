"""Columns added to read models after rows were kept: their values for the older rows are
set once, when the column is added, and later starts do not scan the tables again. A
database with the tables as they were before each column, on PostgreSQL."""

from __future__ import annotations

import os
import uuid

import psycopg

from services.followup.projections import SCHEMA_SQL as FOLLOWUP_SQL
from services.intake.projections import SCHEMA_SQL as INTAKE_SQL
from tests.conftest import DEFAULT_DB, fresh_database

# The two tables as the first versions kept them.
OLD_FOLLOWUP = """
CREATE SCHEMA followup;
CREATE TABLE followup.followups_view (
    followup_id uuid PRIMARY KEY, case_id uuid NOT NULL UNIQUE, client_id uuid NOT NULL,
    organisation text NOT NULL, counsellor text NOT NULL, status text NOT NULL,
    version int NOT NULL
);
CREATE TABLE followup.checkins_view (
    checkin_id uuid PRIMARY KEY, followup_id uuid NOT NULL, case_id uuid NOT NULL,
    organisation text NOT NULL, counsellor text NOT NULL, number int NOT NULL,
    due_on date NOT NULL, done boolean NOT NULL DEFAULT false
);
"""
OLD_INTAKE = """
CREATE SCHEMA intake;
CREATE TABLE intake.cases_view (
    case_id uuid PRIMARY KEY, client_id uuid NOT NULL, organisation text NOT NULL,
    status text NOT NULL, phase text NOT NULL, hours_budget double precision NOT NULL,
    minutes_used int NOT NULL DEFAULT 0, scores jsonb NOT NULL DEFAULT '{}',
    gaps text[] NOT NULL DEFAULT '{}', opened_by text NOT NULL,
    opened_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version int NOT NULL
);
"""


def test_older_rows_get_the_added_columns_values_once() -> None:
    closed, open_ = uuid.uuid4(), uuid.uuid4()
    case = uuid.uuid4()
    with (
        fresh_database(os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        conn.execute(OLD_FOLLOWUP)
        conn.execute(OLD_INTAKE)
        for followup, status in ((closed, "closed"), (open_, "open")):
            conn.execute(
                "INSERT INTO followup.followups_view VALUES (%s, %s, %s, 'org', 'c', %s, 3)",
                [followup, uuid.uuid4(), uuid.uuid4(), status],
            )
            conn.execute(
                "INSERT INTO followup.checkins_view VALUES "
                "(%s, %s, %s, 'org', 'c', 1, '2026-01-01', false)",
                [uuid.uuid4(), followup, uuid.uuid4()],
            )
        conn.execute(
            "INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, "
            "hours_budget, opened_by, opened_at, updated_at, version) VALUES "
            "(%s, %s, 'org', 'open', 'intake', 12, 'c-anna', now(), now(), 1)",
            [case, uuid.uuid4()],
        )

        conn.execute(FOLLOWUP_SQL)
        conn.execute(INTAKE_SQL)

        flags = dict(
            conn.execute("SELECT followup_id, followup_open FROM followup.checkins_view").fetchall()
        )
        assert flags == {closed: False, open_: True}
        assert conn.execute(
            "SELECT counsellor FROM intake.cases_view WHERE case_id = %s", [case]
        ).fetchone() == ("c-anna",)
        # The open case is counted for the caseload report from the start.
        assert conn.execute(
            "SELECT organisation, counsellor, phase, cases, hours_budget FROM intake.caseload_open"
        ).fetchall() == [("org", "c-anna", "intake", 1, 12)]
        # And so is the day it was opened.
        today = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()
        assert today is not None
        assert conn.execute(
            "SELECT organisation, day, counsellor, opened, closed FROM intake.caseload_days"
        ).fetchall() == [("org", today[0], "c-anna", 1, 0)]

        # A later start changes nothing: a flag set since (by the projection) stays.
        conn.execute("UPDATE followup.checkins_view SET followup_open = true")
        conn.execute("UPDATE intake.cases_view SET counsellor = 'c-bert'")
        conn.execute(FOLLOWUP_SQL)
        conn.execute(INTAKE_SQL)
        assert conn.execute(
            "SELECT bool_and(followup_open) FROM followup.checkins_view"
        ).fetchone() == (True,)
        assert conn.execute("SELECT counsellor FROM intake.cases_view").fetchone() == ("c-bert",)
        assert conn.execute(
            "SELECT counsellor, cases FROM intake.caseload_open WHERE cases > 0"
        ).fetchall() == [("c-bert", 1)]
        assert conn.execute(
            "SELECT counsellor, opened FROM intake.caseload_days WHERE opened > 0"
        ).fetchall() == [("c-bert", 1)]

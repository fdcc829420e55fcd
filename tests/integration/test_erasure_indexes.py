"""Erasing a client costs the same after seven years as on the first day: every table a
service's erasure touches (`ServiceSpec.erasure`) finds the client's rows by an index,
never by a scan of every client's rows.

Found at 10 million events (`bench.scale`): five of the tables erasure deletes from had no
index on `client_id`; each DELETE read its whole table (up to 274 ms at 440,000 clients).
The schemas here are those the running services made, on PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from shared.settings import Settings

# `FROM|UPDATE <schema>.<table> [alias] [SET ...] WHERE [alias.]<column> (= | IN)`: the
# column each statement finds its rows by, in each table it names.
FOUND_BY = re.compile(
    r"(?:FROM|UPDATE)\s+(\w+)\.(\w+)(?:\s+(?!WHERE\b)\w+)?\s+(?:SET\s+.*?\s+)?"
    r"WHERE\s+(?:\w+\.)?(\w+)\s*(?:=|IN\b)",
    re.S,
)


def found_by(statement: str) -> set[tuple[str, str, str]]:
    return {(s, t, c) for s, t, c in FOUND_BY.findall(statement)}


def test_the_pattern_reads_each_kind_of_statement() -> None:
    assert found_by("DELETE FROM referral.cases WHERE client_id = %(client_id)s") == {
        ("referral", "cases", "client_id")
    }
    assert found_by(
        "UPDATE intake.cases_view SET career_question_sealed = NULL "
        "WHERE client_id = %(client_id)s AND career_question_sealed IS NOT NULL"
    ) == {("intake", "cases_view", "client_id")}
    assert found_by(
        "DELETE FROM followup.checkins_view WHERE followup_id IN (SELECT followup_id FROM "
        "followup.followups_view WHERE client_id = %(client_id)s)"
    ) == {("followup", "checkins_view", "followup_id"), ("followup", "followups_view", "client_id")}


def leading_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> set[str]:
    """The first key column of each index of the table."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_index x "
        "JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
        "WHERE n.nspname = %s AND t.relname = %s",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.usefixtures("intake", "planning", "followup", "referral")
async def test_every_erasure_statement_finds_its_rows_by_an_index(settings: Settings) -> None:
    from services.followup.main import SPEC as FOLLOWUP
    from services.intake.main import SPEC as INTAKE
    from services.planning.main import SPEC as PLANNING
    from services.referral.main import SPEC as REFERRAL

    looked: list[tuple[str, str, str]] = []
    missing: list[str] = []
    with psycopg.connect(settings.pg.dsn()) as conn:
        for spec in (INTAKE, PLANNING, FOLLOWUP, REFERRAL):
            assert spec.erasure is not None, spec.name
            for statement in spec.erasure.statements:
                found = found_by(statement)
                assert found, f"{spec.name}: no table read from {statement!r}"
                for schema, table, column in sorted(found):
                    looked.append((schema, table, column))
                    if column not in leading_columns(conn, schema, table):
                        missing.append(f"{schema}.{table} ({column})")
    assert not missing, f"erasure scans these tables whole: {missing}"
    # Every service's erasure was read (a pattern that found nothing would pass vacuously).
    assert {s for s, _, _ in looked} == {"intake", "planning", "followup", "referral"}
    assert len(looked) >= 15, looked

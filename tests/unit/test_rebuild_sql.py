"""`waypoint rebuild`'s SQL: the shadow schema gets every table and index of a projection,
its handlers write only the tables it keeps there, and the erasure for the shadow tables
takes every erased client at once and never writes a table that is not rebuilt."""

from __future__ import annotations

import re

import pytest

from shared.messaging.projection import shadow_rewrite
from shared.messaging.reproject import erasure_sql, service_spec, shadow_ddl
from shared.serve import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_a_projection_keeps_tables_its_schema_creates(service: str) -> None:
    projection = service_spec(service).projection
    created = set(
        # (`IF NOT EXISTS`, or plain inside a block that looked first, as intake's counters)
        re.findall(rf"CREATE TABLE (?:IF NOT EXISTS )?{service}\.(\w+)", projection.schema_sql)
    )
    assert projection.tables and set(projection.tables) <= created
    ddl = shadow_ddl(projection.schema_sql, service, f"{service}_rebuild")
    assert f"{service}." not in ddl.replace(f"{service}_rebuild.", "")


def test_handlers_write_the_shadow_tables_and_read_the_others_where_they_are() -> None:
    rewrite = shadow_rewrite("planning", "planning_rebuild", ("plans_view",))
    sql = (
        "INSERT INTO planning.plans_view (plan_id, counsellor) VALUES ($1, (SELECT counsellor "
        "FROM planning.case_counsellors WHERE case_id = $2))"
    )
    assert rewrite(sql) == sql.replace(
        "INTO planning.plans_view", "INTO planning_rebuild.plans_view"
    )
    # A write of a table that is not rebuilt is not run.
    assert rewrite("UPDATE planning.plans_view_x SET a = 1") is None
    assert rewrite("DELETE FROM followup.statistics_archive") == (
        "DELETE FROM followup.statistics_archive"  # another schema: left alone
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_erasure_of_the_shadow_tables_is_set_based_and_stays_in_them(service: str) -> None:
    spec = service_spec(service)
    projection = spec.projection
    shadow = f"{service}_rebuild"
    statements, _ = erasure_sql(service, projection, spec.erasure.statements, shadow)
    assert statements, "a rebuilt model must drop erased clients' rows"
    for sql in statements:
        assert "%(client_id)s" not in sql and "ANY($1::uuid[])" in sql
        assert not re.search(rf"\b{service}\.", sql), sql  # only the shadow tables
        assert "INSERT" not in sql.upper()

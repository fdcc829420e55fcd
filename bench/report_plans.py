"""Benchmark: the plans of the team lead's three reports on 100,000 rows of one organisation.

In a throwaway database (created on the server of `--database-url`, dropped afterwards):
the report tables made by the services' own schema SQL, bulk-filled with 100,000
follow-ups, bottlenecks, cases, referrals (200,000 sessions) of one organisation and as
many of 100 others, 1% of clients with a withdrawn `statistics` consent; then each report
runs twice (the first read after the bulk load sets hint bits) and every query of the
second run is shown with `EXPLAIN (ANALYZE, BUFFERS)`. Each should use its
(organisation, date) index, never a scan of the whole table.

    .venv/bin/python -m bench.report_plans [--database-url postgresql://…/postgres] [--year]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psycopg

from services.followup import consumers as followup_consumers
from services.followup.projections import SCHEMA_SQL as FOLLOWUP_SQL
from services.followup.queries import outcomes_report
from services.intake.projections import SCHEMA_SQL as INTAKE_SQL
from services.intake.projections import caseload
from services.referral.projections import SCHEMA_SQL as REFERRAL_SQL
from services.referral.queries import network_report
from services.referral.read_models import SCHEMA_SQL as REFERRAL_READ_SQL
from shared.periods import Period

PLANS: list[str] = []

FILL = """
INSERT INTO followup.followups_view (followup_id, case_id, client_id, organisation, counsellor,
    status, version, outcome, outcome_on, satisfaction, self_knowledge_improved,
    confidence_improved, feedback_on, bottlenecks, opened_at)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
    CASE WHEN i <= 100000 THEN 'org-big' ELSE 'org-' || (i % 100) END, 'c-' || (i % 50),
    'closed', 5, (ARRAY['employed','education','none','volunteering','other'])[1 + i % 5],
    date '2024-01-01' + (i % 1095), 1 + i % 5, i % 2 = 0, i % 3 = 0,
    date '2024-01-01' + (i % 1095), i % 4, now()
FROM generate_series(1, 200000) i;
INSERT INTO followup.accepted_cases (case_id, organisation, accepted_on)
SELECT case_id, organisation, outcome_on - (i::int % 400) FROM (
    SELECT case_id, organisation, outcome_on, row_number() OVER () AS i
    FROM followup.followups_view) f;
INSERT INTO followup.statistics_consents (client_id, withdrawn, changed_at, source_position)
SELECT client_id, true, now(), 1 FROM followup.followups_view TABLESAMPLE BERNOULLI (1);
INSERT INTO followup.bottlenecks_view (bottleneck_id, followup_id, case_id, client_id,
    organisation, kind, detected_on)
SELECT gen_random_uuid(), followup_id, case_id, client_id, organisation,
    (ARRAY['unreachable','action','checkin_overdue','action_overdue'])[1 + (random() * 3)::int],
    outcome_on - 20 FROM followup.followups_view;
INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, hours_budget,
    opened_by, counsellor, opened_at, updated_at, version, closed_at)
SELECT gen_random_uuid(), gen_random_uuid(),
    CASE WHEN i <= 100000 THEN 'org-big' ELSE 'org-' || (i % 100) END,
    (ARRAY['open','accepted','accepted','closed','declined'])[1 + i % 5],
    (ARRAY['intake','deepening','synthesis','closed','closed'])[1 + i % 5], 12, 'c-' || (i % 50),
    'c-' || (i % 50),
    timestamptz '2024-01-01' + (i % 1095) * interval '1 day', now(), 3,
    CASE WHEN i % 5 >= 3 THEN timestamptz '2024-02-01' + (i % 1095) * interval '1 day' END
FROM generate_series(1, 200000) i;
INSERT INTO intake.sessions_view (session_id, case_id, client_id, organisation, counsellor,
    held_at, minutes)
SELECT gen_random_uuid(), case_id, client_id, organisation, opened_by,
    opened_at + (k * 7) * interval '1 day', 60
FROM intake.cases_view, generate_series(1, 2) k;
INSERT INTO referral.partners_view (partner_id, name, services, accepted_categories, active,
    created_at, updated_at, version)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'Partner ' || i, '[]',
    '{}', true, now(), now(), 1 FROM generate_series(1, 200) i;
INSERT INTO referral.referrals_view (referral_id, case_id, client_id, organisation, partner_id,
    status, data_categories, consent_id, overdue, proposed_at, sent_at, acknowledged_at,
    answered_at, answer, outcome, updated_at, version)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
    CASE WHEN i <= 100000 THEN 'org-big' ELSE 'org-' || (i % 100) END,
    ('00000000-0000-0000-0000-' || lpad((1 + i % 200)::text, 12, '0'))::uuid,
    'closed', '{}', gen_random_uuid(), i % 17 = 0, s, s, s + interval '3 hours',
    s + interval '20 hours', CASE WHEN i % 3 = 0 THEN 'declined' ELSE 'accepted' END,
    CASE WHEN i % 4 = 0 THEN 'completed' END, now(), 4
FROM (SELECT i, timestamptz '2024-01-01' + (i % 1095) * interval '1 day' AS s
      FROM generate_series(1, 200000) i) g;
INSERT INTO referral.statistics_consents (client_id, withdrawn, changed_at, source_position)
SELECT client_id, true, now(), 1 FROM referral.referrals_view TABLESAMPLE BERNOULLI (1);
ANALYZE;
"""


def explaining() -> None:
    """Every fetch and fetchrow first shows the plan of its query (same arguments)."""
    real_fetch = asyncpg.connection.Connection.fetch
    for name in ("fetch", "fetchrow"):
        real = getattr(asyncpg.connection.Connection, name)

        def wrapped(self: Any, query: str, *args: Any, _real: Any = real, **kw: Any) -> Any:
            async def run() -> Any:
                plan = await real_fetch(self, "EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
                PLANS.append(query.strip()[:100] + "\n" + "\n".join(r[0] for r in plan))
                return await _real(self, query, *args, **kw)

            return run()

        setattr(asyncpg.connection.Connection, name, wrapped)


async def run(url: str, year: bool) -> None:
    conn = await asyncpg.connect(url)
    for schema in ("followup", "intake", "referral"):
        await conn.execute(f"CREATE SCHEMA {schema}")
    for sql in (
        FOLLOWUP_SQL,
        followup_consumers.ACCEPTED_CASES_SQL,
        followup_consumers.STATISTICS_SQL,
        INTAKE_SQL,
        REFERRAL_SQL,
        REFERRAL_READ_SQL,
    ):
        await conn.execute(sql)
    started = datetime.now()
    await conn.execute(FILL)
    print(f"filled in {datetime.now() - started}")
    await conn.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    explaining()
    end = datetime(2026 if year else 2025, 1 if year else 4, 1, tzinfo=UTC)
    period = Period(datetime(2025, 1, 1, tzinfo=UTC), end)
    reports: dict[str, Callable[[], Awaitable[Any]]] = {
        "followup outcomes": lambda: outcomes_report(pool, "org-big", period),
        "intake caseload": lambda: caseload(pool, "org-big", period),
        "referral network": lambda: network_report(pool, "org-big", period.start, period.end),
    }
    for label, report in reports.items():
        await report()
        PLANS.clear()
        started = datetime.now()
        await report()
        print(f"===== {label}: {datetime.now() - started} (EXPLAIN ANALYZE included)")
        for plan in PLANS:
            print(plan, "\n--")
    await pool.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--year", action="store_true", help="a period of a year (default: a quarter)")
    args = p.parse_args()
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    head = args.database_url.rsplit("/", 1)[0]
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        asyncio.run(run(f"{head}/{name}", args.year))
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""Benchmark: the lists of the four services and the retention queries, at several sizes,
before (the old query shapes, kept here as the peer) and after (the services' own code:
keyset pages, capped counts, their indexes), in one run.

For each size of `--rows` (default 10,000 and 1,000,000), in a throwaway database
(created on the server of `--database-url`, dropped afterwards): the read models made by
the services' own schema SQL, bulk-filled by SQL with that many cases, clients, plans,
follow-ups, check-ins and referrals (half of them of one organisation, `org-big`, the
rest of 97 others), a tenth as many complaints and group sessions, 200 partners; then
VACUUM ANALYZE (what autovacuum does after a load). Each query runs a few times to warm
up, then `--repeat` times (at most `--budget` seconds each), the sizes taking turns run
by run (a load on the machine meanwhile falls on every size alike): p50 and p99 in ms.

The retention queries: the clients registered before the cutoff (seven years) who are
still there are a constant 200 at every size (in a store where retention runs every hour,
the old clients still present are those whose guidance goes on, not the history), as are
the referrals whose packet's retention passed and whose packet is not yet removed.

Printed: a table per query with p50/p99 at each size and the p99's ratio to the first
size; for the cursor pages (`after`), PASS when that ratio is within 1.2 (the issue's
target), else MISS. `--explain` prints each query's EXPLAIN (ANALYZE, BUFFERS) at the
largest size; without it, a line of the plan's scans and sorts.

    .venv/bin/python -m bench.lists [--rows 10000,1000000] [--repeat 40] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psycopg

from services.followup.projections import SCHEMA_SQL as FOLLOWUP_SQL
from services.followup.queries import FOLLOWUP_ORDER, WORKLIST_ORDER, list_followups, worklist
from services.intake import jobs as intake_jobs
from services.intake.consumers import CLOSURES_SQL
from services.intake.projections import (
    CASE_COLUMNS,
    CASE_ORDER,
    CLIENT_ORDER,
    GROUP_ORDER,
    list_cases,
    list_complaints,
    list_groups,
    search_clients,
)
from services.intake.projections import SCHEMA_SQL as INTAKE_SQL
from services.planning.projections import PLAN_ORDER, list_plans
from services.planning.projections import SCHEMA_SQL as PLANNING_SQL
from services.referral import jobs as referral_jobs
from services.referral.consumers import HOLDS_SQL
from services.referral.projections import SCHEMA_SQL as REFERRAL_SQL
from services.referral.queries import COLUMNS as REFERRAL_COLUMNS
from services.referral.queries import REFERRAL_ORDER, list_referrals
from shared.paging import Order, Page

TARGET = 1.2
NOW = datetime(2026, 6, 1, tzinfo=UTC)
TODAY = NOW.date()
CUTOFF = NOW.replace(year=NOW.year - 7)
BIG = "org-big"

FILL = """
INSERT INTO intake.clients_view (client_id, organisation, given_name, family_name,
    birth_date, email, registered_at, version)
SELECT md5('client' || i)::uuid, CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    'Given' || (i % 997), 'Family' || (i % 4999), date '1970-01-01' + i % 15000,
    'c' || i || '@example.org',
    CASE WHEN i <= 400 THEN timestamptz '2018-01-01' + i * interval '1 hour'
         ELSE timestamptz '2026-05-01' - (i / 3) * interval '1 minute' END, 1
FROM generate_series(1, {n}) i;
INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase, hours_budget,
    opened_by, counsellor, opened_at, updated_at, closed_at, version)
SELECT md5('case' || i)::uuid, md5('client' || i)::uuid,
    CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    CASE WHEN i <= 400 THEN (CASE WHEN i % 4 = 0 THEN 'closed' ELSE 'accepted' END)
         ELSE (ARRAY['open','accepted','accepted','closed','declined'])[1 + i % 5] END,
    (ARRAY['intake','deepening','synthesis','aftercare','closed'])[1 + (i / 5) % 5], 12,
    'c-' || (i % 50), 'c-' || (i % 50),
    r + interval '1 day', r + interval '2 days',
    CASE WHEN i <= 400 AND i % 4 = 0 THEN timestamptz '2018-06-01'
         WHEN i > 400 AND i % 5 >= 3 THEN r + interval '30 days' END, 3
FROM (SELECT i, CASE WHEN i <= 400 THEN timestamptz '2018-01-01' + i * interval '1 hour'
                     ELSE timestamptz '2026-05-01' - (i / 3) * interval '1 minute' END AS r
      FROM generate_series(1, {n}) i) g;
INSERT INTO planning.plans_view (plan_id, case_id, client_id, organisation, status, goals,
    created_at, updated_at, version, counsellor)
SELECT md5('plan' || i)::uuid, md5('case' || i)::uuid, md5('client' || i)::uuid,
    CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    (ARRAY['draft','agreed','revised','closed'])[1 + i % 4], 3,
    timestamptz '2026-05-02' - (i / 3) * interval '1 minute', now(), 4, 'c-' || (i % 50)
FROM generate_series(1, {n}) i;
INSERT INTO followup.followups_view (followup_id, case_id, client_id, organisation,
    counsellor, status, version, opened_at)
SELECT md5('followup' || i)::uuid, md5('case' || i)::uuid, md5('client' || i)::uuid,
    CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END, 'c-' || (i % 50),
    CASE WHEN i % 3 = 0 THEN 'open' ELSE 'closed' END, 3,
    CASE WHEN i % 101 = 0 THEN NULL
         ELSE timestamptz '2026-05-03' - (i / 3) * interval '1 minute' END
FROM generate_series(1, {n}) i;
INSERT INTO followup.checkins_view (checkin_id, followup_id, case_id, organisation,
    counsellor, number, due_on, done, followup_open)
SELECT md5('checkin' || i)::uuid, md5('followup' || i)::uuid, md5('case' || i)::uuid,
    CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END, 'c-' || (i % 50), 1,
    date '2026-06-01' + (i % 400) - 200, i % 5 <> 0, i % 3 = 0
FROM generate_series(1, {n}) i;
INSERT INTO referral.partners_view (partner_id, name, services, accepted_categories, active,
    created_at, updated_at, version)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'Partner ' || i, '[]',
    '{{}}', true, now(), now(), 1 FROM generate_series(1, 200) i;
INSERT INTO referral.referrals_view (referral_id, case_id, client_id, organisation, partner_id,
    status, data_categories, consent_id, overdue, proposed_at, sent_at, answered_at, answer,
    closed_at, updated_at, version, packet_removed_at)
SELECT md5('referral' || i)::uuid, md5('case' || i)::uuid, md5('client' || i)::uuid,
    CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    ('00000000-0000-0000-0000-' || lpad((1 + i % 200)::text, 12, '0'))::uuid,
    st, '{{}}', gen_random_uuid(), i % 17 = 0, s, s, s + interval '1 day',
    CASE WHEN st = 'declined' THEN 'declined' ELSE 'accepted' END,
    CASE WHEN st = 'closed' THEN s + interval '60 days' END, s + interval '60 days', 4,
    CASE WHEN i > 200 AND (st = 'declined' AND s + interval '1 day' < timestamptz '2025-06-01'
                           OR st = 'closed' AND s + interval '60 days' < timestamptz '2025-06-01')
         THEN s + interval '430 days' END
FROM (SELECT i, (ARRAY['sent','declined','closed','closed'])[1 + i % 4] AS st,
             CASE WHEN i <= 200 THEN timestamptz '2024-01-01' + i * interval '1 hour'
                  ELSE timestamptz '2026-05-04' - (i / 2) * interval '1 minute' END AS s
      FROM generate_series(1, {n}) i) g;
INSERT INTO intake.complaints_view (complaint_id, organisation, client_id, status,
    registered_at, registered_by, deadline, version)
SELECT md5('complaint' || i)::uuid, CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    md5('client' || i)::uuid, (ARRAY['received','in_handling','answered','withdrawn'])[1 + i % 4],
    timestamptz '2026-05-01' - i * interval '10 minutes', 'c-1',
    date '2026-06-01' - (i / 20), 1
FROM generate_series(1, {n} / 10) i;
INSERT INTO intake.groups_view (group_id, organisation, topic, starts_at, minutes, place,
    counsellor, status, version)
SELECT md5('group' || i)::uuid, CASE WHEN i % 2 = 0 THEN 'org-big' ELSE 'org-' || (i % 97) END,
    'Topic', timestamptz '2026-05-01' - i * interval '10 minutes', 90, 'Room', 'c-1',
    (ARRAY['planned','held','cancelled'])[1 + i % 3], 1
FROM generate_series(1, {n} / 10) i;
"""

# -- before: the query shapes the lists and retention had, kept as the peer ----------------------
OLD_EXPIRED_SQL = """
WITH cases AS (
    SELECT v.client_id, v.case_id,
        CASE
            WHEN v.status IN ('declined', 'referred_out') THEN v.updated_at
            WHEN k.closed_at IS NOT NULL THEN k.closed_at
            WHEN v.status = 'closed' AND v.closed_at IS NOT NULL THEN v.closed_at
            WHEN v.status = 'open' AND v.updated_at < $1 THEN v.updated_at
        END AS closed_at
    FROM intake.cases_view v LEFT JOIN intake.case_closures k USING (case_id)
)
SELECT cl.client_id, cl.organisation, cl.registered_at,
    count(cs.case_id) AS cases, max(cs.closed_at) AS last_closed_at
FROM intake.clients_view cl LEFT JOIN cases cs USING (client_id)
WHERE $2::text IS NULL OR cl.organisation = $2
GROUP BY cl.client_id, cl.organisation, cl.registered_at
HAVING count(cs.case_id) = count(cs.closed_at)
    AND coalesce(max(cs.closed_at), cl.registered_at) < $1
ORDER BY coalesce(max(cs.closed_at), cl.registered_at), cl.client_id
"""
OLD_ENDED_SQL = """
SELECT referral_id, case_id, client_id, organisation, partner_id, status, ended_at,
    EXISTS (SELECT 1 FROM referral.legal_holds h WHERE h.client_id = r.client_id) AS held
FROM (
    SELECT *, CASE WHEN status = 'declined' THEN answered_at
                   WHEN status IN ('closed', 'withdrawn') THEN closed_at END AS ended_at
    FROM referral.referrals_view
    WHERE packet_removed_at IS NULL AND ($2::text IS NULL OR organisation = $2)
) r
WHERE ended_at < $1
ORDER BY ended_at, referral_id
"""


@dataclass
class OldList:
    """A list as it was queried: an exact count, then a page by offset."""

    select: str
    source: str
    where: str
    order: str
    args: list[Any]

    async def page(self, conn: asyncpg.Connection, offset: int, limit: int = 50) -> None:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.fetchval(f"SELECT count(*) {self.source} WHERE {self.where}", *self.args)
            await conn.fetch(
                f"SELECT {self.select} {self.source} WHERE {self.where} ORDER BY {self.order} "
                f"LIMIT {limit} OFFSET {offset}",
                *self.args,
            )


CASES_SOURCE = (
    "FROM intake.cases_view v LEFT JOIN intake.clients_view c ON c.client_id = v.client_id"
)
OLD_CASES = OldList(
    CASE_COLUMNS, CASES_SOURCE, "v.organisation = $1", "v.opened_at DESC, v.case_id", [BIG]
)
OLD_FILTERED = OldList(
    CASE_COLUMNS,
    CASES_SOURCE,
    "v.organisation = $1 AND v.status = $2 AND v.phase = $3",
    "v.opened_at DESC, v.case_id",
    [BIG, "accepted", "deepening"],
)
OLD_CLIENTS = OldList(
    "client_id, given_name, family_name",
    "FROM intake.clients_view",
    "organisation = $1",
    "lower(family_name), lower(given_name), client_id",
    [BIG],
)
OLD_PLANS = OldList(
    "plan_id", "FROM planning.plans_view", "organisation = $1", "created_at DESC, plan_id", [BIG]
)
OLD_FOLLOWUPS = OldList(
    "followup_id",
    "FROM followup.followups_view",
    "organisation = $1",
    "opened_at DESC NULLS LAST, followup_id",
    [BIG],
)
OLD_REFERRALS = OldList(
    REFERRAL_COLUMNS,
    "FROM referral.referrals_view",
    "organisation = $1",
    "updated_at DESC, referral_id",
    [BIG],
)


# The indexes (and statistics) this change added, and those it replaced: the "before"
# queries run without the first and with the second, the "after" ones on the schema as the
# services make it now.
NEW_INDEXES = [
    "intake.cases_view_status",
    "intake.cases_view_phase",
    "intake.cases_view_status_phase",
    "intake.clients_view_registered",
    "intake.clients_view_name",
    "intake.complaints_view_deadline",
    "intake.groups_view_listed",
    "planning.plans_view_listed",
    "planning.plans_view_status",
    "planning.plans_view_carried",
    "followup.followups_view_listed",
    "followup.followups_view_carried",
    "followup.followups_view_status",
    "followup.checkins_view_due_open",
    "followup.checkins_view_due_open_counsellor",
    "followup.statistics_archive_figure_on",
    "followup.bottleneck_archive_detected_on",
    "referral.referrals_view_listed",
    "referral.referrals_view_status",
    "referral.referrals_view_carried",
    "referral.referrals_view_inbox",
    "referral.referrals_view_ended",
    "referral.partners_view_listed",
]
OLD_SCHEMA = """
DROP STATISTICS IF EXISTS referral.referrals_view_ended_stats;
CREATE INDEX plans_view_org ON planning.plans_view (organisation, created_at);
CREATE INDEX plans_view_counsellor ON planning.plans_view (organisation, counsellor, created_at);
CREATE INDEX groups_view_org ON intake.groups_view (organisation, starts_at);
CREATE INDEX checkins_view_due ON followup.checkins_view (organisation, due_on) WHERE NOT done;
CREATE INDEX referrals_view_org ON referral.referrals_view (organisation, updated_at DESC);
CREATE INDEX referrals_view_partner ON referral.referrals_view (partner_id, updated_at DESC);
CREATE INDEX referrals_view_counsellor ON referral.referrals_view
    (organisation, counsellor, updated_at DESC);
ANALYZE;
"""
SCHEMAS = (INTAKE_SQL, CLOSURES_SQL, PLANNING_SQL, FOLLOWUP_SQL, REFERRAL_SQL, HOLDS_SQL)


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]  # nearest rank


@dataclass
class Query:
    label: str
    kind: str  # "before" | "after" | "after · cursor"
    call: Callable[[], Awaitable[Any]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.label, self.kind)


PLANS: dict[str, list[str]] = {}
CAPTURED: list[tuple[str, tuple[Any, ...]]] | None = None


def capturing() -> None:
    """Every fetch/fetchval while `CAPTURED` is a list records its SQL and arguments."""
    for name in ("fetch", "fetchval"):
        real = getattr(asyncpg.connection.Connection, name)

        def wrapped(self: Any, query: str, *args: Any, _real: Any = real, **kw: Any) -> Any:
            if CAPTURED is not None and not query.startswith("EXPLAIN"):
                CAPTURED.append((query, args))
            return _real(self, query, *args, **kw)

        setattr(asyncpg.connection.Connection, name, wrapped)


async def explain(pool: asyncpg.Pool, q: Query) -> list[str]:
    global CAPTURED
    CAPTURED = []
    await q.call()
    queries, CAPTURED = CAPTURED, None
    plans = []
    async with pool.acquire() as conn:
        for sql, args in queries:
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
            plans.append(sql.strip()[:120] + "\n" + "\n".join(r[0] for r in rows))
    return plans


def summary(plan: str) -> str:
    """The plan's scans and sorts (with their index) and its execution time, on one line."""
    nodes = []
    for line in plan.splitlines()[1:]:
        text = line.strip().lstrip("-> ").strip()
        if any(k in text for k in ("Scan", "Sort", "Aggregate", "Gather")) and "(" in text:
            node = text.split("  (")[0].split(" (cost")[0]
            nodes.append(node.replace(" on ", " ").replace("intake.", "").replace("referral.", ""))
        if "Sort Method" in text and "external" in text:
            nodes.append("SPILL: " + text)
        if text.startswith("Execution Time"):
            nodes.append(text.replace("Execution Time: ", ""))
    return "; ".join(nodes)


async def cursor_at(
    pool: asyncpg.Pool, order: Order, source: str, where: str, args: list[Any], at: int
) -> str:
    """The cursor of the page starting at row `at` of a list."""
    keys = ", ".join(c.expr for c in order.columns)
    row = await pool.fetchrow(
        f"SELECT {keys} {source} WHERE {where} ORDER BY {order.sql()} OFFSET {at - 1} LIMIT 1",
        *args,
    )
    assert row is not None
    return order.encode(list(row.values()), 10_000, True)


async def queries_of(pool: asyncpg.Pool, conn: asyncpg.Connection, n: int) -> list[Query]:
    big = n // 2  # the big organisation's rows of each 1:1 list
    deep = max(50, (big * 9 // 10) // 50 * 50)
    old: list[Query] = []

    def before(label: str, old_list: OldList, offset: int = 0) -> Query:
        return Query(label, "before", lambda: old_list.page(conn, offset))

    cases_cursor = await cursor_at(
        pool, CASE_ORDER, "FROM intake.cases_view v", "v.organisation = $1", [BIG], deep
    )
    clients_cursor = await cursor_at(
        pool, CLIENT_ORDER, "FROM intake.clients_view", "organisation = $1", [BIG], deep
    )
    plans_cursor = await cursor_at(
        pool, PLAN_ORDER, "FROM planning.plans_view", "organisation = $1", [BIG], deep
    )
    followups_cursor = await cursor_at(
        pool, FOLLOWUP_ORDER, "FROM followup.followups_view", "organisation = $1", [BIG], deep
    )
    referrals_cursor = await cursor_at(
        pool, REFERRAL_ORDER, "FROM referral.referrals_view", "organisation = $1", [BIG], deep
    )
    groups_cursor = await cursor_at(
        pool, GROUP_ORDER, "FROM intake.groups_view", "organisation = $1", [BIG], max(50, n // 40)
    )
    worklist_cursor = await cursor_at(
        pool,
        WORKLIST_ORDER,
        "FROM followup.checkins_view c JOIN followup.followups_view f USING (followup_id)",
        "c.organisation = $1 AND NOT c.done AND c.followup_open AND c.due_on < $2",
        [BIG, TODAY + timedelta(days=15)],
        max(1, n // 60),
    )

    def first(cursor: str | None = None) -> Page:
        return Page(limit=50, cursor=cursor)

    partner = uuid.UUID("00000000-0000-0000-0000-000000000007")
    old += [
        before("cases: first page", OLD_CASES),
        Query("cases: first page", "after", lambda: list_cases(pool, BIG, page=first())),
        before("cases: status and phase", OLD_FILTERED),
        Query(
            "cases: status and phase",
            "after",
            lambda: list_cases(pool, BIG, status="accepted", phase="deepening", page=first()),
        ),
        Query(
            "cases: by counsellor",
            "after",
            lambda: list_cases(pool, BIG, counsellor="c-8", page=first()),
        ),
        before("cases: deep page (90 %)", OLD_CASES, deep),
        Query(
            "cases: deep page (90 %)",
            "after · offset",
            lambda: list_cases(pool, BIG, page=Page(limit=50, offset=deep)),
        ),
        Query(
            "cases: deep page (90 %)",
            "after · cursor",
            lambda: list_cases(pool, BIG, page=first(cases_cursor)),
        ),
        Query(
            "cases: count",
            "before",
            lambda: conn.fetchval(
                "SELECT count(*) FROM intake.cases_view WHERE organisation = $1", BIG
            ),
        ),
        Query(
            "cases: count",
            "after",
            lambda: conn.fetchval(
                "SELECT count(*) FROM (SELECT 1 FROM intake.cases_view WHERE organisation = $1 "
                "LIMIT 10001) s",
                BIG,
            ),
        ),
        before("clients: first page", OLD_CLIENTS),
        Query(
            "clients: first page", "after", lambda: search_clients(pool, BIG, None, page=first())
        ),
        Query(
            "clients: deep page (90 %)",
            "after · cursor",
            lambda: search_clients(pool, BIG, None, page=first(clients_cursor)),
        ),
        before("plans: first page", OLD_PLANS),
        Query(
            "plans: first page", "after", lambda: list_plans(pool, BIG, status=None, page=first())
        ),
        Query(
            "plans: deep page (90 %)",
            "after · cursor",
            lambda: list_plans(pool, BIG, status=None, page=first(plans_cursor)),
        ),
        before("follow-ups: first page", OLD_FOLLOWUPS),
        Query(
            "follow-ups: first page",
            "after",
            lambda: list_followups(pool, BIG, counsellor=None, page=first()),
        ),
        Query(
            "follow-ups: deep page (90 %)",
            "after · cursor",
            lambda: list_followups(pool, BIG, counsellor=None, page=first(followups_cursor)),
        ),
        Query(
            "worklist: middle page",
            "after · cursor",
            lambda: worklist(
                pool,
                BIG,
                due_before=TODAY + timedelta(days=15),
                today=TODAY,
                counsellor=None,
                page=first(worklist_cursor),
            ),
        ),
        before("referrals: first page", OLD_REFERRALS),
        Query("referrals: first page", "after", lambda: referrals(pool, BIG, None, first())),
        Query(
            "referrals: deep page (90 %)",
            "after · cursor",
            lambda: referrals(pool, BIG, None, first(referrals_cursor)),
        ),
        Query(
            "partner inbox: first page", "after", lambda: referrals(pool, None, partner, first())
        ),
        Query(
            "complaints: open",
            "after",
            lambda: list_complaints(pool, BIG, which="open", today=TODAY, page=first()),
        ),
        Query(
            "groups: deep page",
            "after · cursor",
            lambda: list_groups(pool, BIG, page=first(groups_cursor)),
        ),
        Query(
            "retention: intake clients",
            "before",
            lambda: conn.fetch(OLD_EXPIRED_SQL, CUTOFF, None),
        ),
        Query(
            "retention: intake clients",
            "after",
            lambda: intake_jobs.expired_clients(conn, CUTOFF),
        ),
        Query(
            "retention: referral packets",
            "before",
            lambda: conn.fetch(OLD_ENDED_SQL, NOW - timedelta(days=365), None),
        ),
        Query(
            "retention: referral packets",
            "after",
            lambda: conn.fetch(referral_jobs.ENDED_SQL, NOW - timedelta(days=365), None),
        ),
    ]
    return old


def referrals(
    pool: asyncpg.Pool, org: str | None, partner: uuid.UUID | None, page: Page
) -> Awaitable[Any]:
    return list_referrals(
        pool,
        organisation=org,
        partner_id=partner,
        inbox=partner is not None,
        status=None,
        case_id=None,
        overdue=None,
        page=page,
    )


@dataclass
class Size:
    """One size's throwaway database, its connections and its queries."""

    n: int
    url: str
    pool: asyncpg.Pool | None = None
    conn: asyncpg.Connection | None = None
    queries: list[Query] = field(default_factory=list)


async def fill(size: Size) -> None:
    conn = await asyncpg.connect(size.url)
    for schema in ("intake", "planning", "followup", "referral"):
        await conn.execute(f"CREATE SCHEMA {schema}")
    for sql in SCHEMAS:
        await conn.execute(sql)
    started = time.perf_counter()
    await conn.execute(FILL.format(n=int(size.n)))
    await conn.execute("VACUUM ANALYZE")
    print(f"{size.n:,} rows: filled in {time.perf_counter() - started:.1f} s", flush=True)
    await conn.close()
    size.pool = await asyncpg.create_pool(size.url, min_size=1, max_size=1)
    size.conn = await asyncpg.connect(size.url)
    size.queries = await queries_of(size.pool, size.conn, size.n)


async def measure_interleaved(
    sizes: list[Size], index: int, repeat: int, budget: float
) -> list[Timing]:
    """Query `index` of every size, the sizes taking turns run by run (a load the machine
    has meanwhile falls on all of them alike)."""
    for size in sizes:
        for _ in range(2):
            await size.queries[index].call()
    timings = [Timing() for _ in sizes]
    started = time.perf_counter()
    while len(timings[0].samples) < repeat and (
        len(timings[0].samples) < 5 or time.perf_counter() - started < budget
    ):
        for size, t in zip(sizes, timings, strict=True):
            t0 = time.perf_counter()
            await size.queries[index].call()
            t.samples.append((time.perf_counter() - t0) * 1000)
    return timings


async def run(
    urls: list[str], ns: list[int], repeat: int, budget: float, explain_all: bool
) -> tuple[list[dict[tuple[str, str], Timing]], dict[tuple[str, str], str]]:
    sizes = [Size(n, url) for n, url in zip(ns, urls, strict=True)]
    try:
        for size in sizes:
            await fill(size)
        results: list[dict[tuple[str, str], Timing]] = [
            {q.key: Timing() for q in size.queries} for size in sizes
        ]
        plans: dict[tuple[str, str], str] = {}
        # Before: the old schema's indexes; after: the services' schema as it is now.
        for phase in ("before", "after"):
            for size in sizes:
                assert size.conn is not None
                if phase == "before":
                    await size.conn.execute(f"DROP INDEX {', '.join(NEW_INDEXES)}")
                    await size.conn.execute(OLD_SCHEMA)
                else:
                    for sql in SCHEMAS:
                        await size.conn.execute(sql)
                    await size.conn.execute("ANALYZE")
            for index, q in enumerate(sizes[-1].queries):
                if (q.kind == "before") != (phase == "before"):
                    continue
                timings = await measure_interleaved(sizes, index, repeat, budget)
                for result, t in zip(results, timings, strict=True):
                    result[q.key] = t
                assert sizes[-1].pool is not None
                found = await explain(sizes[-1].pool, q)
                plans[q.key] = (
                    "\n\n".join(found) if explain_all else " | ".join(summary(p) for p in found)
                )
        return results, plans
    finally:
        for size in sizes:
            if size.conn is not None:
                await size.conn.close()
            if size.pool is not None:
                await size.pool.close()


def table(
    sizes: list[int],
    results: list[dict[tuple[str, str], Timing]],
    plans: dict[tuple[str, str], str],
    explain_all: bool,
) -> None:
    head = f"{'query':<40} {'shape':<15}"
    for n in sizes:
        head += f" {f'{n:,}: p50 / p99 ms':>24}"
    head += f" {'p50 ratio':>10} {'p99 ratio':>10}  target"
    print("\n" + head + "\n" + "-" * len(head))
    for key in results[0]:
        label, kind = key
        line = f"{label:<40} {kind:<15}"
        for r in results:
            t = r[key]
            line += f" {f'{t.p(0.5):8.2f} / {t.p(0.99):8.2f}':>24}"
        ratio = results[-1][key].p(0.99) / results[0][key].p(0.99)
        line += f" {results[-1][key].p(0.5) / results[0][key].p(0.5):>10.2f}"
        mark = ""
        if kind == "after · cursor":
            mark = "PASS" if ratio <= TARGET else "MISS"
        line += f" {ratio:>10.2f}  {mark}"
        print(line)
    print(f"\nPlans at {sizes[-1]:,} rows:")
    for (label, kind), plan in plans.items():
        if explain_all:
            print(f"===== {label} ({kind})\n{plan}\n")
        else:
            print(f"- {label} ({kind}): {plan}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--rows", default="10000,1000000", help="sizes, comma-separated")
    p.add_argument("--repeat", type=int, default=40, help="timed runs of each query")
    p.add_argument("--budget", type=float, default=8.0, help="seconds per query at most")
    p.add_argument("--explain", action="store_true", help="print every plan in full")
    args = p.parse_args()
    sizes = [int(s) for s in args.rows.split(",")]
    head = args.database_url.rsplit("/", 1)[0]
    capturing()
    names = [f"bench_lists_{uuid.uuid4().hex[:8]}" for _ in sizes]
    try:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'CREATE DATABASE "{name}"')
        results, plans = asyncio.run(
            run([f"{head}/{name}" for name in names], sizes, args.repeat, args.budget, args.explain)
        )
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    table(sizes, results, plans, args.explain)


if __name__ == "__main__":
    main()

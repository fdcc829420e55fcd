"""Speed of the team lead's dashboard with a long history in the read models.

Against a running system (`make run`; its address and database from .data/run.json, or
--url and --database-url). For an organisation of the benchmark's own
(`org-bench-<random>`), the read models the dashboard reads get N cases (default 100,000)
bulk-inserted with SQL, as their projections would have written them: cases over two
years in every status and phase for 25 counsellors, their sessions, follow-ups (most with
an outcome, feedback, bottlenecks, a few clients who withdrew the statistics consent)
and referrals to 40 partners in every state. No events are written: the dashboard reads
only read models, and bulk-inserting rows is what lets 100,000 cases be set up in
seconds. The rows (and the benchmark's partners) are deleted at the end, and any left by
an interrupted run at the start.

The console is started as a process of its own (as `bench.console_pages` does), with
`GUIDANCE_DEV_ORGANISATION` set to that organisation; U team leads (one by default: the
time one page takes; more: the machine's saturation) sign in through its dev sign-in and
load `/dashboard` for the last 90 days (the page's default; `--days 365` for a year,
about half the history), R times each.

The peer, measured in the same run: the three report calls the page makes (outcomes,
caseload, network), sent at once straight to the APIs with the same token. The page's
own cost is the ratio of the two. They alternate in rounds, so whatever else the machine
does meets both.

Target (issue #15): the dashboard renders in <= 300 ms p95 with 100,000 cases.

    .venv/bin/python -m bench.dashboard [--url URL] [--database-url URL] [--cases 100000]
                                        [--users 1] [--requests 200] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import subprocess
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.console_pages import start_console
from bench.intake_journey import pct
from shared import runinfo
from shared.auth import dev_token
from shared.cli import DEV_PEOPLE, signing_settings

REPO = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MISSING = re.compile(r'id="[a-z-]+-missing"')  # a figure whose service did not answer
COUNSELLORS = 25
PARTNERS = 40

# One statement per table, each a generate_series over the cases: $1 the organisation,
# $2 the number of cases, $3 today; {COUNSELLORS} and {PARTNERS} the constants. A case's
# number `i` decides everything about it, so the figures are the same in every run.
FILL = [
    # Cases over the last two years: a sixth still in intake, the rest accepted (in
    # deepening, planning or aftercare), declined, referred out or closed.
    """
    INSERT INTO intake.cases_view (case_id, client_id, organisation, status, phase,
        hours_budget, minutes_used, opened_by, counsellor, opened_at, updated_at, version,
        closed_at)
    SELECT md5($1 || 'case' || i)::uuid, md5($1 || 'client' || i)::uuid, $1,
        (ARRAY['open','accepted','accepted','accepted','declined','closed'])[1 + i % 6],
        (ARRAY['intake','deepening','planning','aftercare','closed','closed'])[1 + i % 6],
        12, (i % 11) * 60, 'bench.counsellor' || lpad((i % {COUNSELLORS})::text, 2, '0'),
        'bench.counsellor' || lpad((i % {COUNSELLORS})::text, 2, '0'),
        $3::date - (i % 730) * interval '1 day', $3::date - (i % 730) * interval '1 day', 6,
        CASE WHEN i % 6 >= 4 THEN $3::date - (i % 730) * interval '1 day' + interval '20 days'
        END
    FROM generate_series(1, $2) AS i
    """,
    # Three sessions per case, a week apart from its opening.
    """
    INSERT INTO intake.sessions_view (session_id, case_id, client_id, organisation,
        counsellor, held_at, minutes)
    SELECT md5($1 || 'session' || i || '-' || s)::uuid, md5($1 || 'case' || i)::uuid,
        md5($1 || 'client' || i)::uuid, $1,
        'bench.counsellor' || lpad((i % {COUNSELLORS})::text, 2, '0'),
        $3::date - (i % 730) * interval '1 day' + s * interval '7 days', 60
    FROM generate_series(1, $2) AS i, generate_series(0, 2) AS s
    """,
    # The accepted cases (every case whose number is 1, 2 or 3 modulo 6) and their
    # follow-ups; two in three have an outcome 30 to 240 days after acceptance.
    """
    INSERT INTO followup.accepted_cases (case_id, organisation, accepted_on)
    SELECT md5($1 || 'case' || i)::uuid, $1, $3::date - (i % 730)
    FROM generate_series(1, $2) AS i WHERE i % 6 BETWEEN 1 AND 3
    """,
    """
    INSERT INTO followup.followups_view (followup_id, case_id, client_id, organisation,
        counsellor, status, version, outcome, outcome_on, satisfaction,
        self_knowledge_improved, confidence_improved, feedback_on, bottlenecks, opened_at)
    SELECT md5($1 || 'followup' || i)::uuid, md5($1 || 'case' || i)::uuid,
        md5($1 || 'client' || i)::uuid, $1,
        'bench.counsellor' || lpad((i % {COUNSELLORS})::text, 2, '0'),
        CASE WHEN i % 3 = 0 THEN 'open' ELSE 'closed' END, 5,
        CASE WHEN i % 3 <> 0 THEN
            (ARRAY['employed','education','self_employed','no_change','other'])[1 + i % 5] END,
        CASE WHEN i % 3 <> 0 THEN $3::date - (i % 730) + 30 + (i % 210) END,
        CASE WHEN i % 3 = 1 THEN 1 + i % 5 END,
        CASE WHEN i % 3 = 1 THEN i % 2 = 0 END, CASE WHEN i % 3 = 1 THEN i % 4 <> 0 END,
        CASE WHEN i % 3 = 1 THEN $3::date - (i % 730) + 40 + (i % 210) END,
        i % 4 / 3, $3::date - (i % 730) * interval '1 day'
    FROM generate_series(1, $2) AS i WHERE i % 6 BETWEEN 1 AND 3
    """,
    """
    INSERT INTO followup.bottlenecks_view (bottleneck_id, followup_id, case_id, client_id,
        organisation, kind, detected_on)
    SELECT md5($1 || 'bottleneck' || i)::uuid, md5($1 || 'followup' || i)::uuid,
        md5($1 || 'case' || i)::uuid, md5($1 || 'client' || i)::uuid, $1,
        (ARRAY['action_overdue','checkin_missed','no_contact'])[1 + i % 3],
        $3::date - (i % 730) + 20
    FROM generate_series(1, $2) AS i WHERE i % 6 BETWEEN 1 AND 3 AND i % 4 = 3
    """,
    # One client in a hundred withdrew the statistics consent (as both services learnt).
    """
    INSERT INTO followup.statistics_consents (client_id, withdrawn, changed_at, source_position)
    SELECT md5($1 || 'client' || i)::uuid, true, now(), 0
    FROM generate_series(1, $2) AS i WHERE i % 100 = 7
    """,
    """
    INSERT INTO referral.statistics_consents (client_id, withdrawn, changed_at, source_position)
    SELECT md5($1 || 'client' || i)::uuid, true, now(), 0
    FROM generate_series(1, $2) AS i WHERE i % 100 = 7
    """,
    # A referral for every third case, to one of the partners, in every state.
    """
    INSERT INTO referral.referrals_view (referral_id, case_id, client_id, organisation,
        partner_id, status, data_categories, consent_id, overdue, proposed_at, sent_at,
        acknowledged_at, answered_at, answer, outcome, outcome_at, updated_at, version)
    SELECT md5($1 || 'referral' || i)::uuid, md5($1 || 'case' || i)::uuid,
        md5($1 || 'client' || i)::uuid, $1, md5($1 || 'partner' || i % {PARTNERS})::uuid,
        (ARRAY['sent','acknowledged','accepted','declined','outcome_reported',
               'outcome_reported'])[1 + i % 6],
        ARRAY['identity','career_question'], md5($1 || 'consent' || i)::uuid, i % 6 = 0,
        t, t, CASE WHEN i % 6 >= 1 THEN t + (i % 72) * interval '1 hour' END,
        CASE WHEN i % 6 >= 2 THEN t + (i % 240) * interval '1 hour' END,
        CASE WHEN i % 6 = 3 THEN 'declined' WHEN i % 6 >= 2 THEN 'accepted' END,
        CASE WHEN i % 6 >= 4 THEN (ARRAY['completed','stopped','no_show'])[1 + i % 3] END,
        CASE WHEN i % 6 >= 4 THEN t + interval '40 days' END, t, 4
    FROM generate_series(1, $2) AS i,
        LATERAL (SELECT $3::date - (i % 730) * interval '1 day' AS t) AS sent
    WHERE i % 3 = 0
    """,
]
PARTNERS_SQL = """
    INSERT INTO referral.partners_view (partner_id, name, services, accepted_categories,
        active, created_at, updated_at, version)
    SELECT md5($1 || 'partner' || p)::uuid, $2 || ' partner ' || lpad(p::text, 2, '0'),
        '[]', ARRAY['identity','career_question'], true, now(), now(), 1
    FROM generate_series(0, $3 - 1) AS p
"""
TABLES = [
    "intake.sessions_view",
    "intake.cases_view",
    "followup.bottlenecks_view",
    "followup.followups_view",
    "followup.accepted_cases",
    "referral.referrals_view",
]


async def fill(database: str, organisation: str, cases: int) -> float:
    """The read models of `organisation` with `cases` cases; the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await conn.execute(PARTNERS_SQL, organisation, organisation, PARTNERS)
            today = date.today()
            given: list[Any] = [organisation, cases, today]
            for statement in FILL:
                used = max(int(n) for n in re.findall(r"\$(\d)", statement))
                sql = statement.replace("{COUNSELLORS}", str(COUNSELLORS))
                await conn.execute(sql.replace("{PARTNERS}", str(PARTNERS)), *given[:used])
        for table in TABLES:  # as autovacuum leaves a table that has settled
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def remove(database: str, organisation: str | None) -> None:
    """The rows of `organisation` (None: of every benchmark organisation left behind)."""
    conn = await asyncpg.connect(database)
    try:
        which = "organisation = $1" if organisation else "organisation LIKE 'org-bench-%'"
        args = [organisation] if organisation else []
        async with conn.transaction():
            for consents in ("followup.statistics_consents", "referral.statistics_consents"):
                await conn.execute(
                    f"DELETE FROM {consents} s USING intake.cases_view c "
                    f"WHERE s.client_id = c.client_id AND c.{which}",
                    *args,
                )
            for table in TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE {which}", *args)
            name = "name LIKE $1" if organisation else "name LIKE 'org-bench-% partner %'"
            await conn.execute(
                f"DELETE FROM referral.partners_view WHERE {name}",
                *([organisation + " partner %"] if organisation else []),
            )
    finally:
        await conn.close()


async def signed_in(url: str) -> httpx.AsyncClient:
    """A team lead's browser: signed in through the dev sign-in, its cookie kept."""
    http = httpx.AsyncClient(base_url=url, timeout=30, headers={"Accept-Language": "en"})
    page = await http.get("/sign-in")
    found = CSRF.search(page.text)
    if page.status_code != 200 or not found:
        raise SystemExit(f"the sign-in page answered {page.status_code}: {page.text[:300]}")
    r = await http.post(
        "/sign-in", data={"csrf_token": found[1], "person": "team_lead", "next": "/dashboard"}
    )
    if r.status_code != 303:
        raise SystemExit(f"signing in answered {r.status_code}: {r.text[:300]}")
    return http


async def timed(samples: list[float], errors: list[str], call: Any) -> None:
    start = time.perf_counter()
    try:
        ok, what = await call()
    except httpx.HTTPError as e:
        ok, what = False, repr(e)
    samples.append((time.perf_counter() - start) * 1000)
    if not ok:
        errors.append(what)


async def run_window(users: int, requests: int, call: Any) -> tuple[list[float], list[str]]:
    """`users` at once, each making `requests` calls one after another."""
    samples: list[float] = []
    errors: list[str] = []

    async def one_user() -> None:
        for _ in range(requests):
            await timed(samples, errors, call)

    await asyncio.gather(*(one_user() for _ in range(users)))
    return samples, errors


def figures(samples: list[float]) -> str:
    return (
        f"{len(samples):>6} {pct(samples, 50):>8.1f} {pct(samples, 95):>8.1f} "
        f"{pct(samples, 99):>8.1f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    base = runinfo.base_url(args.url)
    info = runinfo.read() or {}
    database = args.database_url or info.get("database_url")
    database = database or os.environ.get("GUIDANCE_DATABASE_URL")
    if not database:
        raise SystemExit("no database given: --database-url")
    try:
        httpx.get(f"{base}/intake/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise SystemExit(f"{base} does not answer ({e}); start `waypoint run`") from e
    organisation = f"org-bench-{secrets.token_hex(4)}"
    await remove(database, None)
    setup_s = await fill(database, organisation, args.cases)
    log = Path(tempfile.mkstemp(prefix="dashboard-bench-", suffix=".log")[1])
    process, console = start_console(base, database, 4, log, GUIDANCE_DEV_ORGANISATION=organisation)
    today = date.today()
    period = {"from": str(today - timedelta(days=args.days - 1)), "to": str(today)}
    query = f"from={period['from']}&to={period['to']}"
    # The APIs with the team lead's token of that organisation (as the console signs in).
    sub, roles, _ = DEV_PEOPLE["team_lead"]
    token = dev_token(signing_settings(), sub=sub, org=organisation, roles=roles)
    api = httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"})
    people: list[httpx.AsyncClient] = []
    try:
        people = [await signed_in(console) for _ in range(args.users)]
        turn = iter(range(10**9))

        async def page() -> tuple[bool, str]:
            http = people[next(turn) % len(people)]
            r = await http.get(f"/dashboard?{query}")
            ok = r.status_code == 200 and "<svg" in r.text and not MISSING.search(r.text)
            return ok, f"/dashboard: {r.status_code}"

        async def peer() -> tuple[bool, str]:
            answers = await asyncio.gather(
                api.get("/followup/v1/reports/outcomes", params=period),
                api.get("/intake/v1/reports/caseload", params=period),
                api.get("/referral/v1/reports/network", params=period),
            )
            bad = [
                f"{a.request.url.path}: {a.status_code}" for a in answers if a.status_code != 200
            ]
            return not bad, ", ".join(bad)

        # What the page shows must be the history's figures, not an empty dashboard.
        first = await people[0].get(f"/dashboard?{query}")
        if first.status_code != 200:
            raise SystemExit(f"/dashboard answered {first.status_code}: {first.text[:500]}")
        check = await api.get("/intake/v1/reports/caseload", params=period)
        shown = sum(c["open_cases"] for c in check.json()["counsellors"])
        for _ in range(args.warmup):
            await page()
            await peer()
        pages: list[float] = []
        calls: list[float] = []
        errors: list[str] = []
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            took, failed = await run_window(args.users, per_round, peer)
            calls += took
            errors += failed
            took, failed = await run_window(args.users, per_round, page)
            pages += took
            errors += failed
    finally:
        for http in people:
            await http.aclose()
        await api.aclose()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)
        if not args.keep:
            await remove(database, organisation)
    ratio = pct(pages, 95) / pct(calls, 95) if calls else float("nan")
    print(f"bench.dashboard, {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, "
          f"{os.cpu_count()} CPUs; APIs: {base}; console: {console}, its own process")  # fmt: skip
    print(
        f"set-up: {args.cases} cases of {organisation} in the read models ({COUNSELLORS} "
        f"counsellors, {PARTNERS} partners, sessions, follow-ups, referrals) in {setup_s:.1f} s; "
        f"{shown} open cases in the caseload figure"
    )
    print(f"period: {period['from']} to {period['to']}; {args.users} team leads at once")
    print(f"{'':<22} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    print(f"{'dashboard page':<22} {figures(pages)}")
    print(f"{'its 3 API calls (peer)':<22} {figures(calls)}")
    print(f"page p95 / peer p95: {ratio:.2f}")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    verdict = "met" if pct(pages, 95) <= 300 else "NOT met"
    print(f"target: page p95 <= 300 ms with {args.cases} cases: {verdict}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="the running system's APIs (default: .data/run.json's)")
    p.add_argument("--database-url", help="its database (default: .data/run.json's)")
    p.add_argument("--cases", type=int, default=100_000, help="cases in the read models")
    p.add_argument("--users", type=int, default=1, help="team leads at once")
    p.add_argument("--requests", type=int, default=200, help="pages per team lead, in all")
    p.add_argument("--rounds", type=int, default=4, help="alternations of page and peer")
    p.add_argument("--warmup", type=int, default=5, help="unmeasured pages first")
    p.add_argument(
        "--days",
        type=int,
        default=90,
        help="the period shown: the last N days (the page's default)",
    )
    p.add_argument("--keep", action="store_true", help="leave the rows (to look at them)")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()

"""Cost against history (issue #19 §2): the same measurements on stores of several sizes.

For each size given (`--sizes 10000,1000000[,10000000]`), `bench.seed` fills a fresh
database and a private NATS with about that many events, then the system is started on
it (`waypoint run`, its own port) and the run measures:

- start-up to ready: from starting `waypoint run` until every service's `/readyz` says 200;
- intake journey commands at 16 clients (`bench.intake_journey`'s load generator, ~10 s):
  p50, p99, commands/s;
- reads, ~50 requests each (p50, p99): follow-up's worklist, intake's case list (first
  page), filtered by status and phase, a deep page by offset (and by cursor when the list
  answers a `cursor`, else skipped), the partner inbox (referral's list as the partner),
  the team lead's caseload report;
- one client's erasure across the four services, request → `completed` (`bench.erasure`):
  p50, p99 over seeded clients;
- audit verification of every chain (`/<service>/v1/audit/verify`) against the raw read
  rate of the same events table (a plain sequential read, as `bench.audit_verify`);
- rebuilding every service's projection (`waypoint rebuild <service> projection`, online
  while the system runs, after the erasures): events/s against the raw read rate.

Then one table with the sizes side by side, each target marked PASS or MISS: every p99 at
the largest size within 1.2 x its value at the smallest; erasure p99 <= 2 s; start-up
<= 10 s; verification and rebuild >= 0.5 x the raw read rate.

    .venv/bin/python -m bench.scale [--sizes 10000,1000000] [--seconds 10] [--keep]
        [--reuse] [--no-rebuild]

`--keep` leaves each size's store (database `waypoint_seed_scale_<size>`, its NATS under
`.data/seed/`); `--reuse` measures again on such a store instead of seeding (10M takes
about 7 minutes to seed), as it is now: earlier runs' commands and erasures added.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import psycopg

from bench.erasure import erase
from bench.intake_journey import pct, run_load
from bench.seed import (
    ORGANISATION,
    SERVICES,
    Seeded,
    database_url_for,
    drop_database,
    people,
    scalar,
    seed,
    settings_for,
    start_system,
)
from shared.auth import dev_token
from shared.settings import Settings

READS = 50


@dataclass
class Result:
    size: int
    seeded: Seeded | None = None
    startup_s: float = math.nan
    # metric → (p50 ms, p99 ms) or a plain figure
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def headers(settings: Settings, sub: str, roles: list[str], **extra: Any) -> dict[str, str]:
    token = dev_token(settings, sub=sub, org=extra.pop("org", ORGANISATION), roles=roles, **extra)
    return {"Authorization": f"Bearer {token}"}


def timed(
    http: httpx.Client, path: str, h: dict[str, str], n: int = READS, **params: Any
) -> tuple[tuple[float, float], httpx.Response]:
    took: list[float] = []
    r: httpx.Response | None = None
    for _ in range(n):
        began = time.perf_counter()
        r = http.get(path, params=params, headers=h)
        took.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 200, (path, params, r.status_code, r.text[:300])
    assert r is not None
    return (pct(took, 50), pct(took, 99)), r


def reads(url: str, settings: Settings, res: Result) -> None:
    who = people(settings)
    lead = headers(settings, "t.peeters", ["team_lead"])
    with psycopg.connect(settings.pg.dsn()) as conn:
        partner = conn.execute(
            "SELECT partner_id, count(*) FROM referral.referrals_view "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        cases = conn.execute("SELECT count(*) FROM intake.cases_view").fetchone()
    with httpx.Client(base_url=url, timeout=60) as http:
        res.latency["worklist"], _ = timed(http, "/followup/v1/worklist", who.counsellor)
        res.latency["case list"], first = timed(http, "/intake/v1/cases", who.counsellor)
        res.latency["case list status+phase"], _ = timed(
            http, "/intake/v1/cases", who.counsellor, status="accepted", phase="aftercare"
        )
        deep = max(0, min(50_000, (cases[0] if cases else 0) - 50))
        res.latency["deep page (offset)"], _ = timed(
            http, "/intake/v1/cases", who.counsellor, n=20, offset=deep
        )
        # Keyset pagination (another part of the issue): the next page's cursor in the
        # `Link` header, when the list answers one.
        found = re.search(r"[?&]cursor=([^&>;]+)", first.headers.get("link", ""))
        cursor = unquote(found.group(1)) if found else None
        if cursor:
            res.latency["deep page (cursor)"], _ = timed(
                http, "/intake/v1/cases", who.counsellor, n=20, cursor=cursor
            )
        else:
            res.notes.append("no cursor answered by the case list: cursor page skipped")
        if partner is not None:
            ph = headers(
                settings,
                "p.partner",
                ["partner"],
                org="partner-org",
                partner_id=uuid.UUID(str(partner[0])),
            )
            res.latency["partner inbox"], _ = timed(http, "/referral/v1/referrals", ph)
        res.latency["caseload report"], _ = timed(http, "/intake/v1/reports/caseload", lead, n=20)


def load(url: str, settings: Settings, seconds: float, res: Result) -> None:
    token = dev_token(settings, sub="c.jansen", org=ORGANISATION, roles=["counsellor"])
    args = argparse.Namespace(
        base_url=url, clients=16, seconds=seconds, warmup=2.0, journeys=None, http_client="raw"
    )
    measured, _cpu, _machine = asyncio.run(run_load(args, token))
    ms = [s[2] for s in measured.samples if s[1] >= measured.warm_until and 200 <= s[3] < 300]
    window = measured.end - measured.warm_until
    res.latency["intake commands"] = (pct(ms, 50), pct(ms, 99))
    res.figures["commands/s"] = len(ms) / window if window > 0 else math.nan
    if measured.examples:
        res.notes.append("failed commands: " + "; ".join(measured.examples[:2]))


def erasures(url: str, settings: Settings, res: Result, n: int = 10) -> None:
    with psycopg.connect(settings.pg.dsn()) as conn:
        clients = [
            str(r[0])
            for r in conn.execute(
                "SELECT c.client_id FROM intake.cases_view c "
                "JOIN vault.client_keys k USING (client_id) WHERE k.wrapped_key IS NOT NULL "
                "AND c.status = 'accepted' AND c.phase = 'aftercare' "
                "ORDER BY c.opened_at DESC LIMIT %s",
                [n],
            ).fetchall()
        ]
    who = people(settings)

    async def run() -> list[float]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            return [await erase(api, who.counsellor, c) for c in clients]

    took = [t * 1000 for t in asyncio.run(run())]
    res.latency["erasure"] = (pct(took, 50), pct(took, 99))


def raw_read(dsn: str, service: str) -> tuple[int, float]:
    began = time.perf_counter()
    n = 0
    with psycopg.connect(dsn) as conn, conn.transaction():
        cur = conn.cursor(name="raw", binary=True)
        cur.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {service}.{service}_events ORDER BY notification_id"
        )
        while rows := cur.fetchmany(20_000):
            n += len(rows)
    return n, time.perf_counter() - began


def audit(url: str, settings: Settings, res: Result) -> None:
    auditor = headers(settings, "r.auditor", ["auditor"])
    rows = verify_s = raw_rows = raw_s = 0.0
    with httpx.Client(base_url=url, timeout=600) as http:
        for s in SERVICES:
            n, took = raw_read(settings.pg.dsn(), s)
            raw_rows, raw_s = raw_rows + n, raw_s + took
            began = time.perf_counter()
            r = http.get(f"/{s}/v1/audit/verify", headers=auditor)
            verify_s += time.perf_counter() - began
            assert r.status_code == 200 and r.json()["ok"], (s, r.text[:300])
            rows += r.json()["checked"]
    res.figures["verify events/s"] = rows / verify_s
    res.figures["raw read rows/s"] = raw_rows / raw_s
    res.figures["verify s"] = verify_s


def rebuilds(settings: Settings, res: Result) -> None:
    """`waypoint rebuild <service> projection` of every service, online (the system runs),
    after the erasures: events/s over all four, against the raw read rate (`audit`)."""
    from shared.messaging.reproject import rebuild_service

    events = 0
    seconds = 0.0
    for s in SERVICES:
        rebuilt = asyncio.run(rebuild_service(s, "projection", settings, wait_seconds=60))
        events += rebuilt.events
        seconds += rebuilt.seconds
    res.figures["rebuild events/s"] = events / seconds
    res.figures["rebuild s"] = seconds


def measure(size: int, args: argparse.Namespace) -> Result:
    res = Result(size)
    name = f"waypoint_seed_scale_{size}"
    data_dir = (Path(args.data_dir) / name).resolve()
    seeded = reused(args.database_url, name, data_dir) if args.reuse else None
    if seeded is None:
        seeded = seed(args.database_url, name, size, data_dir)
    else:
        res.notes.append(f"a store seeded before, reused ({seeded.events:,} events now)")
    res.seeded = seeded
    system = None
    try:
        system = start_system(seeded.database_url, seeded.data_dir, split=args.split)
        res.startup_s = system.started
        settings = settings_for(system.env)
        reads(system.url, settings, res)
        load(system.url, settings, args.seconds, res)
        erasures(system.url, settings, res)
        audit(system.url, settings, res)
        if args.rebuild:
            rebuilds(settings, res)
        else:
            res.notes.append("rebuild not measured (--no-rebuild)")
    finally:
        if system is not None:
            system.stop()
        if not args.keep:
            drop_database(args.database_url, name)
    return res


def reused(server_url: str, name: str, data_dir: Path) -> Seeded | None:
    """The store a run with `--keep` left (database `name`, NATS under `data_dir`), as it
    is now (a run's commands and erasures added to it); None when there is none."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if found is None or not (data_dir / "nats.conf").exists():
        return None
    url = database_url_for(server_url, name)
    with psycopg.connect(url) as conn:
        events = sum(int(scalar(conn, f"SELECT count(*) FROM {s}.{s}_events")) for s in SERVICES)
        clients = int(scalar(conn, "SELECT count(*) FROM vault.client_keys"))
        cases = int(scalar(conn, "SELECT count(*) FROM intake.cases_view"))
    return Seeded(url, data_dir, events, clients, cases, math.nan, {})


def verdicts(results: list[Result]) -> list[tuple[str, list[str], str]]:
    """The table's rows: metric, one cell per size, verdict."""
    small, large = results[0], results[-1]
    out: list[tuple[str, list[str], str]] = []
    events = [f"{r.seeded.events:,}" if r.seeded else "-" for r in results]
    out.append(("events seeded", events, ""))
    out.append(
        (
            "seeding (s)",
            [
                "-"
                if r.seeded is None
                else "reused"
                if math.isnan(r.seeded.seconds)
                else f"{r.seeded.seconds:.0f}"
                for r in results
            ],
            "",
        )
    )
    out.append(
        (
            "start-up to ready (s)",
            [f"{r.startup_s:.1f}" for r in results],
            "PASS" if large.startup_s <= 10 else "MISS",
        )
    )
    out.append(
        (
            "commands/s (16 clients)",
            [f"{r.figures.get('commands/s', math.nan):.0f}" for r in results],
            "",
        )
    )
    for metric in small.latency:
        cells = []
        for r in results:
            p50, p99 = r.latency.get(metric, (math.nan, math.nan))
            cells.append(f"{p50:.0f} / {p99:.0f}")
        a, b = small.latency[metric][1], large.latency.get(metric, (math.nan, math.nan))[1]
        ok = b <= 1.2 * a
        if metric == "erasure":
            ok = ok and b <= 2000
        verdict = "PASS" if ok else "MISS"
        if len(results) > 1 and not math.isnan(b):
            verdict += f" ({b / a:.2f} x)"
        out.append((f"{metric} p50 / p99 (ms)", cells, verdict))
    ratios = [
        r.figures.get("verify events/s", math.nan) / r.figures.get("raw read rows/s", math.nan)
        for r in results
    ]
    out.append(
        (
            "audit verify / raw read",
            [
                f"{x:.2f} x ({r.figures.get('verify s', math.nan):.1f} s)"
                for x, r in zip(ratios, results, strict=True)
            ],
            "PASS" if ratios[-1] >= 0.5 else "MISS",
        )
    )
    rebuilt = [
        r.figures.get("rebuild events/s", math.nan) / r.figures.get("raw read rows/s", math.nan)
        for r in results
    ]
    out.append(
        (
            "rebuild (4 projections) / raw read",
            [
                f"{x:.3f} x ({r.figures.get('rebuild events/s', math.nan):,.0f}/s, "
                f"{r.figures.get('rebuild s', math.nan):.0f} s)"
                for x, r in zip(rebuilt, results, strict=True)
            ],
            "PASS" if rebuilt[-1] >= 0.5 else "MISS",
        )
    )
    return out


def print_table(results: list[Result]) -> None:
    rows = verdicts(results)
    head = ["metric", *[f"{r.size:,}" for r in results], "target"]
    widths = [max(len(head[0]), *(len(m) for m, _, _ in rows))]
    for i in range(len(results)):
        widths.append(max(len(head[i + 1]), *(len(c[i]) for _, c, _ in rows)))
    widths.append(max(len(head[-1]), *(len(v) for _, _, v in rows)))

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(head))
    for metric, cells, verdict in rows:
        print(line([metric, *cells, verdict]))
    for r in results:
        for note in r.notes:
            print(f"note ({r.size:,}): {note}")
    print(
        "targets: every p99 at the largest size <= 1.2 x at the smallest; erasure p99 <= 2 s; "
        "start-up <= 10 s; verify and rebuild >= 0.5 x the raw read rate"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--split", action="store_true", help="Run the system with --split.")
    parser.add_argument("--keep", action="store_true", help="Keep the seeded databases.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "GUIDANCE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--data-dir", default=".data/seed")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Measure on the store an earlier run left (--keep) when there is one, "
        "instead of seeding again.",
    )
    parser.add_argument(
        "--no-rebuild",
        dest="rebuild",
        action="store_false",
        help="Leave the rebuilds out (13 minutes at 10M).",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = [measure(size, args) for size in sizes]
    print()
    print_table(results)


if __name__ == "__main__":
    main()

"""Benchmark: loading a long-lived aggregate with and without its snapshots (issue #19).

A partner of the directory changes its open places for years (every working day for seven
years is about 1,800 changes); every referral proposed to it, and every change, loads it.
In a throwaway schema (`bench_snapshots`, dropped afterwards) the benchmark registers one
partner and sets its open places N times through the referral application as the service
runs it (group commit, sealing, snapshots every 50 versions), then loads it R times:

- **with snapshots**: the application as it runs (the latest snapshot and the events after
  it);
- **without**: the same store read by the same application class with no snapshotting (all
  N + 1 events replayed): the peer, measured in the same run and alternating with it.

It prints p50 and p99 of both and their ratio, and the same for one command (a capacity
change: load, apply, save). The state loaded both ways is checked to be the same.

    .venv/bin/python -m bench.snapshots [--changes 2000] [--loads 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any, ClassVar

import psycopg

from services.referral.application import ReferralApplication
from services.referral.domain import Partner
from shared.runtime import key_vault
from shared.settings import get_settings


class Snapshotting(ReferralApplication):
    name = "bench_snapshots"


class Replaying(ReferralApplication):
    name = "bench_snapshots"
    snapshotting_intervals: ClassVar[dict[Any, int]] = {}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main(changes: int, loads: int) -> None:
    settings = get_settings()
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_snapshots CASCADE")
    vault = key_vault(settings)
    fast, slow = Snapshotting(settings, vault), Replaying(settings, vault)
    try:
        partner_id = uuid.uuid4()
        fast.register_partner(
            partner_id,
            name="Jobhuis Gent",
            description="Training towards work.",
            services=[{"name": "Job coaching", "category": "training", "languages": ["nl"]}],
            accepted_categories=["identity", "contact"],
            contact_email="intake@jobhuis.example",
            open_places=3,
            actor="admin",
            owner_org="org-bench",
        )
        started = time.perf_counter()
        for n in range(changes):
            fast.change(
                lambda: fast.load(Partner, partner_id),
                None,
                lambda p, at, n=n: p.set_capacity(open_places=n % 40, actor="a", at=at),
            )
        print(f"{changes} capacity changes saved in {time.perf_counter() - started:.1f} s")
        a, b = fast.load(Partner, partner_id), slow.load(Partner, partner_id)
        assert a.version == b.version == changes + 1
        assert {k: v for k, v in vars(a).items() if k != "_pending_events"} == {
            k: v for k, v in vars(b).items() if k != "_pending_events"
        }

        def timed(app: ReferralApplication) -> float:
            t = time.perf_counter()
            app.load(Partner, partner_id)
            return (time.perf_counter() - t) * 1000

        with_s: list[float] = []
        without: list[float] = []
        for _ in range(loads):
            with_s.append(timed(fast))
            without.append(timed(slow))

        def command(app: ReferralApplication) -> float:
            t = time.perf_counter()
            app.change(
                lambda: app.load(Partner, partner_id),
                None,
                lambda p, at: p.set_capacity(open_places=7, actor="a", at=at),
            )
            return (time.perf_counter() - t) * 1000

        cmd_with: list[float] = []
        cmd_without: list[float] = []
        for _ in range(max(20, loads // 5)):
            cmd_with.append(command(fast))
            cmd_without.append(command(slow))
    finally:
        fast.close()
        slow.close()
        with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS bench_snapshots CASCADE")

    print(f"partner with {changes + 1} events, snapshots every 50 versions")
    print(f"{'':28} {'p50 ms':>9} {'p99 ms':>9}")
    for label, values in (
        ("load, with snapshots", with_s),
        ("load, all events replayed", without),
        ("command, with snapshots", cmd_with),
        ("command, all events replayed", cmd_without),
    ):
        print(f"{label:28} {statistics.median(values):9.2f} {pct(values, 99):9.2f}")
    load_ratio = statistics.median(with_s) / statistics.median(without)
    command_ratio = statistics.median(cmd_with) / statistics.median(cmd_without)
    print(f"load p50 ratio with/without: {load_ratio:.3f}; command p50 ratio: {command_ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=200)
    args = parser.parse_args()
    main(args.changes, args.loads)

"""`make cluster`: the cluster rehearsal on loopback (a 3-node NATS cluster with R3
streams, PostgreSQL, two replicas of web, relay and worker), the workload across both
web replicas while the stream leader and one replica of each role are killed and started
again; prints the checker's verdict and the rehearsal's tables.

    python -m tests.cluster [--one 15] [--two 15] [--faults 40] [--concurrency 4]
        [--keep DIR] [--shared-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from tests.cluster.cluster import running_cluster
from tests.cluster.rehearsal import Rehearsal, failures, rehearse, worker_totals
from tests.faults.__main__ import table as checker_table


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "-|-".join("-" * w for w in widths),
    ]
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def report(r: Rehearsal) -> str:
    """Every table of the rehearsal, as printed."""
    out = [
        "The checker (every acknowledged command of the three phases):",
        checker_table([r.result]),
    ]
    out += ["", "Throughput (acknowledged commands per second; same run, same machine):"]
    out.append(
        _grid(
            [
                "phase",
                "web replicas",
                "journeys",
                "acknowledged",
                "seconds",
                "commands/s",
                "requests per web",
            ],
            [
                [
                    p.name,
                    str(len(p.webs)),
                    str(p.journeys),
                    str(p.acknowledged),
                    f"{p.seconds:.1f}",
                    f"{p.per_second:.1f}",
                    ", ".join(f"{w} {n}" for w, n in sorted(p.requests.items())),
                ]
                for p in r.phases
            ],
        )
    )
    nf, rf = r.nats_fault, r.role_fault
    out += ["", "Faults:"]
    out.append(
        _grid(
            ["fault", "what", "new leader / lease after s", "commands again after s"],
            [
                [
                    "(a) NATS stream leader kill -9",
                    f"node {nf.node} (led intake; leaders {_leaders(nf.leaders_before)} -> "
                    f"{_leaders(nf.leaders_after)})",
                    _s(nf.election_seconds),
                    _s(nf.recovery_seconds),
                ],
                [
                    "(b) one replica of each role kill -9",
                    ", ".join(rf.killed),
                    ", ".join(f"{s} {_s(t)}" for s, t in rf.handover.items()) or "-",
                    _s(rf.recovery_seconds),
                ],
            ],
        )
    )
    out += ["", "Relay leases (pg_locks sampled every 0.1 s; holders in turn, ' = restarted):"]
    out.append(
        _grid(
            [
                "service",
                "samples",
                "two holders",
                "vacant samples",
                "longest gap s",
                "hand-overs",
                "holders",
            ],
            [
                [
                    lease.service,
                    str(lease.samples),
                    str(lease.doubled),
                    str(lease.vacant),
                    f"{lease.longest_gap:.2f}",
                    str(lease.handovers),
                    " -> ".join(lease.holders),
                ]
                for lease in r.leases.values()
            ],
        )
    )
    out.append(
        f"most processes claiming one service's relay active in one scrape "
        f"(waypoint_follower_active): {r.most_claims}"
    )
    for _, service, who in r.claimed_twice[:5]:
        out.append(f"  {service}: {', '.join(who)} (scraped one after the other)")
    consumers = sorted({c for consumed in r.consumed.values() for c, _ in consumed})
    workers = [w for w in sorted(r.consumed) if w.startswith("worker")]
    out += ["", "Consumers' work by worker (messages applied; waypoint_consumer_messages_total):"]
    rows = [[c, *(str(r.consumed[w].get((c, "applied"), 0)) for w in workers)] for c in consumers]
    totals = worker_totals(r)
    rows.append(["total", *(str(totals.get(w, 0)) for w in workers)])
    dupes = [
        str(sum(n for (_, o), n in r.consumed[w].items() if o == "duplicate")) for w in workers
    ]
    rows.append(["(duplicates acked)", *dupes])
    out.append(_grid(["consumer", *workers], rows))
    out += [
        "",
        f"Key destructions announced (shared/privacy/broadcast.py), received by each process "
        f"(erasures answered: {r.erasures}; each is announced by the request and again by "
        "intake's erasure consumer; a process restarted or reconnecting meanwhile misses "
        "some, then its cache's 5 s bound holds):",
        "  " + ", ".join(f"{who} {n}" for who, n in r.announced.items()),
    ]
    out += [
        "",
        f"PostgreSQL connections of the cluster's database: at most {r.connections_max} "
        "sampled; by application_name (idle, after phase 2; waypoint-all: the checker): "
        + ", ".join(f"{k} {v}" for k, v in r.connections.items()),
        f"wall time of the rehearsal (without start and stop): {r.wall_seconds:.1f} s",
    ]
    return "\n".join(out)


def _leaders(found: dict[str, str | None]) -> str:
    return "/".join(str(found.get(s)) for s in ("intake", "planning", "followup", "referral"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__)
    parser.add_argument("--one", type=float, default=15.0, help="seconds on one web replica")
    parser.add_argument("--two", type=float, default=15.0, help="seconds on two web replicas")
    parser.add_argument("--faults", type=float, default=40.0, help="seconds under the faults")
    parser.add_argument("--concurrency", type=int, default=6, help="journeys at a time")
    parser.add_argument("--keep", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument(
        "--shared-postgres",
        action="store_true",
        help="on GUIDANCE_DATABASE_URL's server (needs ~130 free connections) instead of "
        "an embedded PostgreSQL of the cluster's own",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    print("-- starting the cluster ...", flush=True)
    with running_cluster(args.keep, shared_postgres=args.shared_postgres) as system:
        print(f"-- ready in {time.monotonic() - began:.1f} s; rehearsing ...", flush=True)
        r = asyncio.run(
            rehearse(
                system,
                seconds_one=args.one,
                seconds_two=args.two,
                seconds_faults=args.faults,
                concurrency=args.concurrency,
            )
        )
    for note in r.result.notes:
        print(f"   {note}")
    print()
    print(report(r))
    print(f"total wall time with start and stop: {time.monotonic() - began:.1f} s")
    bad = failures(r)
    for what in bad:
        print(f"FAILED: {what}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

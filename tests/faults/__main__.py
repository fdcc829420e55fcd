"""`make faults`: every fault scenario, each on a fresh system, longer than in `make test`;
prints a table of what the checker found.

    python -m tests.faults [--seconds 30] [--concurrency 4] [--strikes 3] [--scenario NAME ...]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from tests.faults.checker import Result
from tests.faults.scenarios import SCENARIOS, run_scenario
from tests.faults.system import running_system
from tests.faults.workload import Ledger

COLUMNS = (
    ("scenario", 22),
    ("journeys", 8),
    ("acknowledged", 12),
    ("lost", 5),
    ("duplicated", 10),
    ("unpublished", 11),
    ("published 2x", 12),
    ("effects missing", 15),
    ("500s", 5),
    ("503s", 5),
    ("other 5xx", 9),
    ("no answer", 9),
    ("recovery s", 10),
)


def row(result: Result) -> list[str]:
    recovery = "-" if result.recovery_seconds is None else f"{result.recovery_seconds:.1f}"
    return [
        result.scenario + ("" if result.quiet else " (not quiet)"),
        f"{result.journeys_done}/{result.journeys}",
        str(result.acknowledged),
        str(result.lost),
        str(result.duplicated),
        str(result.unpublished),
        str(result.published_twice),
        str(result.effects_missing),
        str(result.answers_500),
        str(result.answers_503),
        str(result.answers_other_5xx),
        str(result.no_answer),
        recovery,
    ]


def table(results: list[Result]) -> str:
    lines = [
        " | ".join(name.ljust(width) for name, width in COLUMNS),
        "-|-".join("-" * width for _, width in COLUMNS),
    ]
    for result in results:
        cells = row(result)
        lines.append(" | ".join(c.ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines)


def failed(result: Result) -> bool:
    return bool(
        result.lost
        or result.duplicated
        or result.unpublished
        or result.published_twice
        or result.effects_missing
        or result.answers_500
        or not result.quiet
        or result.recovery_seconds is None
    )


def one(
    name: str,
    seconds: float,
    concurrency: int,
    strikes: int,
    keep: Path | None,
    own_postgres: bool = False,
) -> Result:
    """The scenario on a system of its own (started outside the event loop)."""
    workdir = None
    if keep is not None:
        workdir = keep / name.replace(" ", "-")
        workdir.mkdir(parents=True, exist_ok=True)
    embedded = own_postgres or SCENARIOS[name].own_postgres
    with running_system(workdir, embedded_postgres=embedded) as system:
        return asyncio.run(
            run_scenario(
                system,
                Ledger(),
                SCENARIOS[name],
                seconds=seconds,
                concurrency=concurrency,
                strikes=strikes,
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="workload per scenario")
    parser.add_argument("--concurrency", type=int, default=4, help="journeys at a time")
    parser.add_argument("--strikes", type=int, default=3, help="faults per scenario")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    parser.add_argument("--keep", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument(
        "--own-postgres",
        action="store_true",
        help="every scenario on an embedded PostgreSQL of its own (not GUIDANCE_DATABASE_URL)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = []
    for name in args.scenario or list(SCENARIOS):
        print(f"-- {name} ...", flush=True)
        result = one(
            name, args.seconds, args.concurrency, args.strikes, args.keep, args.own_postgres
        )
        results.append(result)
        for note in result.notes:
            print(f"   {note}")
    print()
    print(table(results))
    bad = [r.scenario for r in results if failed(r)]
    if bad:
        print(f"\nfailed: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make fuzz`: the API fuzzer with a larger budget against a fresh live system; prints the
requests made, the failures by check and a curl reproduction of each finding.

    python -m tests.fuzz [--examples 100] [--service intake ...] [--random]
"""

from __future__ import annotations

import argparse
import sys

from shared.serve import SERVICES
from tests.faults.system import running_system
from tests.fuzz.fuzzer import fuzz_async


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and mode")
    parser.add_argument("--service", action="append", choices=SERVICES)
    parser.add_argument(
        "--random",
        action="store_true",
        help="new cases each run (default: the same cases every run)",
    )
    args = parser.parse_args()
    with running_system() as system:
        summary = fuzz_async(
            system,
            examples=args.examples,
            services=tuple(args.service or SERVICES),
            randomize=args.random,
        )
    print(summary.report())
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())

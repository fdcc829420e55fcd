"""`python -m bench.console_pages` runs (a smoke test, not a timing): briefly, with two
counsellors, against the console tests' system, from its folder as a newcomer runs it
after `make run` (the address and the signing secret from its `.data/`). Its figures are
not judged here; that it set up its data, started the console alone, signed in, browsed,
posted and printed its table is."""

from __future__ import annotations

import subprocess
import sys

from tests.console.conftest import REPO, System


def test_the_console_pages_benchmark_runs_and_prints_its_table(system: System) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.console_pages", "--users", "2", "--seconds", "3",
         "--peer-seconds", "1", "--rounds", "1", "--warmup", "0", "--cases", "3",
         "--think", "0"],
        cwd=system.folder,
        env=dict(system.env, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"APIs: {system.base}" in out, out
    assert "set-up: 3 clients with consent" in out, out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    for kind in ("worklist", "case", "plan", "assessment", "all"):
        # n, p50, p95, p99 of the pages, the same of the API calls, their p95 ratio
        assert kind in lines and len(lines[kind]) == 10, out
    assert int(lines["all"][0]) > 0 and int(lines["all"][4]) > 0, out
    assert "errors: 0 pages, 0 API calls" in out, out
    assert "the console's share" in out, out
    assert "page p95 <= 150 ms" in out and "page p99 <= 300 ms" in out, out

"""`python -m bench.console_pages` runs (a smoke test, not a timing): briefly, with two
counsellors, against the console tests' system, from its folder as a newcomer runs it
after `make run` (the address and the signing secret from its `.data/`). Its figures are
not judged here; that it set up its data, started the console alone, signed in, browsed,
posted and printed its table is."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg

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


def test_the_dashboard_benchmark_runs_and_cleans_up(system: System) -> None:
    """`python -m bench.dashboard`, small: it fills its own organisation's read models,
    signs a team lead in to a console of its own, measures, prints, and removes its rows."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.dashboard", "--cases", "3000", "--users", "1",
         "--requests", "4", "--rounds", "2", "--warmup", "1"],
        cwd=system.folder,
        env=dict(system.env, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "set-up: 3000 cases of org-bench-" in out, out
    assert "2000 open cases in the caseload figure" in out, out  # 4 in 6 are open
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "dashboard" in lines and "its" in lines, out
    assert "errors: 0" in out, out
    assert "target: page p95 <= 300 ms with 3000 cases" in out, out
    assert asyncio.run(rows_left(system.database_url)) == 0


async def rows_left(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT (SELECT count(*) FROM intake.cases_view WHERE organisation LIKE "
                "'org-bench-%') + (SELECT count(*) FROM referral.partners_view WHERE name "
                "LIKE 'org-bench-%')"
            )
        )
    finally:
        await conn.close()

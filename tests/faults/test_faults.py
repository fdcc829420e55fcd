"""The fault suite's short version: a few faults against a real system of separate
processes (web, relay, worker, a private NATS, a fresh database), a few seconds of
workload each, and the checker's verdict. `make faults` runs every scenario longer.

Everything is asserted after every fault: nothing lost, nothing stored or published
twice, every effect present, no answer of 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.faults.__main__ import table
from tests.faults.checker import Result
from tests.faults.scenarios import SCENARIOS, run_scenario
from tests.faults.system import running_system
from tests.faults.workload import Ledger

pytestmark = pytest.mark.faults

SHORT = (
    "kill -9 web",
    "kill -9 worker",
    "kill -9 nats",
    "terminate pg backends",
    "restart postgresql",
)
SECONDS = 4.0


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Result]]:
    """Each short scenario run once on one system (checked after each, once quiet)."""
    ledger = Ledger()
    out: dict[str, Result] = {}
    # On an embedded PostgreSQL of its own, which the last scenario restarts.
    with running_system(embedded_postgres=True) as system:

        async def run_all() -> None:
            for name in SHORT:
                out[name] = await run_scenario(
                    system, ledger, SCENARIOS[name], seconds=SECONDS, concurrency=3
                )

        asyncio.run(run_all())
    print("\n" + table(list(out.values())))
    yield out


def scenarios() -> list[object]:
    return [pytest.param(n, id=n) for n in SHORT]


@pytest.mark.parametrize("scenario", scenarios())
def test_after_the_fault_every_acknowledged_command_is_stored_published_and_has_its_effects(
    results: dict[str, Result], scenario: str
) -> None:
    r = results[scenario]
    assert r.acknowledged > 20, r
    assert r.quiet, r.notes
    assert r.recovery_seconds is not None, r.notes
    assert (r.lost, r.unpublished, r.published_twice, r.effects_missing) == (0, 0, 0, 0), r.notes


@pytest.mark.parametrize("scenario", scenarios())
def test_after_the_fault_no_command_is_stored_twice(
    results: dict[str, Result], scenario: str
) -> None:
    r = results[scenario]
    assert r.duplicated == 0, r.notes


@pytest.mark.parametrize("scenario", scenarios())
def test_after_the_fault_no_request_is_answered_with_a_500(
    results: dict[str, Result], scenario: str
) -> None:
    r = results[scenario]
    assert r.answers_500 == 0, r.notes

"""The API fuzzer's short version in `make test`: a few cases per operation and generation
mode over all four OpenAPI documents, against a live system of separate processes; no
answer may be a 5xx and every documented answer must match its schema. `make fuzz` runs
the same with a larger budget and prints what it found."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.faults.system import running_system
from tests.fuzz.fuzzer import Summary, fuzz_async

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("WAYPOINT_FUZZ_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def summary() -> Iterator[Summary]:
    # On an embedded PostgreSQL of its own: in lanes (`pytest -n 2`) it runs beside the
    # browser lane's systems, which would together hold more than the local server's 100.
    with running_system(embedded_postgres=True) as system:
        found = fuzz_async(system, examples=EXAMPLES)
    print("\n" + found.report())
    yield found


def test_the_fuzzer_reaches_every_operation_past_authentication(summary: Summary) -> None:
    assert summary.operations >= 100, summary.report()
    assert summary.requests >= summary.operations * 2, summary.report()
    # Real ids and tokens: most answers are not refusals at the door.
    assert 401 not in summary.statuses, summary.report()
    assert sum(n for s, n in summary.statuses.items() if s < 300) > summary.operations


def test_no_fuzzed_request_is_answered_with_a_server_error(summary: Summary) -> None:
    assert summary.failures_by_check["not_a_server_error"] == 0, summary.report()
    assert summary.failures_by_check["no answer"] == 0, summary.report()


def test_every_fuzzed_answer_matches_its_documented_schema(summary: Summary) -> None:
    assert summary.failures_by_check["response_schema_conformance"] == 0, summary.report()

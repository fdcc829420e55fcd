"""The fault suite's checker on made-up ledgers and stores: it must see a lost command, a
duplicate, and a creation stored twice, and forgive what an unanswered attempt may have
stored."""

from __future__ import annotations

from collections import Counter

from tests.faults.checker import Counts, Result, check_commands
from tests.faults.workload import Command, created

CASE = "c1"


def command(
    statuses: list[int], aggregate: str | None = CASE, event: str = "Case.Accepted"
) -> Command:
    return Command("s", "cmd", "intake", "POST", "/intake/v1/x", (event,), aggregate, statuses)


def checked(commands: list[Command], stored: dict[tuple[str, str, str], int]) -> Result:
    result = Result("s")
    counts: Counts = Counter(stored)
    known = {(c.service, c.aggregate) for c in commands if c.aggregate}
    check_commands(commands, counts, Counter(), known, result)
    return result


def test_an_acknowledged_command_with_no_stored_event_is_lost() -> None:
    r = checked([command([200])], {})
    assert (r.lost, r.duplicated) == (1, 0)


def test_an_acknowledged_command_stored_twice_is_a_duplicate() -> None:
    r = checked([command([0, 200])], {("intake", CASE, "Case.Accepted"): 2})
    assert (r.lost, r.duplicated) == (0, 1)


def test_an_unanswered_attempt_may_have_been_stored_but_only_once() -> None:
    once = checked([command([0, 0, 503])], {("intake", CASE, "Case.Accepted"): 1})
    assert (once.lost, once.duplicated) == (0, 0)
    twice = checked([command([0, 0, 503])], {("intake", CASE, "Case.Accepted"): 2})
    assert twice.duplicated == 1


def test_a_refused_command_stores_nothing() -> None:
    r = checked([command([409])], {("intake", CASE, "Case.Accepted"): 1})
    assert r.duplicated == 1


def test_a_creation_retried_after_a_stored_first_attempt_is_a_duplicate() -> None:
    made = command([0, 201], aggregate="new", event="Case.Opened")
    stored = {("intake", "new", "Case.Opened"): 1, ("intake", "other", "Case.Opened"): 1}
    assert checked([made], stored).duplicated == 1
    # An unanswered creation explains one event on an aggregate nobody was told about.
    lost_answer = command([0, 0], aggregate=None, event="Case.Opened")
    assert checked([made, lost_answer], stored).duplicated == 0


def test_a_created_id_is_read_from_the_answer_or_from_a_replay_of_it() -> None:
    made, derived = "3f0c1a52-0000-4000-8000-000000000001", "3f0c1a52-0000-4000-8000-000000000002"
    assert created({"client_id": made}, "client_id") == made
    # A replay after the process died between the commit and the answer
    # (shared/idempotency.py's `rebuilt_answer`): the id the request made, ...
    replay = {"replayed": True, "committed": [{"aggregate_id": made, "version": 1}]}
    assert created({**replay, "created": [made]}, "client_id") == made
    # ... or, for an id derived from the request (an erasure's), the aggregate it wrote.
    erasure = {"replayed": True, "committed": [{"aggregate_id": derived, "version": 1}]}
    assert created(erasure, "erasure_id") == derived

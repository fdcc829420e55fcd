"""The cluster rehearsal's short version (`make cluster` runs it longer): a 3-node NATS
cluster with R3 streams, PostgreSQL, two replicas of web, relay and worker; the workload
across both web replicas while the intake stream's leader and one replica of each role
are killed -9 and started again. Then, from the checker and the watch:

nothing acknowledged lost, nothing stored or published twice, every effect present, no
500; never two relays holding one service's lease, and the killed relay's leases handed
over within seconds; both workers applied consumers' messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.cluster.__main__ import report
from tests.cluster.cluster import running_cluster
from tests.cluster.rehearsal import (
    SHARED_FROM,
    Rehearsal,
    consumer_split,
    failures,
    rehearse,
    worker_totals,
)

pytestmark = pytest.mark.cluster

# Seconds of workload per phase; the whole test takes about 90 s on two cores.
ONE, TWO, FAULTS = 4.0, 4.0, 12.0
HANDOVER_LIMIT = 5.0


@pytest.fixture(scope="module")
def rehearsal() -> Iterator[Rehearsal]:
    with running_cluster() as system:
        r = asyncio.run(
            rehearse(system, seconds_one=ONE, seconds_two=TWO, seconds_faults=FAULTS, concurrency=3)
        )
    print("\n" + report(r))
    yield r


def test_the_rehearsal_meets_every_check(rehearsal: Rehearsal) -> None:
    assert failures(rehearsal) == [], rehearsal.result.notes


def test_no_acknowledged_command_is_lost_or_stored_twice_and_every_effect_is_there(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal.result
    assert r.acknowledged > 50, r
    assert r.quiet, r.notes
    assert (r.lost, r.duplicated, r.effects_missing, r.answers_500) == (0, 0, 0, 0), r.notes


def test_every_stored_event_is_published_once(rehearsal: Rehearsal) -> None:
    r = rehearsal.result
    assert (r.unpublished, r.published_twice) == (0, 0), r.notes


def test_one_relay_at_a_time_holds_each_lease_and_a_killed_relays_leases_move_on(
    rehearsal: Rehearsal,
) -> None:
    for lease in rehearsal.leases.values():
        assert lease.samples > 100, lease
        assert lease.doubled == 0, lease
        assert lease.holders, lease
    handover = rehearsal.role_fault.handover
    assert handover, "the killed relay held no lease"
    for service, seconds in handover.items():
        assert seconds is not None and seconds < HANDOVER_LIMIT, (service, seconds)


def test_the_stream_gets_a_new_leader_and_commands_go_on(rehearsal: Rehearsal) -> None:
    fault = rehearsal.nats_fault
    assert fault.election_seconds is not None
    assert fault.leaders_after["intake"] is not None
    assert fault.recovery_seconds is not None
    assert rehearsal.role_fault.recovery_seconds is not None


def test_every_replica_is_told_of_every_destroyed_key(rehearsal: Rehearsal) -> None:
    """Each erasure is announced twice (by the request, and by intake's erasure consumer);
    a replica that ran throughout heard at least one announcement per erasure."""
    assert rehearsal.erasures > 0
    throughout = [
        f"{role}-{n}"
        for role in ("web", "relay", "worker")
        for n in (1, 2)
        if f"{role}-{n}" not in rehearsal.role_fault.killed
    ]
    assert len(throughout) == 3
    for who in throughout:
        assert rehearsal.announced.get(who, 0) >= rehearsal.erasures, rehearsal.announced


def test_both_workers_share_the_consumers_work(rehearsal: Rehearsal) -> None:
    totals = worker_totals(rehearsal)
    assert totals.get("worker-1", 0) > 0 and totals.get("worker-2", 0) > 0, totals
    assert sum(totals.values()) > 20, totals
    # Each busy durable consumer's messages went to both (none waits on one worker).
    for consumer, by_worker in consumer_split(rehearsal).items():
        if sum(by_worker.values()) >= SHARED_FROM:
            assert all(by_worker.values()), (consumer, by_worker)

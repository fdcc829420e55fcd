"""The cluster rehearsal: the fault suite's workload (tests/faults/workload.py) across two
web replicas while faults strike the cluster, then the fault suite's checker.

Three phases on one running cluster (one ledger, checked once at the end):
1. `one web`: the workload against web-1 alone (the other replicas run, idle for HTTP);
2. `two webs`: the same workload spread over both web replicas by a round-robin client;
3. `faults`: as 2, while (a) the NATS node that leads the intake stream is killed -9
   (and started again), then (b) one replica of each role is killed -9 at once (web-1,
   the relay that holds the leases, worker-1) and (c) started again.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats

from shared.messaging.envelope import stream_name
from shared.serve import SERVICES
from shared.settings import nats_servers
from tests.cluster.cluster import Cluster
from tests.cluster.observe import Lease, Watch
from tests.faults.checker import Result, check, connect, stored_counts
from tests.faults.scenarios import RECOVERY_LIMIT, recover
from tests.faults.workload import Driver, Ledger, run_journeys

SCENARIO = "cluster"
LEADER_STREAM = stream_name("intake")
# Seconds a killed part stays down before it is started again.
DOWN_SECONDS = 3.0


class RoundRobin(httpx.AsyncBaseTransport):
    """A tiny local balancer: each request to the next web replica's port in turn (a
    request to a dead one fails, and the workload's retry goes to the next)."""

    def __init__(self, ports: dict[str, int], limits: httpx.Limits) -> None:
        self.names = list(ports)
        self.ports = ports
        self.transports = {n: httpx.AsyncHTTPTransport(limits=limits) for n in self.names}
        self._next = itertools.cycle(self.names)
        self.sent: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = next(self._next)
        self.sent[name] += 1
        request.url = request.url.copy_with(port=self.ports[name])
        return await self.transports[name].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()


@dataclass
class Phase:
    name: str
    webs: list[str]
    seconds: float = 0.0
    acknowledged: int = 0
    journeys: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0


@dataclass
class NatsFault:
    node: str = "-"
    leaders_before: dict[str, str | None] = field(default_factory=dict)
    leaders_after: dict[str, str | None] = field(default_factory=dict)
    election_seconds: float | None = None
    recovery_seconds: float | None = None


@dataclass
class RoleFault:
    killed: list[str] = field(default_factory=list)
    # service -> seconds from the kill until another process held its relay lease
    handover: dict[str, float | None] = field(default_factory=dict)
    recovery_seconds: float | None = None


@dataclass
class Rehearsal:
    result: Result
    phases: list[Phase]
    leases: dict[str, Lease]
    nats_fault: NatsFault
    role_fault: RoleFault
    # worker incarnation -> messages its consumers applied (and duplicates)
    consumed: dict[str, Counter[tuple[str, str]]]
    most_claims: int
    claimed_twice: list[tuple[float, str, list[str]]]
    connections_max: int
    connections: dict[str, int]
    # process incarnation -> key destructions announced it received; erasures answered
    announced: dict[str, int] = field(default_factory=dict)
    erasures: int = 0
    wall_seconds: float = 0.0


async def _quiet(error: Exception) -> None:
    """A node that is down refuses connections: expected here, not worth a traceback."""


async def leaders(system: Cluster) -> dict[str, str | None]:
    nc = await nats.connect(
        nats_servers(system.nats_url), max_reconnect_attempts=-1, error_cb=_quiet
    )
    try:
        js = nc.jetstream()
        found: dict[str, str | None] = {}
        for service in SERVICES:
            try:
                info = await asyncio.wait_for(js.stream_info(stream_name(service)), 2)
            except Exception:
                found[service] = None
                continue
            found[service] = info.cluster.leader if info.cluster else None
        return found
    finally:
        await nc.close()


async def new_leader(system: Cluster, old: str, seconds: float = 30.0) -> float | None:
    """Seconds until the intake stream has a leader other than `old`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        found = await leaders(system)
        if found.get("intake") not in (None, old):
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    return None


def client(system: Cluster, webs: list[str], concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency * 2 + 2)
    transport = RoundRobin({n: system.web_ports[n] for n in webs}, limits)
    return httpx.AsyncClient(
        base_url=system.web_url(webs[0]), timeout=httpx.Timeout(10.0), transport=transport
    )


async def run_phase(
    system: Cluster, ledger: Ledger, phase: Phase, seconds: float, concurrency: int
) -> None:
    async with client(system, phase.webs, concurrency) as http:
        driver = Driver(system, ledger, http)
        driver.scenario = SCENARIO
        await _timed(
            ledger,
            phase,
            run_journeys(driver, seconds=seconds, concurrency=concurrency, limit=1000),
        )
        assert isinstance(http._transport, RoundRobin)
        phase.requests = http._transport.sent


async def _timed(ledger: Ledger, phase: Phase, work: Coroutine[Any, Any, None]) -> None:
    first = len(ledger.commands)
    journeys = len(ledger.journeys)
    start = time.monotonic()
    await work
    phase.seconds = time.monotonic() - start
    phase.acknowledged = sum(c.ok for c in ledger.commands[first:])
    phase.journeys = len(ledger.journeys) - journeys


async def kill_leader(system: Cluster, driver: Driver, fault: NatsFault) -> None:
    """(a) kill -9 of the NATS node leading the intake stream; started again later."""
    assert system.cluster is not None
    fault.leaders_before = await leaders(system)
    node = fault.leaders_before["intake"]
    assert node is not None, "the intake stream has no leader"
    fault.node = node
    system.cluster.kill(node)
    fault.election_seconds = await new_leader(system, node)
    fault.recovery_seconds = await recover(driver)
    await asyncio.sleep(DOWN_SECONDS)
    system.cluster.start(node)
    await asyncio.to_thread(system.cluster.wait, 30.0, (node,))
    fault.leaders_after = await leaders(system)


async def kill_replicas(system: Cluster, driver: Driver, watch: Watch, fault: RoleFault) -> None:
    """(b) kill -9 of one replica of each role at once (of the relays, the one holding
    the most leases), and (c) each started again."""
    held = {s: lease.holder for s, lease in watch.leases.items()}
    relays = Counter(h.rstrip("'") for h in held.values() if h and h.startswith("relay-"))
    relay = relays.most_common(1)[0][0] if relays else "relay-1"
    fault.killed = ["web-1", relay, "worker-1"]
    at = time.monotonic()
    for name in fault.killed:
        system.kill(name)
    fault.recovery_seconds = await recover(driver)
    await asyncio.sleep(max(0.0, at + DOWN_SECONDS - time.monotonic()))
    for name in fault.killed:
        system.start(name)
    await asyncio.to_thread(system.wait_ready)
    for service, who in held.items():
        if who is not None and who.rstrip("'") == relay:
            fault.handover[service] = watch.handover_after(service, at)


async def rehearse(
    system: Cluster,
    *,
    seconds_one: float,
    seconds_two: float,
    seconds_faults: float,
    concurrency: int = 4,
) -> Rehearsal:
    started = time.monotonic()
    ledger = Ledger()
    conn = await connect(system)
    try:
        before = await stored_counts(conn)
    finally:
        await conn.close()
    watch = Watch(system)
    await watch.start()
    webs = system.instances("web")
    phases = [Phase("one web", webs[:1]), Phase("two webs", webs), Phase("faults", webs)]
    nats_fault, role_fault = NatsFault(), RoleFault()
    connections: dict[str, int] = {}
    try:
        # Warm-up (checked, not timed): every replica's first requests, the consumers'
        # first fetches and the stand-ins' start are not counted against one phase.
        await run_phase(system, ledger, Phase("warm-up", webs), 0.1, concurrency)
        await run_phase(system, ledger, phases[0], seconds_one, concurrency)
        await run_phase(system, ledger, phases[1], seconds_two, concurrency)
        connections = await watch.connections()
        async with client(system, webs, concurrency) as http:
            driver = Driver(system, ledger, http)
            driver.scenario = SCENARIO

            async def faults() -> None:
                await asyncio.sleep(seconds_faults / 5)
                await kill_leader(system, driver, nats_fault)
                await kill_replicas(system, driver, watch, role_fault)

            work = run_journeys(driver, seconds=seconds_faults, concurrency=concurrency, limit=1000)
            striking = asyncio.create_task(faults())
            await _timed(ledger, phases[2], work)
            await striking
            assert isinstance(http._transport, RoundRobin)
            phases[2].requests = http._transport.sent
        result = await check(system, ledger, SCENARIO, before, Result(SCENARIO))
        recoveries = [nats_fault.recovery_seconds, role_fault.recovery_seconds]
        if None in recoveries:
            result.note(f"no probe succeeded within {RECOVERY_LIMIT:.0f} s of a fault")
        else:
            result.recovery_seconds = max(r for r in recoveries if r is not None)
        async with httpx.AsyncClient(timeout=1.0) as http:
            await watch.scrape_once(http)
    finally:
        await watch.stop()
    return Rehearsal(
        result=result,
        phases=phases,
        leases=watch.leases,
        nats_fault=nats_fault,
        role_fault=role_fault,
        consumed=watch.consumed,
        most_claims=watch.most_claims,
        claimed_twice=watch.claimed_twice,
        connections_max=watch.connections_max,
        connections=connections,
        announced=dict(sorted(watch.announced.items())),
        erasures=sum(c.ok for c in ledger.commands if c.name == "erase client"),
        wall_seconds=time.monotonic() - started,
    )


def failures(r: Rehearsal) -> list[str]:
    """What the rehearsal must show; each unmet one, said."""
    out = []
    res = r.result
    for what, n in (
        ("acknowledged commands lost", res.lost),
        ("duplicated effects", res.duplicated),
        ("stored events not published", res.unpublished),
        ("events published twice", res.published_twice),
        ("effects missing", res.effects_missing),
        ("answers 500", res.answers_500),
    ):
        if n:
            out.append(f"{n} {what}")
    if not res.quiet:
        out.append("the cluster was not quiet afterwards")
    if res.recovery_seconds is None:
        out.append("no command succeeded after a fault")
    if res.acknowledged < 20:
        out.append(f"only {res.acknowledged} commands acknowledged")
    for service, lease in r.leases.items():
        if lease.doubled:
            out.append(f"{service}: {lease.doubled} samples with two relays holding the lease")
        if not lease.holders:
            out.append(f"{service}: no relay ever held the lease")
    if not r.role_fault.handover:
        out.append("the killed relay held no lease: no hand-over observed")
    for service, seconds in r.role_fault.handover.items():
        if seconds is None:
            out.append(f"{service}: the lease was not handed over after the relay was killed")
    if r.nats_fault.election_seconds is None:
        out.append("the intake stream got no new leader after its leader was killed")
    totals = worker_totals(r)
    for name in ("worker-1", "worker-2"):
        if totals.get(name, 0) == 0:
            out.append(f"{name} applied no consumer's message: the work was not shared")
    for consumer, by_worker in consumer_split(r).items():
        if sum(by_worker.values()) >= SHARED_FROM and 0 in by_worker.values():
            out.append(f"{consumer}: its {sum(by_worker.values())} messages all on one worker")
    return out


# A durable consumer with at least this many messages must have had some on both workers.
SHARED_FROM = 20


def consumer_split(r: Rehearsal) -> dict[str, dict[str, int]]:
    """consumer -> worker replica (its incarnations together) -> messages applied."""
    split: dict[str, dict[str, int]] = {}
    for who, consumed in r.consumed.items():
        if not who.startswith("worker"):
            continue
        replica = who.rstrip("'")
        for (consumer, outcome), n in consumed.items():
            if outcome == "applied":
                by_worker = split.setdefault(consumer, {"worker-1": 0, "worker-2": 0})
                by_worker[replica] = by_worker.get(replica, 0) + n
    return split


def worker_totals(r: Rehearsal) -> dict[str, int]:
    return {
        who: sum(n for (_, outcome), n in consumed.items() if outcome == "applied")
        for who, consumed in sorted(r.consumed.items())
        if who.startswith("worker")
    }

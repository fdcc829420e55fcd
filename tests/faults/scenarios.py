"""The faults, each a scenario: the workload runs, the fault strikes a third of the way in,
a probe measures how long until commands succeed again, and the checker looks at the
result once the system is quiet."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.faults.checker import Result, check, connect, stored_counts
from tests.faults.system import ACK_WAIT_SECONDS, System
from tests.faults.workload import Driver, Ledger, run_journeys

# How long the probe keeps trying after a fault before recovery counts as failed.
RECOVERY_LIMIT = 120.0


def no_fault(system: System) -> None:
    return None


def kill_role(role: str) -> Callable[[System], None]:
    def fault(system: System) -> None:
        system.kill(role)
        system.start(role)

    fault.__doc__ = f"kill -9 of the {role} process, then started again"
    return fault


def kill_nats(system: System) -> None:
    """kill -9 of nats-server; started again (same port and store) 2 s later."""
    system.kill_nats()
    time.sleep(2)
    system.start_nats()


def terminate_backends(system: System, times: int = 3) -> None:
    """Every PostgreSQL backend of the system's database terminated, `times` times."""
    import psycopg

    for n in range(times):
        if n:
            time.sleep(1.0)
        with psycopg.connect(system.settings().pg.dsn(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (system.dbname,),
            )


def restart_postgres(system: System) -> None:
    """The system's (embedded) PostgreSQL shut down and started again 2 s later."""
    system.restart_postgres()


def pause_worker(system: System) -> None:
    """SIGSTOP of the worker for longer than the consumers' ack_wait, then SIGCONT."""
    system.signal("worker", signal.SIGSTOP)
    time.sleep(ACK_WAIT_SECONDS + 3)
    system.signal("worker", signal.SIGCONT)


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[System], None]
    # Needs a PostgreSQL of the system's own (embedded) that the fault can restart.
    own_postgres: bool = False


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("no fault", no_fault),
        Scenario("kill -9 web", kill_role("web")),
        Scenario("kill -9 relay", kill_role("relay")),
        Scenario("kill -9 worker", kill_role("worker")),
        Scenario("kill -9 nats", kill_nats),
        Scenario("terminate pg backends", terminate_backends),
        Scenario("restart postgresql", restart_postgres, own_postgres=True),
        Scenario("pause worker", pause_worker),
    )
}


async def run_scenario(
    system: System,
    ledger: Ledger,
    scenario: Scenario,
    *,
    seconds: float,
    concurrency: int = 4,
    limit: int = 1000,
    strikes: int = 1,
) -> Result:
    """The workload for `seconds` with the fault `strikes` times, evenly spread (once: a
    third of the way in); the checked result, with the longest recovery."""
    conn = await connect(system)
    try:
        before = await stored_counts(conn)
    finally:
        await conn.close()
    result = Result(scenario.name)
    timeout = httpx.Timeout(10.0)
    limits = httpx.Limits(max_connections=concurrency * 2 + 2)
    async with httpx.AsyncClient(base_url=system.base_url, timeout=timeout, limits=limits) as http:
        driver = Driver(system, ledger, http)
        driver.scenario = scenario.name
        work = asyncio.create_task(
            run_journeys(driver, seconds=seconds, concurrency=concurrency, limit=limit)
        )
        start = time.monotonic()
        recoveries: list[float] = []
        for strike in range(strikes):
            at = start + seconds * (strike + 1) / (strikes + 2 if strikes > 1 else 3)
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            await asyncio.to_thread(scenario.fault, system)
            recovery = await recover(driver)
            if recovery is None:
                result.note(f"no probe succeeded within {RECOVERY_LIMIT:.0f} s")
                break
            recoveries.append(recovery)
        else:
            result.recovery_seconds = max(recoveries)
        await work
    return await check(system, ledger, scenario.name, before, result)


async def recover(driver: Driver) -> float | None:
    """Seconds from now (the fault's end) until a probe command succeeds."""
    ended = time.monotonic()
    while time.monotonic() - ended < RECOVERY_LIMIT:
        probe = await driver.probe()
        if probe.ok:
            return probe.ended - ended
    return None

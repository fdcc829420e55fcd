"""What the rehearsal watches while it runs, from outside the processes:

- the relays' leases: each service's relay holds a PostgreSQL advisory lock (session
  level, key `crc32("<service>:relay")`, see shared/messaging/follower.py) while it
  publishes; `pg_locks` is sampled every `LEASE_SAMPLE_SECONDS` for the holders (named
  by their connections' application_name, GUIDANCE_DB_APPLICATION_NAME), so that
  "exactly one relay active per service" and the hand-over after a kill are measured,
  not assumed;
- each relay and worker process's metrics (GUIDANCE_METRICS_PORT): the messages each
  consumer applied there (`waypoint_consumer_messages_total`) and which relay claims to be
  active (`waypoint_follower_active`), the last scrape of each incarnation kept;
- the PostgreSQL connections of the cluster's database, by instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.serve import SERVICES
from tests.cluster.cluster import Cluster

LEASE_SAMPLE_SECONDS = 0.1
SCRAPE_SECONDS = 1.0
RELAY_KEYS = {zlib.crc32(f"{service}:relay".encode()): service for service in SERVICES}


@dataclass
class Lease:
    """One service's relay lease as sampled."""

    service: str
    samples: int = 0
    # Samples with more than one holder (a lock cannot have two: checked all the same).
    doubled: int = 0
    # Samples with nobody holding it, and the longest such stretch (a hand-over).
    vacant: int = 0
    longest_gap: float = 0.0
    # Every holder in turn (a return to an earlier one shows again).
    holders: list[str] = field(default_factory=list)
    handovers: int = 0
    _gap_since: float | None = None
    _last: str | None = None

    def sample(self, at: float, holders: list[str]) -> None:
        self.samples += 1
        if len(holders) > 1:
            self.doubled += 1
        if not holders:
            self.vacant += 1
            if self._gap_since is None:
                self._gap_since = at
            self.longest_gap = max(self.longest_gap, at - self._gap_since)
            return
        self._gap_since = None
        holder = holders[0]
        if not self.holders or self.holders[-1] != holder:
            self.holders.append(holder)
        if self._last is not None and holder != self._last:
            self.handovers += 1
        self._last = holder

    @property
    def holder(self) -> str | None:
        return self._last


class Watch:
    """Samples the leases, scrapes the metrics and counts connections until stopped."""

    def __init__(self, system: Cluster) -> None:
        self.system = system
        self.leases = {service: Lease(service) for service in SERVICES}
        # incarnation -> (consumer, outcome) -> messages, from its last scrape
        self.consumed: dict[str, Counter[tuple[str, str]]] = {}
        # incarnation -> key destructions announced that it received (intake's subscription)
        self.announced: dict[str, int] = {}
        # incarnation -> services whose relay it claimed active at its last scrape
        self.claims: dict[str, set[str]] = {}
        # most processes claiming one service's relay in one round of scrapes
        self.most_claims = 0
        self.connections_max = 0
        self.connections_by_instance: dict[str, int] = {}
        # (time, service, holder) of every change of holder
        self.timeline: list[tuple[float, str, str | None]] = []
        # (time, service, processes) whenever several claimed one service's relay
        self.claimed_twice: list[tuple[float, str, list[str]]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._sample_leases()),
            asyncio.create_task(self._scrape()),
        ]

    def _connect_kwargs(self) -> dict[str, object]:
        pg = self.system.settings().pg
        pg.application_name = "rehearsal-watch"
        return pg.asyncpg_kwargs()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- leases -------------------------------------------------------------------------------
    async def _sample_leases(self) -> None:
        conn: asyncpg.Connection | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(**self._connect_kwargs())
                await self._sample_once(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), LEASE_SAMPLE_SECONDS)
        if conn is not None:
            await conn.close()

    async def _sample_once(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            "SELECT l.objid::text::bigint AS key, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.objid::text::bigint = ANY($1::bigint[])",
            list(RELAY_KEYS),
        )
        at = time.monotonic()
        holders: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            holders[RELAY_KEYS[row["key"]]].append(row["application_name"] or "?")
        for service, lease in self.leases.items():
            before = lease.holder
            lease.sample(at, holders.get(service, []))
            now = holders[service][0] if holders.get(service) else None
            if now != before:
                self.timeline.append((at, service, now))
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        self.connections_max = max(self.connections_max, int(count))

    async def connections(self) -> dict[str, int]:
        """The database's connections now, by instance (ours: `watch`)."""
        conn = await asyncpg.connect(**self._connect_kwargs())
        try:
            rows = await conn.fetch(
                "SELECT application_name, count(*) AS n FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
            )
        finally:
            await conn.close()
        return {row["application_name"] or "?": row["n"] for row in sorted(rows)}

    def handover_after(self, service: str, at: float) -> float | None:
        """Seconds from `at` until the lease of `service` was next held by someone else
        than its holder at `at` (None: not handed over)."""
        holder = None
        for t, s, who in self.timeline:
            if s != service:
                continue
            if t <= at:
                holder = who
            elif who is not None and who != holder:
                return t - at
        return None

    # -- metrics ------------------------------------------------------------------------------
    async def _scrape(self) -> None:
        async with httpx.AsyncClient(timeout=1.0) as http:
            while not self._stop.is_set():
                await self.scrape_once(http)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), SCRAPE_SECONDS)

    def _metrics_urls(self) -> dict[str, str]:
        urls = {
            name: f"http://127.0.0.1:{port}/metrics"
            for name, port in self.system.metrics_ports.items()
        }
        # A web process's registry holds its four services' metrics (one process).
        for name in self.system.web_ports:
            urls[name] = f"{self.system.web_url(name)}/intake/metrics"
        return urls

    async def scrape_once(self, http: httpx.AsyncClient) -> None:
        claims: dict[str, list[str]] = defaultdict(list)
        for name, url in self._metrics_urls().items():
            process = self.system.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            try:
                r = await http.get(url)
            except httpx.HTTPError:
                continue
            if r.status_code != 200:
                continue
            who = self.system.incarnation(name)
            consumed: Counter[tuple[str, str]] = Counter()
            active: set[str] = set()
            for family in text_string_to_metric_families(r.text):
                for sample in family.samples:
                    if sample.name == "waypoint_consumer_messages_total":
                        key = (sample.labels["consumer"], sample.labels["outcome"])
                        consumed[key] = int(sample.value)
                    elif (
                        sample.name == "waypoint_follower_active"
                        and sample.labels["follower"] == "relay"
                        and sample.value == 1
                    ):
                        active.add(sample.labels["service"])
                    elif (
                        sample.name == "waypoint_key_destructions_received_total"
                        and sample.labels["service"] == "intake"
                    ):
                        self.announced[who] = int(sample.value)
            self.consumed[who] = consumed
            self.claims[who] = active
            for service in active:
                claims[service].append(who)
        for service, who_all in claims.items():
            self.most_claims = max(self.most_claims, len(who_all))
            if len(who_all) > 1:
                self.claimed_twice.append((time.monotonic(), service, who_all))

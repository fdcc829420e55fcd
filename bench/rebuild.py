"""Benchmark of `waypoint rebuild`: a read model rebuilt from a store of a million events.

A throwaway database (dropped afterwards) holds an intake event store filled as
`bench/audit_verify.py` does: one real journey (a client registered with sealed personal
fields, consent, case opened, entry check, two assessments, two sessions, accepted, a
recorded read) stored through the application, then copied with fresh ids by COPY, each
copy's client with a key of its own in the vault and its personal fields sealed under
it; one client in a hundred is erased (key destroyed). The run then measures, on the
same store:

- the raw read rate: every row of the events table, a plain sequential read (server-side
  cursor, binary);
- the floors: the rebuild's own stages run alone, one after another in one thread, on
  the whole store, batch by batch: reading the batches as the rebuild does (the
  recorder's `read_notifications`: Notification objects), decoding them as
  `Projection._stored` does (JSON, the clients' keys from the vault, the opened events),
  and the handlers, their statements made, grouped into rounds and turned into columns,
  but not sent; printed as (b) the raw read plus the decoding and (c) that plus the
  handlers, each as a rate and as a ratio to the raw read, and per event;
- the rebuild of each service's projection that has events (here intake's): from an
  empty shadow schema to the swap, events/s, with the erased clients kept out (checked);
  and the CPU it took: this process's (every thread) and that of the database's backends
  (psutil), against its wall time: how busy the machine's cores were;

and prints the ratio, against the target rebuild >= 0.5 x the raw read rate.

    .venv/bin/python -m bench.rebuild [--events 1000000] [--batch-size 5000]
                                      [--profile NAME] [--py-spy PATH]

`--profile NAME` samples the rebuild with py-spy (`pip install py-spy`, or `--py-spy PATH`;
the thread holding the GIL: Python on the CPU, not its waits; 100 samples/s, attached to
this process for the rebuild only) and writes `.data/profiles/NAME.svg` (a flame graph,
a root per thread) and its collapsed stacks (`NAME.txt`), and prints the top five
functions by self time. Sampling slows the rebuild a little (the process is paused for
each sample).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil
import psycopg

from bench.audit_verify import one_journey
from services.intake.application import IntakeApplication
from services.intake.main import SPEC
from services.intake.projections import IntakeProjection
from shared.messaging.projection import Projection, SetBased, Writes, shadow_rewrite
from shared.messaging.reproject import rebuild_projection, shadow_schema
from shared.privacy.sealing import SEALED_TAG, event_id, open_with_key, seal_value
from shared.runtime import key_vault
from shared.settings import PgParams, Settings, get_settings

# A uuid in a stored state: as text, or as the transcoder's hex (`uuid_hex`).
UUID_TEXT = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9a-zA-Z+/])[0-9a-f]{32}(?![0-9a-zA-Z+/])"
)
ERASED_EVERY = 100  # one client in a hundred is erased
PROFILES = Path(__file__).resolve().parent.parent / ".data" / "profiles"


@contextmanager
def throwaway_database(settings: Settings) -> Iterator[Settings]:
    """A new database beside the configured one, dropped afterwards."""
    params = PgParams.from_url(settings.database_url)
    name = f"waypoint_bench_rebuild_{uuid.uuid4().hex[:8]}"
    admin = settings.model_copy(
        update={"database_url": _with_db(settings.database_url, "postgres")}
    )
    with psycopg.connect(admin.pg.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield settings.model_copy(
            update={"database_url": _with_db(settings.database_url, name), "group_commit": False}
        )
    finally:
        with psycopg.connect(admin.pg.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    del params


def _with_db(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + (("?" + tail) if tail else "")


def fill(app: IntakeApplication, settings: Settings, total: int) -> tuple[int, list[uuid.UUID]]:
    """Copy one stored journey with fresh ids (every uuid in it: its sessions and
    assessments too) until `total` events,
    each copy's personal fields sealed anew under its client's own key; (copies, the
    erased clients)."""
    client_id, _ = one_journey(app)  # type: ignore[arg-type]
    template = app.recorder.select_notifications(start=1, limit=100)
    vault = app.sealing.vault
    template_key = vault.key_for(client_id)
    ids: list[uuid.UUID] = []
    for n in template:
        for found in [str(n.originator_id).encode(), *UUID_TEXT.findall(n.state)]:
            if uuid.UUID(found.decode()) not in ids:
                ids.append(uuid.UUID(found.decode()))
    # Per template event: its sealed fields' plaintexts (opened once).
    sealed: list[dict[str, bytes]] = []
    for n in template:
        state = json.loads(n.state)
        eid = event_id(n.originator_id, n.originator_version)
        opened = {}
        for field, value in state.items():
            if isinstance(value, dict) and SEALED_TAG in value:
                plain = open_with_key(template_key, value, eid, field)
                assert plain is not None
                opened[field] = plain
        sealed.append(opened)
    per = len(template)
    copies = (total - per) // per + 1
    erased: list[uuid.UUID] = []
    events = f'"{app.name.lower()}"."{app.name.lower()}_events"'
    with psycopg.connect(settings.pg.dsn()) as conn, conn.cursor() as cur:
        keys = []
        with cur.copy(
            f"COPY {events} (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for i in range(copies):
                fresh: dict[bytes, bytes] = {}
                for old in ids:
                    new = uuid.uuid4()
                    fresh[str(old).encode()] = str(new).encode()
                    fresh[old.hex.encode()] = new.hex.encode()
                new_client = uuid.UUID(fresh[str(client_id).encode()].decode())
                key = os.urandom(32)
                gone = i % ERASED_EVERY == ERASED_EVERY - 1
                if gone:
                    erased.append(new_client)
                keys.append((new_client, None if gone else vault._wrap(new_client, key), gone))
                for n, opened in zip(template, sealed, strict=True):
                    state = UUID_TEXT.sub(lambda m, f=fresh: f.get(m.group(0), m.group(0)), n.state)  # type: ignore[misc]
                    oid = uuid.UUID(fresh[str(n.originator_id).encode()].decode())
                    if opened:
                        data = json.loads(state)
                        eid = event_id(oid, n.originator_version)
                        for field, plain in opened.items():
                            data[field] = seal_value(key, new_client, plain, eid, field)
                        state = json.dumps(data, separators=(",", ":")).encode()
                    copy.write_row((oid, n.originator_version, n.topic, state))
        with cur.copy(
            "COPY vault.client_keys (client_id, wrapped_key, destroyed_at, destroyed_by, reason) "
            "FROM STDIN"
        ) as copy:
            now = datetime.now(UTC)
            for cid, wrapped, gone in keys:
                copy.write_row(
                    (cid, wrapped, now if gone else None, "bench" if gone else None, None)
                )
        conn.commit()
        conn.autocommit = True
        conn.execute(f"VACUUM ANALYZE {events}")
        conn.execute("VACUUM ANALYZE vault.client_keys")
    return copies, erased


def raw_read(settings: Settings, table: str) -> tuple[int, float]:
    """Every row of the events table, in position order, as a plain read."""
    started = time.perf_counter()
    n = 0
    with psycopg.connect(settings.pg.dsn()) as conn, conn.transaction():
        cur = conn.cursor(name="raw", binary=True)
        cur.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {table} ORDER BY notification_id"
        )
        while rows := cur.fetchmany(20_000):
            n += len(rows)
    return n, time.perf_counter() - started


@dataclass
class Floors:
    """Seconds each stage of the rebuild took alone, on the whole store."""

    events: int
    read: float  # the recorder's batches (`read_notifications`, as the rebuild reads)
    decode: float  # `Projection._stored`: JSON, the vault's keys, the opened events
    handlers: float  # the handlers' statements made, grouped, in columns; not sent


async def floors(projection: Projection, batch_size: int) -> Floors:
    """The rebuild's stages run alone, one after another in this thread, batch by batch
    as the rebuild reads them (the vault's cache emptied first, as a rebuild's process
    starts with it empty)."""
    app = projection.app
    app.sealing.vault._cache.clear()
    head = app.recorder.max_notification_id() or 0
    schema = projection.schema
    rewrite = shadow_rewrite(schema, shadow_schema(schema), projection.tables)
    out = Floors(0, 0.0, 0.0, 0.0)
    position = 0
    while position < head:
        t0 = time.perf_counter()
        batch = app.process_recorder.read_notifications(position + 1, batch_size, head)
        if not batch:
            break
        t1 = time.perf_counter()
        decoded = projection._stored(batch)
        t2 = time.perf_counter()
        writes = Writes(None, rewrite)  # never sent
        for handler, event in decoded:
            if handler is not None:
                key = event.notification.originator_id
                writes.key = key.int if isinstance(key, uuid.UUID) else key
                await handler(writes, event)
        for statements in writes.rounds():
            for many in statements.values():
                if len(many) >= SetBased.min_rows:
                    [list(column) for column in zip(*many, strict=True)]
        t3 = time.perf_counter()
        out.read += t1 - t0
        out.decode += t2 - t1
        out.handlers += t3 - t2
        out.events += len(batch)
        position = batch[-1].id
    return out


class BackendCPU:
    """The CPU time (user + system) of the database's backends while it runs, polled."""

    def __init__(self, settings: Settings) -> None:
        self.dsn = settings.pg.dsn()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started = time.time()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> BackendCPU:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _poll(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while True:
                pids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    ).fetchall()
                ]
                for pid in pids:
                    try:
                        process = psutil.Process(pid)
                        cpu = process.cpu_times()
                        spent = cpu.user + cpu.system
                        if pid not in self.first:
                            # A backend started meanwhile counts from nothing.
                            new = process.create_time() >= self.started
                            self.first[pid] = 0.0 if new else spent
                        self.last[pid] = spent
                    except psutil.Error:
                        continue
                if self.done.wait(0.25):
                    return

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def start_profiler(py_spy: str, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """py-spy attached to this process (the thread holding the GIL), until `stop_profiler`."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    raw = PROFILES / f"{name}.txt"
    command = f"record --pid {os.getpid()} --rate 100 --gil --threads --nolineno --format raw -o"
    spy = subprocess.Popen(
        [py_spy, *command.split(), str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # attached
    return spy, raw


def stop_profiler(spy: subprocess.Popen[bytes], raw: Path, name: str) -> None:
    """The flame graph and the top five functions by self time."""
    from bench.command_path import flamegraph_svg, read_collapsed, short

    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    stacks = read_collapsed(raw)
    total = sum(count for _, count in stacks) or 1
    svg = PROFILES / f"{name}.svg"
    svg.write_text(flamegraph_svg(stacks, f"{name}: waypoint rebuild, py-spy, on-CPU"))
    by_self: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    for frames, count in stacks:
        thread = frames[0] if frames and frames[0].startswith("thread ") else "?"
        decoding = any("_read (" in f for f in frames)
        by_thread["decode thread (_Run._read)" if decoding else f"event loop {thread}"] += count
        by_self[short(frames[-1]) if frames else "?"] += count
    print(f"profile of the rebuild: {svg} ({total:,} samples at 100/s)")
    for label, count in by_thread.most_common(4):
        print(f"  {count / total:6.1%}  {label}")
    print("  top five functions by self time:")
    for label, count in by_self.most_common(5):
        print(f"  {count / total:6.1%}  {label}")


def _ratio(raw_rate: float, n: int, *extra: float) -> tuple[float, float]:
    """(rate, ratio to the raw read) of the raw read plus `extra` seconds over n events."""
    rate = 1 / (1 / raw_rate + sum(extra) / n)
    return rate, rate / raw_rate


async def main(total: int, batch_size: int, profile: str | None, py_spy: str) -> None:
    with throwaway_database(get_settings()) as settings:
        vault = key_vault(settings)
        app = IntakeApplication(settings, vault)
        try:
            started = time.perf_counter()
            copies, erased = await asyncio.to_thread(fill, app, settings, total)
            events = app.recorder.max_notification_id() or 0
            print(
                f"filled {events:,} intake events ({copies:,} journeys, {len(erased):,} "
                f"clients erased) in {time.perf_counter() - started:.1f} s"
            )
            raw_n, raw_s = await asyncio.to_thread(raw_read, settings, '"intake"."intake_events"')
            kwargs = settings.pg.asyncpg_kwargs()
            projection = IntakeProjection(app, kwargs)
            floor = await floors(projection, batch_size)
            app.sealing.vault._cache.clear()  # a cold start
            last = [0.0]

            def progress(done: int, position: int, head: int) -> None:
                now = time.perf_counter()
                if now - last[0] >= 5:
                    last[0] = now
                    print(f"  rebuild: {done:,} / {head:,} events", flush=True)

            spy = start_profiler(py_spy, profile) if profile else None
            cpu_started = time.process_time()
            with BackendCPU(settings) as backends:
                rebuilt = await rebuild_projection(
                    projection,
                    kwargs,
                    erasure=SPEC.erasure.statements,
                    batch_size=batch_size,
                    progress=progress,
                )
            python_cpu = time.process_time() - cpu_started
            if spy is not None and profile:
                stop_profiler(*spy, profile)
            conn = await asyncpg.connect(**kwargs)
            try:
                shown = await conn.fetchval(
                    "SELECT count(*) FROM intake.clients_view WHERE client_id = ANY($1)", erased
                )
                clients = await conn.fetchval("SELECT count(*) FROM intake.clients_view")
                cases = await conn.fetchval("SELECT count(*) FROM intake.cases_view")
                sessions = await conn.fetchval("SELECT count(*) FROM intake.sessions_view")
            finally:
                await conn.close()
            assert shown == 0, f"{shown} erased clients shown"
            assert clients == copies + 1 - len(erased), (clients, copies, len(erased))
            assert cases == copies + 1, cases
            assert sessions == 2 * clients, (sessions, clients)  # two per journey, kept
        finally:
            app.close()
    raw_rate = raw_n / raw_s
    rate = rebuilt.events / rebuilt.seconds
    print(
        f"\nraw sequential read:  {raw_n:>10,} rows   in {raw_s:7.2f} s = {raw_rate:>10,.0f} rows/s"
    )
    print(
        f"rebuild intake projection: {rebuilt.events:>10,} events in {rebuilt.seconds:7.2f} s = "
        f"{rate:>10,.0f} events/s ({clients:,} clients, {cases:,} cases, {sessions:,} sessions; "
        f"{len(erased):,} erased "
        f"clients kept out; updates paused {rebuilt.paused_seconds:.2f} s)"
    )
    print(
        f"  of which: reading and decoding {rebuilt.read_seconds:.2f} s (in a thread, beside), "
        f"handlers and their statements {rebuilt.apply_seconds:.2f} s"
    )
    print(
        f"  CPU: this process {python_cpu:.1f} s ({python_cpu / rebuilt.seconds:.0%} of a core), "
        f"the database's backends {backends.seconds:.1f} s "
        f"({backends.seconds / rebuilt.seconds:.0%} of a core), of {os.cpu_count()} cores"
    )
    n = floor.events
    print(f"\nfloors ({n:,} events, each stage alone, one thread; ratio to the raw read):")
    stages: list[tuple[str, tuple[float, ...]]] = [
        ("(a) raw read", ()),
        ("(b) raw read + decode", (floor.decode,)),
        ("(c) (b) + handlers making their statements", (floor.decode, floor.handlers)),
    ]
    for label, extra in stages:
        floor_rate, floor_ratio = _ratio(raw_rate, n, *extra)
        print(f"  {label:<48} {floor_rate:>10,.0f} events/s = {floor_ratio:.3f} x")
    print(f"  {'(d) the full rebuild':<48} {rate:>10,.0f} events/s = {rate / raw_rate:.3f} x")
    print(
        f"  per event: raw read {1e6 / raw_rate:.1f} us (the rebuild's read, as objects, "
        f"{floor.read / n * 1e6:.1f} us), decode {floor.decode / n * 1e6:.1f} us, handlers "
        f"{floor.handlers / n * 1e6:.1f} us; the full rebuild {1e6 / rate:.1f} us of wall time, "
        f"{python_cpu / n * 1e6:.1f} us of this process's CPU and "
        f"{backends.seconds / n * 1e6:.1f} us of the database's"
    )
    print("rebuild planning, followup, referral projections: no events in this store")
    ratio = rate / raw_rate
    print(f"target rebuild >= 0.5 x raw read: {ratio:.3f} x  {'PASS' if ratio >= 0.5 else 'MISS'}")
    print(f"at {datetime.now(UTC).isoformat(timespec='seconds')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--profile", help="py-spy the rebuild: .data/profiles/NAME.svg and NAME.txt"
    )
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch_size, args.profile, args.py_spy))

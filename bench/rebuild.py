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
- the rebuild of each service's projection that has events (here intake's): from an
  empty shadow schema to the swap, events/s, with the erased clients kept out (checked);

and prints the ratio, against the target rebuild >= 0.5 x the raw read rate.

    .venv/bin/python -m bench.rebuild [--events 1000000] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import asyncpg
import psycopg

from bench.audit_verify import one_journey
from services.intake.application import IntakeApplication
from services.intake.main import SPEC
from services.intake.projections import IntakeProjection
from shared.messaging.reproject import rebuild_projection
from shared.privacy.sealing import SEALED_TAG, event_id, open_with_key, seal_value
from shared.runtime import key_vault
from shared.settings import PgParams, Settings, get_settings

# A uuid in a stored state: as text, or as the transcoder's hex (`uuid_hex`).
UUID_TEXT = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9a-zA-Z+/])[0-9a-f]{32}(?![0-9a-zA-Z+/])"
)
ERASED_EVERY = 100  # one client in a hundred is erased


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


async def main(total: int, batch_size: int, profile: str | None) -> None:
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
            last = [0.0]

            def progress(done: int, position: int, head: int) -> None:
                now = time.perf_counter()
                if now - last[0] >= 5:
                    last[0] = now
                    print(f"  rebuild: {done:,} / {head:,} events", flush=True)

            profiler = None
            if profile:
                from pyinstrument import Profiler  # not a dependency: pip install it to profile

                profiler = Profiler(async_mode="enabled")
                profiler.start()
            rebuilt = await rebuild_projection(
                projection,
                kwargs,
                erasure=SPEC.erasure.statements,
                batch_size=batch_size,
                progress=progress,
            )
            if profiler is not None:
                profiler.stop()
                with open(profile, "w") as out:
                    out.write(profiler.output_text(unicode=True, show_all=False))
                print(f"profile of the rebuild: {profile}")
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
    print("rebuild planning, followup, referral projections: no events in this store")
    ratio = rate / raw_rate
    print(f"target rebuild >= 0.5 x raw read: {ratio:.3f} x  {'PASS' if ratio >= 0.5 else 'MISS'}")
    print(f"at {datetime.now(UTC).isoformat(timespec='seconds')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--profile", help="Write a pyinstrument profile of the rebuild here.")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch_size, args.profile))

"""Benchmark of the audit trail's verification on a store of a million events.

Fills a fresh schema (a throwaway intake application, `bench_audit`) with realistic
stored events: one real journey (client registered with sealed personal fields, consent,
case opened, entry check, two assessments, two sessions, accepted, a recorded read) is
stored through the application, then copied with fresh client and case ids by COPY
straight into the events table. The chain is built by the real AuditTrail follower
(checkpoints signed and published to NATS), then the run measures:

- the raw read rate of the same table: a plain sequential read of every row (server-side
  cursor, binary), and the library's notification-log read (`select_notifications`, pages
  of 1,000) for reference;
- `verify`'s events/s (every link recomputed, checked against the checkpoints);
- the time to fetch one case's timeline (the events view's query and decoding).

The target: verify >= 0.5 x the raw read rate.

    .venv/bin/python -m bench.audit_verify [--events 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import nats
import psycopg

from services.intake.application import IntakeApplication
from services.intake.domain import Case
from shared.audit.access import DataAccess
from shared.audit.chain import AuditTrail, Subjects, schema_sql
from shared.audit.checkpoints import STREAM, Checkpointer, subject_for
from shared.audit.proof import Signer
from shared.audit.queries import case_events
from shared.audit.verify import verify_chain
from shared.auth import AuditScope, Principal
from shared.runtime import key_vault
from shared.settings import Settings, get_settings

# The bench reads as a supervisory authority: the timeline of every case.
EVERY_ORGANISATION = AuditScope(everyone=True)
SCHEMA = "bench_audit"
# The label its checkpoints are signed and published under: new for each run, since the
# store is rebuilt each time (and the stream's copy of another run's checkpoints would
# rightly say that this is not the chain they signed).
SERVICE = f"bench_audit-{uuid.uuid4().hex[:8]}"
SCORES = dict(
    quality_reflection=2, motive_reflection=3, work_exploration=1, career_steering=4, networking=2
)


class BenchApp(IntakeApplication):
    name = SCHEMA


def drop_schema(settings: Settings) -> None:
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')


def one_journey(app: BenchApp) -> tuple[uuid.UUID, uuid.UUID]:
    """Store one real journey through the application; its client and case ids."""
    who = Principal(sub="c.jansen", org="org-bench", roles=frozenset({"counsellor"}))
    client_id = app.register_client(
        organisation=who.org,
        actor=who.sub,
        given_name="Anna",
        family_name="de Vries",
        birth_date=date(1990, 4, 1),
        email="anna.devries@example.org",
        phone="+31 6 12345678",
        preferred_language="nl",
    )
    app.record_consent(
        client_id, organisation=who.org, actor=who.sub, purpose="guidance", granted=True
    )
    case_id = app.open_case(
        client_id=client_id,
        organisation=who.org,
        actor=who.sub,
        career_question="Ik wil van de zorg naar een baan in de techniek; wat past bij mij?",
    )

    def step(command: Any) -> None:
        app.change(lambda: app.case(case_id, who.org), None, command)

    step(lambda c, at: c.check_entry(eligible=True, notes="Gemotiveerd.", actor=who.sub, at=at))
    for assessor in ("client", "counsellor"):
        step(
            lambda c, at, a=assessor: c.record_assessment(
                assessment_id=uuid.uuid4(), assessor=a, scores=SCORES, actor=who.sub, at=at
            )
        )
    for kind in ("intake", "deepening"):
        step(
            lambda c, at, k=kind: c.hold_session(
                session_id=uuid.uuid4(), kind=k, held_at=at, minutes=60, actor=who.sub, at=at
            )
        )
    step(lambda c, at: c.decide(decision="accept", reason="Past.", actor=who.sub, at=at))
    app.save(
        DataAccess.record(
            who,
            client_id=client_id,
            case_id=case_id,
            purpose="guidance",
            resource="client",
            categories=["identity", "contact"],
            at=app.clock(),
        )
    )
    assert isinstance(app.repository.get(case_id), Case)
    return client_id, case_id


def fill(app: BenchApp, settings: Settings, total: int) -> list[uuid.UUID]:
    """Copy the stored journey with fresh ids until `total` events; the case ids."""
    client_id, case_id = one_journey(app)
    template = app.recorder.select_notifications(start=1, limit=100)
    ids = [client_id, case_id]
    cases = [case_id]
    per = len(template)
    table = f'"{SCHEMA}"."{SCHEMA}_events"'
    with psycopg.connect(settings.pg.dsn()) as conn, conn.cursor() as cur:
        with cur.copy(
            f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for _ in range((total - per) // per + 1):
                new = [uuid.uuid4(), uuid.uuid4()]
                cases.append(new[1])
                swaps = [(o.hex.encode(), n.hex.encode()) for o, n in zip(ids, new, strict=True)]
                swaps += [(str(o).encode(), str(n).encode()) for o, n in zip(ids, new, strict=True)]
                for n in template:
                    state = n.state
                    for old, fresh in swaps:
                        state = state.replace(old, fresh)
                    oid = n.originator_id
                    oid = new[0] if oid == client_id else new[1] if oid == case_id else uuid.uuid4()
                    copy.write_row((oid, n.originator_version, n.topic, state))
        conn.commit()
        conn.autocommit = True
        conn.execute(f"VACUUM ANALYZE {table}")
    return cases


async def build_chain(app: BenchApp, settings: Settings, js: Any) -> tuple[float, Checkpointer]:
    checkpoints = Checkpointer(
        SERVICE,
        settings.pg.dbname,
        SCHEMA,
        Signer(settings.audit_signing_seed),
        js,
        every=settings.audit_checkpoint_every,
    )
    trail = AuditTrail(
        app,
        settings.pg.asyncpg_kwargs(),
        checkpoints,
        subjects=Subjects(case_topics=("services.intake.domain.case:Case.",)),
        batch_size=5000,
        poll_seconds=0.2,
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(trail.run(stop))
    target = app.recorder.max_notification_id() or 0
    while trail.position < target:
        assert not task.done(), task
        await asyncio.sleep(0.2)
    took = time.perf_counter() - started
    stop.set()
    await asyncio.wait_for(task, 30)
    return took, checkpoints


def raw_read(settings: Settings) -> tuple[int, float]:
    """Every row of the events table, in position order, as a plain read."""
    started = time.perf_counter()
    n = 0
    with psycopg.connect(settings.pg.dsn()) as conn, conn.transaction():
        cur = conn.cursor(name="raw", binary=True)
        cur.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f'FROM "{SCHEMA}"."{SCHEMA}_events" ORDER BY notification_id'
        )
        while rows := cur.fetchmany(20_000):
            n += len(rows)
    return n, time.perf_counter() - started


def library_read(app: BenchApp) -> tuple[int, float]:
    """The notification log as the library reads it: pages of 1,000."""
    started = time.perf_counter()
    n, start = 0, 1
    while page := app.recorder.select_notifications(start=start, limit=1000):
        n += len(page)
        start = page[-1].id + 1
    return n, time.perf_counter() - started


async def timeline(app: BenchApp, settings: Settings, cases: list[uuid.UUID]) -> list[float]:
    pool = await asyncpg.create_pool(**settings.pg.asyncpg_kwargs(), min_size=1, max_size=2)
    took = []
    try:
        for case_id in cases:
            started = time.perf_counter()
            events = await case_events(pool, app, case_id, EVERY_ORGANISATION)
            took.append((time.perf_counter() - started) * 1000)
            assert events, case_id
    finally:
        await pool.close()
    return took


async def main(total: int, keep: bool) -> None:
    settings = get_settings().model_copy(update={"group_commit": False})
    drop_schema(settings)
    app = BenchApp(settings, key_vault(settings))
    nc = await nats.connect(settings.nats_url)
    try:
        with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
            conn.execute(schema_sql(SCHEMA))
        started = time.perf_counter()
        cases = await asyncio.to_thread(fill, app, settings, total)
        events = app.recorder.max_notification_id() or 0
        fill_s = time.perf_counter() - started
        print(f"filled {events:,} events ({len(cases):,} cases) in {fill_s:.1f} s")
        chain_s, checkpoints = await build_chain(app, settings, nc.jetstream())
        print(
            f"chain built by the AuditTrail in {chain_s:.1f} s ({events / chain_s:,.0f} events/s)"
        )

        raw_n, raw_s = await asyncio.to_thread(raw_read, settings)
        lib_n, lib_s = await asyncio.to_thread(library_read, app)
        conn = await asyncpg.connect(**settings.pg.asyncpg_kwargs())
        try:
            known, source = await checkpoints.known(conn)
        finally:
            await conn.close()
        started = time.perf_counter()
        result = await asyncio.to_thread(
            verify_chain,
            settings.pg.dsn(),
            SCHEMA,
            f"{SCHEMA}_events",
            known,
            checkpoints.signer.public_key,
        )
        verify_s = time.perf_counter() - started
        assert result.ok and result.checked == events, result
        sample = [cases[i] for i in range(0, len(cases), max(1, len(cases) // 50))]
        took = await timeline(app, settings, sample)
    finally:
        with contextlib.suppress(nats.errors.Error):
            await nc.jetstream().purge_stream(STREAM, subject=subject_for(SERVICE))
        await nc.close()
        app.close()
        if not keep:
            drop_schema(settings)

    raw_rate, lib_rate, verify_rate = raw_n / raw_s, lib_n / lib_s, result.checked / verify_s
    print(f"\nraw sequential read:      {raw_n:>10,} rows in {raw_s:6.2f} s = ", end="")
    print(f"{raw_rate:>10,.0f} rows/s")
    print(
        f"library notification log: {lib_n:>10,} rows in {lib_s:6.2f} s = {lib_rate:>10,.0f} rows/s"
    )
    print(
        f"verify:                   {result.checked:>10,} links in {verify_s:6.2f} s = "
        f"{verify_rate:>10,.0f} events/s ({result.checkpoints_checked} checkpoints from {source})"
    )
    ratio = verify_rate / raw_rate
    verdict = "PASS" if ratio >= 0.5 else "MISS"
    print(f"target verify >= 0.5 x raw read: {ratio:.2f} x  {verdict}")
    print(
        f"case timeline ({len(took)} cases, ~{events // len(cases)} events each): "
        f"median {statistics.median(took):.1f} ms, max {max(took):.1f} ms"
    )
    print(f"at {datetime.now(UTC).isoformat(timespec='seconds')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the schema afterwards.")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.keep))

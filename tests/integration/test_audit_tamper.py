"""`verify` on the real PostgreSQL and NATS: an untouched store is ok, and each kind of
tampering is reported at the first bad position.

Each test has a store of its own (a throwaway intake application in a fresh schema,
whose checkpoints are signed under its own name), so tampering never reaches another
test; the schema is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import psycopg
import pytest

from services.intake.application import IntakeApplication
from services.intake.main import AUDIT_SUBJECTS
from shared.audit.chain import AuditTrail
from shared.audit.checkpoints import Checkpointer
from shared.audit.proof import Signer, link_hash, link_payload, state_digest
from shared.audit.queries import events_table
from shared.audit.verify import Verification, verify_chain
from shared.runtime import key_vault
from shared.settings import Settings

EVERY = 5  # a checkpoint every five links


@dataclass
class Store:
    app: IntakeApplication
    trail: AuditTrail
    checkpoints: Checkpointer
    settings: Settings
    schema: str
    table: str

    def sql(self, statement: str, *args: Any) -> list[Any]:
        statement = statement.replace("{events}", f'"{self.schema}"."{self.table}"')
        statement = statement.replace("{chain}", f'"{self.schema}".audit_chain')
        with psycopg.connect(self.settings.pg.dsn(), autocommit=True) as conn:
            cur = conn.execute(statement, args)
            return cur.fetchall() if cur.description else []

    def positions(self) -> list[int]:
        return [r[0] for r in self.sql("SELECT position FROM {chain} ORDER BY position")]

    def position_of(self, topic_end: str, nth: int = 0) -> int:
        rows = self.sql(
            "SELECT position FROM {chain} WHERE topic LIKE %s ORDER BY position", f"%{topic_end}"
        )
        return int(rows[nth][0])

    async def verify(self, *, with_checkpoints: bool = True) -> Verification:
        found: list[Any] = []
        if with_checkpoints:
            conn = await asyncpg.connect(**self.settings.pg.asyncpg_kwargs())
            try:
                found, source = await self.checkpoints.known(conn)
            finally:
                await conn.close()
            assert source == "nats"
        return await self.verify_against(found)

    async def verify_against(self, checkpoints: list[Any]) -> Verification:
        return await asyncio.to_thread(
            verify_chain,
            self.settings.pg.dsn(),
            self.schema,
            self.table,
            checkpoints,
            self.checkpoints.signer.public_key,
        )

    async def chain_up(self) -> None:
        """Run the AuditTrail until it has linked everything stored."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.trail.run(stop))
        try:
            target = self.app.recorder.max_notification_id() or 0
            assert await self.trail.wait_until(target, timeout=15), "the chain did not catch up"
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


def fill(app: IntakeApplication, clients: int = 4) -> None:
    """Per client: registered, consented, a case opened, its entry checked (4 events)."""
    for i in range(clients):
        client_id = app.register_client(
            organisation="org-t",
            actor="c.test",
            given_name=f"Given{i}",
            family_name=f"Family{i}",
            birth_date=date(1990, 1, 1 + i),
            email=f"client{i}@example.org",
        )
        app.record_consent(
            client_id, organisation="org-t", actor="c.test", purpose="guidance", granted=True
        )
        case_id = app.open_case(
            client_id=client_id, organisation="org-t", actor="c.test", career_question=f"Q{i}?"
        )
        app.change(
            lambda case_id=case_id: app.case(case_id, "org-t"),
            None,
            lambda case, at: case.check_entry(eligible=True, notes="ok", actor="c.test", at=at),
        )


@pytest.fixture
async def store(settings: Settings, js: Any) -> AsyncIterator[Store]:
    name = f"audit_t_{uuid.uuid4().hex[:10]}"
    cls = type("TamperTestApp", (IntakeApplication,), {"name": name})
    app: IntakeApplication = await asyncio.to_thread(cls, settings, key_vault(settings))
    schema, table = events_table(app)
    checkpoints = Checkpointer(
        name, settings.pg.dbname, schema, Signer(settings.audit_signing_seed), js, every=EVERY
    )
    trail = AuditTrail(
        app,
        settings.pg.asyncpg_kwargs(),
        checkpoints,
        subjects=AUDIT_SUBJECTS,
        batch_size=7,
        poll_seconds=0.1,
    )
    s = Store(app, trail, checkpoints, settings, schema, table)
    try:
        await asyncio.to_thread(fill, app)
        await s.chain_up()
        yield s
    finally:
        app.close()
        s.sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_an_untouched_store_verifies_with_its_checkpoints(store: Store) -> None:
    result = await store.verify()

    assert result.ok, result
    assert result.checked == 16 == len(store.positions())
    assert result.checkpoints_checked == 16 // EVERY
    assert result.unchained == 0
    assert result.first_bad_position is None


async def test_events_not_yet_linked_are_counted_not_reported(store: Store) -> None:
    await asyncio.to_thread(fill, store.app, 1)

    result = await store.verify()

    assert result.ok, result
    assert (result.checked, result.unchained) == (16, 4)


async def test_gaps_in_the_positions_are_followed(store: Store) -> None:
    # A rolled-back transaction leaves a gap in the notification ids.
    store.sql(
        "SELECT nextval(pg_get_serial_sequence(%s, 'notification_id'))",
        f'"{store.schema}"."{store.table}"',
    )
    await asyncio.to_thread(fill, store.app, 1)
    await store.chain_up()

    positions = store.positions()
    result = await store.verify()

    assert positions[-4] == positions[-5] + 2
    assert result.ok and result.checked == 20, result


async def test_one_changed_byte_of_a_stored_state_is_found_at_its_position(store: Store) -> None:
    bad = store.position_of("Case.Opened", 1)
    store.sql(
        "UPDATE {events} SET state = set_byte(state, 20, (get_byte(state, 20) + 1) %% 256) "
        "WHERE notification_id = %s",
        bad,
    )

    result = await store.verify()

    assert (result.ok, result.first_bad_position) == (False, bad), result
    assert result.checked == store.positions().index(bad)
    assert "does not match its link" in (result.reason or "")


async def test_a_deleted_event_is_found_at_its_position(store: Store) -> None:
    bad = store.position_of("Client.ConsentGranted", 2)
    store.sql("DELETE FROM {events} WHERE notification_id = %s", bad)

    result = await store.verify()

    assert (result.ok, result.first_bad_position) == (False, bad), result
    assert "has no event" in (result.reason or "")


async def test_two_swapped_ciphertexts_are_found_at_the_first_of_them(store: Store) -> None:
    first = store.position_of("Client.Registered", 1)
    second = store.position_of("Client.Registered", 3)
    store.sql(
        "UPDATE {events} e SET state = o.state FROM {events} o "
        "WHERE (e.notification_id, o.notification_id) IN ((%s, %s), (%s, %s))",
        first,
        second,
        second,
        first,
    )

    result = await store.verify()

    assert (result.ok, result.first_bad_position) == (False, first), result


@pytest.mark.parametrize("column", ["hash", "prev_hash"])
async def test_a_rewritten_link_is_found_at_its_position(store: Store, column: str) -> None:
    bad = store.positions()[9]
    store.sql(f"UPDATE {{chain}} SET {column} = sha256({column}) WHERE position = %s", bad)

    result = await store.verify(with_checkpoints=False)

    assert (result.ok, result.first_bad_position) == (False, bad), result


async def test_a_removed_link_is_found_at_its_event(store: Store) -> None:
    bad = store.positions()[3]
    store.sql("DELETE FROM {chain} WHERE position = %s", bad)

    result = await store.verify()

    assert (result.ok, result.first_bad_position) == (False, bad), result
    assert "has no link" in (result.reason or "")


async def test_a_rewrite_of_an_event_and_every_following_link_is_caught_by_a_checkpoint(
    store: Store,
) -> None:
    positions = store.positions()
    bad = positions[6]  # between the checkpoints at the 5th and the 10th link
    store.sql(
        "UPDATE {events} SET state = set_byte(state, 20, (get_byte(state, 20) + 1) %% 256) "
        "WHERE notification_id = %s",
        bad,
    )
    # The forger recomputes every link from the changed event on, consistently.
    rows = store.sql(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {events} "
        "WHERE notification_id >= %s ORDER BY notification_id",
        bad,
    )
    prev = bytes(store.sql("SELECT hash FROM {chain} WHERE position = %s", positions[5])[0][0])
    for position, oid, version, topic, state in rows:
        new = link_hash(prev, link_payload(position, oid, version, topic, state_digest(state)))
        store.sql(
            "UPDATE {chain} SET prev_hash = %s, hash = %s WHERE position = %s", prev, new, position
        )
        prev = new

    without = await store.verify(with_checkpoints=False)
    result = await store.verify()

    assert without.ok, "the links alone are consistent again"
    assert (result.ok, result.first_bad_position) == (False, positions[9]), result
    assert f"after position {positions[4]}" in (result.reason or "")


async def test_a_store_cut_short_with_its_links_is_caught_by_a_later_checkpoint(
    store: Store,
) -> None:
    positions = store.positions()
    store.sql("DELETE FROM {events} WHERE notification_id >= %s", positions[12])
    store.sql("DELETE FROM {chain} WHERE position >= %s", positions[12])

    result = await store.verify()

    assert (result.ok, result.first_bad_position) == (False, positions[14]), result
    assert "beyond the chain's head" in (result.reason or "")


async def test_a_checkpoint_whose_signature_does_not_verify_is_reported(store: Store) -> None:
    bad = store.positions()[4]
    store.sql(
        f'UPDATE "{store.schema}".audit_checkpoints SET signature = sha512(signature) '
        "WHERE position = %s",
        bad,
    )
    conn = await asyncpg.connect(**store.settings.pg.asyncpg_kwargs())
    try:
        stored = await store.checkpoints.stored(conn)
    finally:
        await conn.close()

    from_stream = await store.verify()
    from_database = await store.verify_against(stored)

    assert from_stream.ok, "the stream's copy wins over the database's"
    assert (from_database.ok, from_database.first_bad_position) == (False, bad), from_database
    assert "no valid signature" in (from_database.reason or "")


async def test_an_event_that_does_not_decode_is_linked_all_the_same(store: Store) -> None:
    store.sql(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (%s, 1, 'services.intake.domain:Case.Opened', 'not json')",
        uuid.uuid4(),
    )
    await asyncio.to_thread(fill, store.app, 1)
    await store.chain_up()

    result = await store.verify()

    assert result.ok and result.checked == 21, result

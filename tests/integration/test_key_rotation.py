"""Rotating the master key online, on the real PostgreSQL: a vault given the previous key
reads what it wrapped, `waypoint keys rotate` re-wraps those keys under the current one in
batches (again and again safely), destroyed keys stay destroyed, and a key under neither
master key fails the command."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from typer.testing import CliRunner

from shared.cli import app as cli
from shared.privacy import KeyVault
from tests.conftest import DEFAULT_DB, fresh_database

A, B = os.urandom(32), os.urandom(32)


@pytest.fixture
def dsn() -> Iterator[str]:
    """A database of its own: the rotation goes over every row of the vault."""
    base = os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)
    with fresh_database(base, "waypoint_rotate") as url:
        yield url


@pytest.fixture
def vault(dsn: str) -> Iterator[Callable[..., KeyVault]]:
    """Vaults on the test's database (as processes with these keys would have), closed
    at the end."""
    opened: list[KeyVault] = []

    def open_vault(current: bytes, previous: bytes | None = None) -> KeyVault:
        opened.append(KeyVault(dsn, current, previous_key=previous, cache_seconds=0.0, max_size=1))
        return opened[-1]

    yield open_vault
    for v in opened:
        v.close()


def waypoint(dsn: str, *args: str, previous: bytes | None = A) -> tuple[int, str]:
    env = {
        "GUIDANCE_DATABASE_URL": dsn,
        "GUIDANCE_AUTH_MODE": "dev",
        "GUIDANCE_MASTER_KEY": base64.b64encode(B).decode(),
        "GUIDANCE_MASTER_KEY_PREVIOUS": base64.b64encode(previous).decode() if previous else "",
    }
    result = CliRunner().invoke(cli, ["keys", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


def wrapped(dsn: str, client_id: uuid.UUID) -> bytes | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT wrapped_key FROM vault.client_keys WHERE client_id = %s", (client_id,)
        ).fetchone()
    assert row is not None
    return bytes(row[0]) if row[0] is not None else None


def test_keys_wrapped_by_the_old_master_key_are_read_then_rewrapped_online(
    dsn: str, vault: Callable[..., KeyVault]
) -> None:
    old = vault(A)
    clients = [uuid.uuid4() for _ in range(23)]
    keys = {c: old.key_for(c, create=True) for c in clients}
    assert all(k is not None and len(k) == 32 for k in keys.values())
    erased = clients[0]
    assert old.destroy(erased, by="tester", reason="erasure request")

    # The Deployments rolled with B as the key and A as the previous one: everything reads.
    rotating = vault(B, A)
    for c in clients[1:]:
        assert rotating.key_for(c) == keys[c]
    assert rotating.keys_for(clients) == {**keys, erased: None}
    assert rotating.key_for(erased) is None
    # A new client's key is wrapped by B already (as if a rotation had been interrupted
    # half-way: some rows under B, the rest under A).
    newcomer = uuid.uuid4()
    keys[newcomer] = rotating.key_for(newcomer, create=True)
    assert vault(B).key_for(newcomer) == keys[newcomer]
    # Without the previous key, B alone does not read A's rows yet.
    with pytest.raises(InvalidTag):
        vault(B).key_for(clients[1])

    before = {c: wrapped(dsn, c) for c in clients[1:]}
    assert waypoint(dsn, "status") == (0, "current: 1, previous: 22, unknown: 0, destroyed: 1")
    code, out = waypoint(dsn, "rotate", "--batch", "5")
    assert (code, out) == (0, "re-wrapped: 22, already current: 1, destroyed: 1"), out
    assert all(wrapped(dsn, c) != before[c] for c in clients[1:])
    assert waypoint(dsn, "status") == (0, "current: 23, previous: 0, unknown: 0, destroyed: 1")

    # PREVIOUS removed: B alone reads every key, the same data keys as before.
    only_new = vault(B)
    for c in [*clients[1:], newcomer]:
        assert only_new.key_for(c) == keys[c]
    assert only_new.key_for(erased) is None
    with pytest.raises(InvalidTag):
        vault(A).key_for(clients[1])
    # The destroyed key stayed destroyed, with its record.
    assert wrapped(dsn, erased) is None
    destruction = only_new.destruction(erased)
    assert destruction is not None and destruction["reason"] == "erasure request"

    # A second run (or one after an interruption) has nothing left to do.
    again = {c: wrapped(dsn, c) for c in clients[1:]}
    assert waypoint(dsn, "rotate") == (0, "re-wrapped: 0, already current: 23, destroyed: 1")
    assert {c: wrapped(dsn, c) for c in clients[1:]} == again


def test_a_key_under_neither_master_key_fails_the_rotation_and_is_left_alone(
    dsn: str, vault: Callable[..., KeyVault]
) -> None:
    old = vault(A)
    ours = [uuid.uuid4() for _ in range(3)]
    for c in ours:
        old.key_for(c, create=True)
    stranger = uuid.uuid4()
    vault(os.urandom(32)).key_for(stranger, create=True)
    strange = wrapped(dsn, stranger)

    code, out = waypoint(dsn, "rotate", "--batch", "2")
    assert code == 1, out
    assert "re-wrapped: 3, already current: 0, destroyed: 0" in out
    assert (
        f"1 client key(s) open with neither GUIDANCE_MASTER_KEY nor "
        f"GUIDANCE_MASTER_KEY_PREVIOUS (left as they are): {stranger}" in out
    )
    assert wrapped(dsn, stranger) == strange
    assert waypoint(dsn, "status") == (0, "current: 3, previous: 0, unknown: 1, destroyed: 0")


def test_rotate_without_a_previous_key_says_what_to_set(
    dsn: str, vault: Callable[..., KeyVault]
) -> None:
    code, out = waypoint(dsn, "rotate", previous=None)
    assert code == 2
    assert "GUIDANCE_MASTER_KEY_PREVIOUS is not set" in out


def test_a_database_that_does_not_answer_is_one_line_and_exit_1() -> None:
    dsn = "postgresql://postgres@127.0.0.1:9/nowhere"  # the discard port: nothing listens
    code, out = waypoint(dsn, "status")
    assert code == 1
    assert out.startswith("cannot reach PostgreSQL at 127.0.0.1:9/nowhere"), out

"""The key vault: one AES-256 data key per client, wrapped by the master key.

All services share the vault table (schema `vault`). Destroying a client's key is
the erasure ("crypto-shredding"): every sealed copy of that client's data, in any
event store, stream or backup, becomes unreadable at once.

Each process caches unwrapped keys for `cache_seconds`. With several processes (replicas)
a key destroyed in one would stay usable in the others' caches until then: so a destroy
is announced (`announce_with`; `shared/privacy/broadcast.py` sends it over NATS to every
process, whose vault then `forget`s the key), and the cache's time limit bounds the
window should an announcement be lost.

The master key can be rotated online: a vault given the previous master key as well
unwraps with the current one and, should that fail, with the previous one; it always
wraps with the current one. `rotate` re-wraps the rows still under the previous key (the
data keys themselves do not change, so nothing sealed with them, nor any cache, is
touched); once none is left the previous key can go.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import ConnectionPool, PoolTimeout

T = TypeVar("T")
log = logging.getLogger(__name__)

# What a personal field reads as once its client's key is destroyed.
ERASED = "ERASED"

_SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS vault;
CREATE TABLE IF NOT EXISTS vault.client_keys (
    client_id uuid PRIMARY KEY,
    wrapped_key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    destroyed_by text,
    reason text
);
"""


@dataclass
class Rotation:
    """What `KeyVault.rotate` found: rows re-wrapped from the previous master key to the
    current one, rows already under the current one, destroyed keys (left as they are),
    and the clients whose key neither master key unwraps."""

    rewrapped: int = 0
    current: int = 0
    destroyed: int = 0
    unreadable: list[uuid.UUID] = field(default_factory=list)


class KeyVault:
    """Creates, unwraps, caches and destroys per-client data keys (synchronous, psycopg)."""

    def __init__(
        self,
        dsn: str,
        master_key: bytes,
        *,
        previous_key: bytes | None = None,
        cache_seconds: float = 5.0,
        max_size: int = 4,
    ) -> None:
        if len(master_key) != 32:
            raise ValueError("master key must be 32 bytes")
        if previous_key is not None and len(previous_key) != 32:
            raise ValueError("previous master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self._previous = AESGCM(previous_key) if previous_key is not None else None
        # A connection that died while idle (a restarted server, a terminated backend) is
        # found out when it is handed over, not by the query that meets it; and a caller
        # waits a few seconds for one at most (then the outage is the caller's 503).
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=True,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,
            timeout=5.0,
        )
        self._cache: dict[uuid.UUID, tuple[bytes | None, float]] = {}
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._generation = 0
        self._announcers: list[Callable[[uuid.UUID], None]] = []
        with self._pool.connection() as conn:
            # Serialise the DDL: several services may start at once.
            conn.execute("SELECT pg_advisory_lock(7420001)")
            try:
                conn.execute(_SCHEMA_SQL)
            finally:
                conn.execute("SELECT pg_advisory_unlock(7420001)")

    def close(self) -> None:
        self._pool.close()

    @property
    def closed(self) -> bool:
        return bool(self._pool.closed)

    def _retry(self, work: Callable[[], T]) -> T:
        """Run `work` again once should its connection die under it (between the pool's
        check and the query); each unit of work here is idempotent."""
        try:
            return work()
        except PoolTimeout:
            raise  # no connection to be had: waiting again would only double the wait
        except psycopg.OperationalError:
            return work()

    # -- keys ---------------------------------------------------------------------------
    def key_for(self, client_id: uuid.UUID, *, create: bool = False) -> bytes | None:
        """The client's data key; None once destroyed (or absent and not to be created)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(client_id)
            generation = self._generation
        if hit is not None and (now - hit[1] < self._cache_seconds or hit[0] is None):
            # A destroyed key never comes back, so a None is cached for good.
            return hit[0]
        wrapped = self._retry(lambda: self._fetch(client_id, create=create))
        key = self._unwrap(client_id, wrapped) if wrapped is not None else None
        if key is not None or self._retry(lambda: self._is_destroyed(client_id, wrapped, create)):
            self._remember(client_id, key, now, generation)
        return key

    def _remember(
        self, client_id: uuid.UUID, key: bytes | None, at: float, generation: int
    ) -> None:
        """Cache what a fetch that began at `generation` found, unless a key was forgotten
        since (it may have been read just before its destruction was announced) or the
        key is known destroyed here."""
        with self._lock:
            if key is not None:
                if generation != self._generation:
                    return
                known = self._cache.get(client_id)
                if known is not None and known[0] is None:
                    return
            self._cache[client_id] = (key, at)

    def keys_for(self, client_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bytes | None]:
        """Several clients' data keys, those not cached fetched in one query (none is
        created); None for a destroyed (or unknown) key. Cached like `key_for`'s."""
        now = time.monotonic()
        found: dict[uuid.UUID, bytes | None] = {}
        missing: list[uuid.UUID] = []
        with self._lock:
            generation = self._generation
            for client_id in dict.fromkeys(client_ids):
                hit = self._cache.get(client_id)
                if hit is not None and (now - hit[1] < self._cache_seconds or hit[0] is None):
                    found[client_id] = hit[0]
                else:
                    missing.append(client_id)
        if not missing:
            return found

        def fetch() -> dict[uuid.UUID, tuple[bytes | None, bool]]:
            with self._pool.connection() as conn:
                rows = conn.execute(
                    "SELECT client_id, wrapped_key, destroyed_at IS NOT NULL "
                    "FROM vault.client_keys WHERE client_id = ANY(%s)",
                    (missing,),
                ).fetchall()
            return {r[0]: (bytes(r[1]) if r[1] is not None else None, bool(r[2])) for r in rows}

        rows = self._retry(fetch)
        for client_id in missing:
            wrapped, destroyed = rows.get(client_id, (None, False))
            key = self._unwrap(client_id, wrapped) if wrapped is not None else None
            if key is not None or destroyed:
                self._remember(client_id, key, now, generation)
            found[client_id] = key
        return found

    def destroyed_clients(self) -> list[uuid.UUID]:
        """Every client whose key is destroyed (the erased clients), in one query."""

        def fetch() -> list[uuid.UUID]:
            with self._pool.connection() as conn:
                rows = conn.execute(
                    "SELECT client_id FROM vault.client_keys WHERE destroyed_at IS NOT NULL"
                ).fetchall()
            return [r[0] for r in rows]

        return self._retry(fetch)

    def _is_destroyed(self, client_id: uuid.UUID, wrapped: bytes | None, create: bool) -> bool:
        if wrapped is not None:
            return False
        if create:
            return True  # the row exists (we just upserted it) and holds no key
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT destroyed_at FROM vault.client_keys WHERE client_id = %s", (client_id,)
            ).fetchone()
        return row is not None and row[0] is not None

    def _fetch(self, client_id: uuid.UUID, *, create: bool) -> bytes | None:
        with self._pool.connection() as conn:
            if create:
                fresh = self._wrap(client_id, AESGCM.generate_key(bit_length=256))
                # Upsert that returns the existing row untouched when there is one, so
                # concurrent first seals agree on one key and a destroyed key stays gone.
                row = conn.execute(
                    "INSERT INTO vault.client_keys (client_id, wrapped_key) VALUES (%s, %s) "
                    "ON CONFLICT (client_id) DO UPDATE SET client_id = EXCLUDED.client_id "
                    "RETURNING wrapped_key",
                    (client_id, fresh),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT wrapped_key FROM vault.client_keys WHERE client_id = %s",
                    (client_id,),
                ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def destroy(self, client_id: uuid.UUID, *, by: str, reason: str) -> bool:
        """Destroy the client's key for good; True if this call destroyed a key. Idempotent.

        Announced every time (once destroyed), so that a destroy repeated after the first
        one's process died before announcing it announces it still."""
        destroyed = self._retry(lambda: self._destroy(client_id, by=by, reason=reason))
        self._announce(client_id)
        return destroyed

    def announce_with(self, announce: Callable[[uuid.UUID], None]) -> Callable[[], None]:
        """Have `announce(client_id)` called after each destroy (the latest of those given
        and not withdrawn: one announcement per destroy, whatever the services sharing
        this vault); the function that withdraws it."""
        with self._lock:
            self._announcers.append(announce)

        def withdraw() -> None:
            with self._lock:
                if announce in self._announcers:
                    self._announcers.remove(announce)

        return withdraw

    def _announce(self, client_id: uuid.UUID) -> None:
        with self._lock:
            announce = self._announcers[-1] if self._announcers else None
        if announce is None:
            return
        try:
            announce(client_id)
        except Exception:
            # The key is destroyed all the same; the others' caches expire within
            # `cache_seconds`.
            log.warning("the destroyed key of %s was not announced", client_id, exc_info=True)

    def _destroy(self, client_id: uuid.UUID, *, by: str, reason: str) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            prior = conn.execute(
                "SELECT wrapped_key FROM vault.client_keys WHERE client_id = %s FOR UPDATE",
                (client_id,),
            ).fetchone()
            conn.execute(
                "INSERT INTO vault.client_keys "
                "(client_id, wrapped_key, destroyed_at, destroyed_by, reason) "
                "VALUES (%(id)s, NULL, %(at)s, %(by)s, %(reason)s) "
                "ON CONFLICT (client_id) DO UPDATE SET wrapped_key = NULL, "
                "destroyed_at = COALESCE(vault.client_keys.destroyed_at, EXCLUDED.destroyed_at), "
                "destroyed_by = COALESCE(vault.client_keys.destroyed_by, EXCLUDED.destroyed_by), "
                "reason = COALESCE(vault.client_keys.reason, EXCLUDED.reason)",
                {"id": client_id, "at": datetime.now(UTC), "by": by, "reason": reason},
            )
        with self._lock:
            self._cache[client_id] = (None, time.monotonic())
        return bool(prior and prior[0] is not None)

    def forget(self, client_id: uuid.UUID) -> None:
        """Drop the cached key: the next use asks the vault (after another process
        destroyed it, this one must not go on using its cached copy). A fetch under way
        meanwhile does not cache what it read."""
        with self._lock:
            self._generation += 1
            hit = self._cache.get(client_id)
            if hit is not None and hit[0] is not None:
                # A known destruction stays known: destroyed keys never come back.
                del self._cache[client_id]

    def destruction(self, client_id: uuid.UUID) -> dict[str, Any] | None:
        """When, by whom and why the client's key was destroyed; None while it exists."""
        return self._retry(lambda: self._destruction(client_id))

    def _destruction(self, client_id: uuid.UUID) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT destroyed_at, destroyed_by, reason FROM vault.client_keys "
                "WHERE client_id = %s AND destroyed_at IS NOT NULL",
                (client_id,),
            ).fetchone()
        if row is None:
            return None
        return {
            "key_id": client_id,
            "destroyed_at": row[0],
            "destroyed_by": row[1],
            "reason": row[2],
        }

    # -- rotation -----------------------------------------------------------------------
    def rotate(self, *, batch: int = 500) -> Rotation:
        """Re-wrap under the current master key every client key still wrapped by the
        previous one, `batch` rows per transaction (in client id order, the rows locked
        while they are re-wrapped, so a concurrent destroy waits for them).
        Idempotent and resumable: a row already under the current key is left as it is,
        and so is a destroyed key. A row neither key unwraps is reported, not changed."""
        if self._previous is None:
            raise ValueError("no previous master key to rotate from")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        report = Rotation()
        after: uuid.UUID | None = None
        while True:
            last = self._retry(functools.partial(self._rotate_batch, after, batch, report))
            if last is None:
                return report
            after = last

    def _rotate_batch(
        self, after: uuid.UUID | None, batch: int, report: Rotation
    ) -> uuid.UUID | None:
        """One transaction of `rotate`: the rows after `after`; the last one's id, or None
        when there was none. The counts go into `report` only once the batch committed
        (a batch retried on a new connection counts once)."""
        found = Rotation()
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(_page(after, lock=True), (after, batch)).fetchall()
            for client_id, stored in rows:
                if stored is None:
                    found.destroyed += 1
                    continue
                wrapped = bytes(stored)
                if self._opens(self._master, client_id, wrapped) is not None:
                    found.current += 1
                    continue
                key = self._opens(self._previous, client_id, wrapped)
                if key is None:
                    found.unreadable.append(client_id)
                    continue
                conn.execute(
                    "UPDATE vault.client_keys SET wrapped_key = %s WHERE client_id = %s",
                    (self._wrap(client_id, key), client_id),
                )
                found.rewrapped += 1
        report.rewrapped += found.rewrapped
        report.current += found.current
        report.destroyed += found.destroyed
        report.unreadable.extend(found.unreadable)
        return rows[-1][0] if rows else None

    def wrapping_keys(self) -> dict[str, int]:
        """How many rows are wrapped by the current master key (`current`), by the
        previous one (`previous`), by neither (`unknown`), and destroyed (`destroyed`)."""
        counts = {"current": 0, "previous": 0, "unknown": 0, "destroyed": 0}
        after: uuid.UUID | None = None
        while True:
            with self._pool.connection() as conn:
                rows = conn.execute(_page(after, lock=False), (after, 1000)).fetchall()
            if not rows:
                return counts
            for client_id, stored in rows:
                if stored is None:
                    counts["destroyed"] += 1
                elif self._opens(self._master, client_id, bytes(stored)) is not None:
                    counts["current"] += 1
                elif self._opens(self._previous, client_id, bytes(stored)) is not None:
                    counts["previous"] += 1
                else:
                    counts["unknown"] += 1
            after = rows[-1][0]

    # -- wrapping -----------------------------------------------------------------------
    def _wrap(self, client_id: uuid.UUID, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, key, b"waypoint-dek|" + client_id.bytes)

    def _unwrap(self, client_id: uuid.UUID, wrapped: bytes) -> bytes:
        """The data key, unwrapped by the current master key, else (during a rotation) by
        the previous one; InvalidTag when neither unwraps it."""
        aad = b"waypoint-dek|" + client_id.bytes
        try:
            return self._master.decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            if self._previous is None:
                raise
            return self._previous.decrypt(wrapped[:12], wrapped[12:], aad)

    @staticmethod
    def _opens(master: AESGCM | None, client_id: uuid.UUID, wrapped: bytes) -> bytes | None:
        """The data key if `master` unwraps `wrapped`, else None."""
        if master is None:
            return None
        try:
            return master.decrypt(wrapped[:12], wrapped[12:], b"waypoint-dek|" + client_id.bytes)
        except InvalidTag:
            return None


def _page(after: uuid.UUID | None, *, lock: bool) -> str:
    """The query of a page of rows in client id order after `after` (from the first row
    when None); its parameters: (after, the page's size)."""
    where = "client_id > %s" if after is not None else "%s::uuid IS NULL"
    return (
        f"SELECT client_id, wrapped_key FROM vault.client_keys WHERE {where} "
        "ORDER BY client_id LIMIT %s" + (" FOR UPDATE" if lock else "")
    )


class MemoryKeyVault(KeyVault):
    """The key vault with its table in this process's memory: for an application on the
    library's in-memory persistence (unit tests of use cases and reactions). The keys are
    wrapped, sealed, opened and destroyed exactly as in PostgreSQL; only the rows live in
    a dict, and they are gone with the process."""

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master = AESGCM(master_key or AESGCM.generate_key(bit_length=256))
        self._previous = None
        self._cache = {}
        self._cache_seconds = 0.0
        self._lock = threading.Lock()
        self._generation = 0
        self._announcers = []
        # client_id -> (wrapped key or None, destroyed_at, destroyed_by, reason)
        self._rows: dict[uuid.UUID, tuple[bytes | None, datetime | None, str, str]] = {}

    def close(self) -> None:
        return None

    @property
    def closed(self) -> bool:
        return False

    def _fetch(self, client_id: uuid.UUID, *, create: bool) -> bytes | None:
        with self._lock:
            if create and client_id not in self._rows:
                fresh = self._wrap(client_id, AESGCM.generate_key(bit_length=256))
                self._rows[client_id] = (fresh, None, "", "")
            row = self._rows.get(client_id)
        return row[0] if row else None

    def _is_destroyed(self, client_id: uuid.UUID, wrapped: bytes | None, create: bool) -> bool:
        row = self._rows.get(client_id)
        return row is not None and row[1] is not None

    def keys_for(self, client_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bytes | None]:
        return {client_id: self.key_for(client_id) for client_id in dict.fromkeys(client_ids)}

    def destroyed_clients(self) -> list[uuid.UUID]:
        with self._lock:
            return [client_id for client_id, row in self._rows.items() if row[1] is not None]

    def _destroy(self, client_id: uuid.UUID, *, by: str, reason: str) -> bool:
        with self._lock:
            prior = self._rows.get(client_id)
            if prior is not None and prior[1] is not None:
                return False
            self._rows[client_id] = (None, datetime.now(UTC), by, reason)
            self._cache[client_id] = (None, time.monotonic())
        return prior is not None and prior[0] is not None

    def _destruction(self, client_id: uuid.UUID) -> dict[str, Any] | None:
        row = self._rows.get(client_id)
        if row is None or row[1] is None:
            return None
        return {
            "key_id": client_id,
            "destroyed_at": row[1],
            "destroyed_by": row[2],
            "reason": row[3],
        }

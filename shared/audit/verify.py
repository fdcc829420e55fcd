"""Verification of a service's hash chain against its stored events and checkpoints.

One read-only REPEATABLE READ transaction (one snapshot of events and links) streams
the events table and `audit_chain`, both in position order through server-side
cursors, and walks them side by side: every link must have its event, every event
up to the chain's head must have its link, each link's `prev_hash` must be the
recomputed hash of the link before it, and its `hash` must recompute from that and
the stored event. PostgreSQL builds each event's canonical bytes (the SHA-256 of the
state included) in the same query, so only ~100 bytes a row cross the wire and the
Python loop does one SHA-256 per link. Signed checkpoints (signature checked with the
public key) must name a position on the chain whose recomputed hash they signed: that
catches a rewrite of an event together with every link after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from hashlib import sha256
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg.sql import SQL, Identifier

from shared.audit.proof import GENESIS, Checkpoint

# The canonical bytes of proof.link_payload, built by the server from the stored row.
EVENTS_SQL = SQL(
    "SELECT notification_id, int8send(notification_id) || uuid_send(originator_id) "
    "|| int8send(originator_version) || int4send(octet_length(topic)) "
    "|| convert_to(topic, 'UTF8') || sha256(coalesce(state, ''::bytea)) "
    "FROM {schema}.{table} ORDER BY notification_id"
)
CHAIN_SQL = SQL("SELECT position, prev_hash, hash FROM {schema}.audit_chain ORDER BY position")
UNCHAINED_SQL = SQL("SELECT count(*) FROM {schema}.{table} WHERE notification_id > %s")


@dataclass
class Verification:
    ok: bool
    checked: int
    unchained: int = 0
    checkpoints_checked: int = 0
    first_bad_position: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class _Bad(Exception):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position, self.reason = position, reason


def _rows(cursor: psycopg.Cursor[Any], size: int) -> Iterator[Any]:
    while rows := cursor.fetchmany(size):
        yield from rows


def verify_chain(
    dsn: str,
    schema: str,
    events_table: str,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    *,
    batch_size: int = 20_000,
) -> Verification:
    """Recompute every link of the chain and compare; the first bad position and why."""
    signed: dict[int, bytes] = {}
    for checkpoint in sorted(checkpoints, key=lambda c: c.position):
        if public_key is None or not checkpoint.verifies(public_key):
            return Verification(
                False,
                0,
                first_bad_position=checkpoint.position,
                reason=f"the checkpoint at position {checkpoint.position} has no valid signature",
            )
        signed[checkpoint.position] = checkpoint.hash
    names = {"schema": Identifier(schema), "table": Identifier(events_table)}
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            events = conn.cursor(name="audit_events", binary=True)
            links = conn.cursor(name="audit_links", binary=True)
            events.itersize = links.itersize = batch_size
            events.execute(EVENTS_SQL.format(**names))
            links.execute(CHAIN_SQL.format(**names))
            walk = _Walk(signed)
            try:
                walk.run(_rows(events, batch_size), _rows(links, batch_size))
            except _Bad as bad:
                return Verification(
                    False,
                    walk.checked,
                    checkpoints_checked=walk.checkpoints_checked,
                    first_bad_position=bad.position,
                    reason=bad.reason,
                )
            events.close()
            links.close()
            row = conn.execute(UNCHAINED_SQL.format(**names), (walk.head,)).fetchone()
    return Verification(
        True,
        walk.checked,
        unchained=int(row[0]) if row else 0,
        checkpoints_checked=walk.checkpoints_checked,
    )


class _Walk:
    """The side-by-side walk of events and links (raises _Bad at the first fault)."""

    def __init__(self, signed: dict[int, bytes]) -> None:
        self.signed = signed
        self.pending = sorted(signed)  # checkpoint positions not yet reached
        self.checked = 0
        self.checkpoints_checked = 0
        self.head = 0
        self.last_good_checkpoint = 0

    def run(self, events: Iterator[Any], links: Iterator[Any]) -> None:
        prev = GENESIS
        signed, pending = self.signed, self.pending
        event = next(events, None)
        for position, prev_hash, hash_ in links:
            if event is not None and event[0] < position:
                raise _Bad(event[0], f"the event at position {event[0]} has no link")
            if event is None or event[0] != position:
                raise _Bad(position, f"the link at position {position} has no event (deleted?)")
            if pending and pending[0] <= position:
                self._reached(position)
            if prev_hash != prev:
                raise _Bad(
                    position,
                    f"the link at position {position} does not follow the link before it "
                    "(its prev_hash was rewritten)",
                )
            expected = sha256(prev + event[1]).digest()
            if expected != hash_:
                raise _Bad(
                    position,
                    f"the stored event at position {position} does not match its link "
                    "(the event or the link was changed)",
                )
            if position in signed:
                self._check(position, expected)
            prev = expected
            self.checked += 1
            self.head = position
            event = next(events, None)
        for position in pending:
            raise _Bad(
                position,
                f"the checkpoint at position {position} lies beyond the chain's head "
                f"({self.head}): events and links were removed from the end",
            )

    def _reached(self, position: int) -> None:
        """Checkpoints at positions the chain skipped: their link was removed."""
        while self.pending and self.pending[0] < position:
            gone = self.pending.pop(0)
            raise _Bad(gone, f"the checkpoint at position {gone} names a link that is gone")
        if self.pending and self.pending[0] == position:
            self.pending.pop(0)

    def _check(self, position: int, recomputed: bytes) -> None:
        if self.signed[position] != recomputed:
            raise _Bad(
                position,
                f"the chain no longer matches the checkpoint signed at position {position}: "
                f"events and links after position {self.last_good_checkpoint} were rewritten",
            )
        self.checkpoints_checked += 1
        self.last_good_checkpoint = position

"""Re-driving a dead letter (`shared/messaging/deadletters.py`): through the same
follower or consumer that set it aside, and for a follower's letter with every letter
held behind it, in log order, in one transaction; resolved by whom, when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import ValidationError

from shared.messaging.deadletters import DeadLetters, as_item, describe, is_transient, log
from shared.messaging.envelope import CloudEvent

if TYPE_CHECKING:
    from shared.messaging.consumer import Consumer
    from shared.messaging.follower import LogFollower


class RedriveRefused(Exception):
    """A re-drive that cannot be done (or failed): nothing changed."""

    def __init__(self, message: str, code: str = "redrive-failed") -> None:
        super().__init__(message)
        self.code = code


class UnknownLetter(LookupError):
    """No dead letter with that id."""


async def redrive(
    store: DeadLetters,
    letter_id: int,
    by: str,
    followers: Mapping[str, LogFollower],
    consumers: Mapping[str, Consumer],
) -> list[dict[str, Any]]:
    """Apply a dead letter again through the same handler, and for a follower's letter
    every letter held behind it, in log order, in one transaction; mark them resolved
    (by whom, when). On failure nothing changes and `RedriveRefused` says why."""
    async with store.pool.acquire() as conn:
        letter = await store.get(conn, letter_id)
        if letter is None:
            raise UnknownLetter(letter_id)
        if letter["resolved_at"] is not None:
            raise RedriveRefused(
                f"Dead letter {letter_id} was resolved at {letter['resolved_at']} "
                f"by {letter['resolved_by']}.",
                code="already-resolved",
            )
        try:
            if letter["kind"] == "follower":
                return await _redrive_follower(store, conn, letter, by, followers)
            return await _redrive_consumer(store, conn, letter, by, consumers)
        except RedriveRefused:
            raise
        except Exception as e:
            if is_transient(e):
                raise
            # Whatever the handler raised (it is the handler's own error): nothing
            # was committed; the caller answers with it.
            raise RedriveRefused(f"The re-drive failed: {describe(e)}") from e


async def _redrive_follower(
    store: DeadLetters,
    conn: asyncpg.Connection,
    letter: asyncpg.Record,
    by: str,
    followers: Mapping[str, LogFollower],
) -> list[dict[str, Any]]:
    follower = followers.get(letter["follower"])
    if follower is None:
        raise RedriveRefused(f"This service has no follower {letter['follower']}.")
    if follower.poison != "park":
        raise RedriveRefused(
            f"The {follower.name} follower retries this event in place and resolves it "
            "itself once it goes through.",
            code="retried-in-place",
        )
    async with conn.transaction():
        await store.lock(conn, follower.name)
        chain = await store.chain(conn, letter)
        await follower.redrive(conn, [r["position"] for r in chain])
        done = await store.resolve(conn, [r["id"] for r in chain], by)
    log.info("dead letters %s of %s re-driven by %s", [r["id"] for r in done], follower.name, by)
    return [as_item(r) for r in done]


async def _redrive_consumer(
    store: DeadLetters,
    conn: asyncpg.Connection,
    letter: asyncpg.Record,
    by: str,
    consumers: Mapping[str, Consumer],
) -> list[dict[str, Any]]:
    consumer = consumers.get(letter["follower"])
    if consumer is None:
        raise RedriveRefused(f"This service has no consumer {letter['follower']}.")
    try:
        event = CloudEvent.from_bytes(letter["payload"] or b"")
    except (ValidationError, ValueError) as e:
        raise RedriveRefused(f"The stored message cannot be read: {e}") from e
    # The consumer's effect is idempotent (keyed by the event id) and commits on its own;
    # should marking the letter fail after it, a second re-drive changes nothing more.
    await consumer.apply(event, int(letter["position"] or 0))
    done = await store.resolve(conn, [letter["id"]], by)
    log.info("dead letter %d of %s re-driven by %s", letter["id"], consumer.name, by)
    return [as_item(r) for r in done]

"""Gathering a client's data export: `gather_export` asks the services over NATS (their
`ExportResponder`s, `export.py`, answer), and the helpers of each service's own `gather`
(its read models current, an aggregate's event history, aggregates loaded)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import nats.errors
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from nats.aio.client import Client as NATS

from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower
from shared.privacy.export import (
    SUBJECT_PREFIX,
    ExportIncomplete,
    ExportUnavailable,
    open_answer,
    raw_key,
    subject_for,
)

# Event fields that are the envelope, not the event's data.
ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


async def gather_export(
    nc: NATS | None,
    client_id: uuid.UUID,
    services: Iterable[str],
    timeout: float,
    *,
    prefix: str = SUBJECT_PREFIX,
) -> dict[str, dict[str, Any]]:
    """Every named service's data about the client, asked concurrently; raises
    `ExportIncomplete` naming every service that did not answer within `timeout`
    seconds or answered an error."""
    names = list(dict.fromkeys(services))
    private = X25519PrivateKey.generate()  # this export's own: the answers open only here
    reply_key = base64.b64encode(raw_key(private.public_key())).decode()
    payload = json.dumps({"client_id": str(client_id), "reply_key": reply_key}).encode()

    async def ask(service: str) -> dict[str, Any] | str:
        if nc is None or not nc.is_connected:
            return "not asked: no connection to NATS"
        try:
            msg = await nc.request(subject_for(service, prefix), payload, timeout=timeout)
        except nats.errors.NoRespondersError:
            return "no instance is listening"
        except nats.errors.TimeoutError:
            return f"did not answer within {timeout:g} s"
        except nats.errors.Error as e:
            return f"could not be asked: {e}"
        try:
            reply = json.loads(msg.data)
        except ValueError:
            return "answered something that is not JSON"
        if not isinstance(reply, dict):
            return "answered something that is not an export"
        if reply.get("error"):
            return f"answered an error: {reply['error']}"
        if reply.get("service") != service or reply.get("client_id") != str(client_id):
            return "answered for another service or client"
        try:
            data = open_answer(private, reply.get("sealed"), service, str(client_id))
        except ValueError:
            return "answered without sealed data that opens"
        if not isinstance(data, dict):
            return "answered without data"
        return data

    answers = await asyncio.gather(*(ask(s) for s in names))
    failures = {s: a for s, a in zip(names, answers, strict=True) if isinstance(a, str)}
    if failures:
        raise ExportIncomplete(failures)
    return {s: a for s, a in zip(names, answers, strict=True) if isinstance(a, dict)}


# -- helpers for the services' `gather` ------------------------------------------------------
async def read_models_current(
    app: ServiceApplication,
    pool: asyncpg.Pool,
    projection: LogFollower | None,
    timeout: float,
) -> None:
    """Wait until the service's own read models have handled everything stored so far,
    so that a lookup of the client's aggregates in them misses nothing; raises
    `ExportUnavailable` when they do not catch up within `timeout` seconds."""
    recorder: Any = app.recorder
    schema, table = recorder.datastore.schema, recorder.events_table_name
    head = await pool.fetchval(f'SELECT max(notification_id) FROM "{schema}"."{table}"')
    if head is None:
        return
    if projection is None or not await projection.wait_until(int(head), timeout):
        at = projection.position if projection is not None else 0
        raise ExportUnavailable(
            f"{app.name}'s read models are behind its event store (at {at} of {head}); "
            "try again shortly"
        )


def event_history(app: ServiceApplication, aggregate_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every event of the aggregate, oldest first, personal fields opened (ERASED where
    the client's key is gone): what changed when, by whom. Blocking: run it in a thread."""
    out = []
    for event in app.repository.event_store.get(aggregate_id):
        state = dict(vars(event))
        data = {k: v for k, v in state.items() if k not in ENVELOPE}
        out.append(
            {
                "type": type(event).__qualname__.rsplit(".", 1)[-1],
                "version": state["originator_version"],
                "at": state["timestamp"],
                "actor": data.pop("actor", None),
                "data": data,
            }
        )
    return out


def load_all(app: ServiceApplication, ids: Sequence[uuid.UUID]) -> list[Any]:
    """The aggregates with these ids, in order (blocking: run it in a thread)."""
    return [app.repository.get(i) for i in ids]

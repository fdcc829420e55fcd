"""A client's data export (GDPR Art. 15 access and Art. 20 portability), gathered over
NATS request-reply.

Each service answers for the data it holds: an `ExportResponder` listens on the core
NATS subject `guidance.export.<service>` in the queue group `<service>-export` (so one
replica of the service answers each request, whatever its role). A request is
`{"client_id": ...}`; the answer is `{"service", "client_id", "data"}` or, when the
service cannot give everything it holds, `{"service", "error"}`.

`gather_export` asks several services at once and returns every service's `data`, or
raises `ExportIncomplete` naming each service that did not answer in time or answered
an error: an export is complete or it is not given at all.

The answers hold the client's personal data in the clear, so they never cross NATS as
plain text: each request carries a fresh X25519 public key (`reply_key`), and the
responder seals its `data` to it (ephemeral X25519, HKDF-SHA256, AES-256-GCM bound to
service and client). Only the asker can open the answer; a request without a key is
refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
import nats.errors
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic_core import to_jsonable_python

from shared.errors import Problem
from shared.eventstore import ServiceApplication
from shared.messaging.follower import LogFollower

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "guidance.export"
# The services an export asks over NATS (intake, which serves the export, answers locally).
REMOTE_SERVICES = ("planning", "followup", "referral")
# Event fields that are the envelope, not the event's data.
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")

Gather = Callable[[uuid.UUID], Awaitable[dict[str, Any]]]


class ExportUnavailable(Exception):
    """A service cannot give everything it holds about the client right now."""


class ExportIncomplete(Exception):
    """Services did not answer (in time, or without an error): `failures` maps each to why."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(sorted(failures.items()))
        super().__init__("; ".join(f"{service}: {why}" for service, why in self.failures.items()))


# -- sealing of the answers ---------------------------------------------------------------
def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _answer_key(shared: bytes, service: str, client_id: str) -> bytes:
    info = f"waypoint-export|{service}|{client_id}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def seal_answer(reply_key: str, service: str, client_id: str, data: Any) -> dict[str, str]:
    """`data` (JSON) sealed to the asker's X25519 public key `reply_key` (base64)."""
    peer = X25519PublicKey.from_public_bytes(base64.b64decode(reply_key, validate=True))
    ephemeral = X25519PrivateKey.generate()
    key = _answer_key(ephemeral.exchange(peer), service, client_id)
    nonce = os.urandom(12)
    aad = f"{service}|{client_id}".encode()
    ct = AESGCM(key).encrypt(nonce, json.dumps(data, separators=(",", ":")).encode(), aad)
    return {
        "epk": base64.b64encode(_raw(ephemeral.public_key())).decode(),
        "ct": base64.b64encode(nonce + ct).decode(),
    }


def open_answer(private: X25519PrivateKey, sealed: Any, service: str, client_id: str) -> Any:
    """The data of a sealed answer; ValueError when it does not open."""
    try:
        epk = X25519PublicKey.from_public_bytes(base64.b64decode(sealed["epk"]))
        blob = base64.b64decode(sealed["ct"])
        key = _answer_key(private.exchange(epk), service, client_id)
        aad = f"{service}|{client_id}".encode()
        return json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], aad))
    except Exception as e:  # malformed, tampered or sealed to another key
        raise ValueError("the sealed answer does not open") from e


def subject_for(service: str, prefix: str = SUBJECT_PREFIX) -> str:
    return f"{prefix}.{service}"


def queue_for(service: str) -> str:
    return f"{service}-export"


def jsonable(value: Any) -> Any:
    """JSON-safe values: uuids, dates and times as strings (as the APIs' models write
    them), mapping keys as strings."""
    return to_jsonable_python(value)


class ExportResponder:
    """Answers export requests for one service with its `gather(client_id)`.

    Start it with `runtime.spawn("export", responder.run)`: it subscribes, answers
    until the runtime stops, then unsubscribes and lets the answers under way finish.
    Each request is answered in its own task (a slow export does not hold up others),
    at most `concurrency` at a time."""

    def __init__(
        self,
        nc: NATS,
        service: str,
        gather: Gather,
        *,
        prefix: str = SUBJECT_PREFIX,
        concurrency: int = 4,
    ) -> None:
        self.nc = nc
        self.service = service
        self.gather = gather
        self.subject = subject_for(service, prefix)
        self.queue = queue_for(service)
        self._slots = asyncio.Semaphore(concurrency)
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._sub is None:
            self._sub = await self.nc.subscribe(self.subject, queue=self.queue, cb=self._received)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _received(self, msg: Msg) -> None:
        task = asyncio.create_task(self._answer(msg), name=f"{self.service}:export-answer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        if not msg.reply:
            return  # a publish, not a request: nobody waits for an answer
        async with self._slots:
            reply = await self.answer(msg.data)
        payload = json.dumps(reply, separators=(",", ":")).encode()
        try:
            await msg.respond(payload)
        except nats.errors.MaxPayloadError:
            too_big = {
                "service": self.service,
                "error": f"the export ({len(payload)} bytes) exceeds NATS's largest message "
                f"({self.nc.max_payload} bytes)",
            }
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(json.dumps(too_big).encode())
        except nats.errors.Error as e:
            log.warning("%s: could not answer an export request: %s", self.service, e)

    async def answer(self, request: bytes) -> dict[str, Any]:
        """The reply to one request (never raises)."""
        try:
            body = json.loads(request)
            client_id = uuid.UUID(str(body["client_id"]))
        except (ValueError, KeyError, TypeError):
            return {"service": self.service, "error": "the request names no valid client_id"}
        reply_key = body.get("reply_key")
        if not isinstance(reply_key, str):
            return {"service": self.service, "error": "the request carries no reply_key"}
        try:
            data = await self.gather(client_id)
        except (ExportUnavailable, Problem) as e:
            return {"service": self.service, "error": str(e)}
        except Exception:
            log.exception("%s: the export of client %s failed", self.service, client_id)
            return {"service": self.service, "error": "the export failed; it has been logged"}
        try:
            sealed = seal_answer(reply_key, self.service, str(client_id), jsonable(data))
        except ValueError:
            return {"service": self.service, "error": "the reply_key is not an X25519 key"}
        return {"service": self.service, "client_id": str(client_id), "sealed": sealed}


def start_export_responder(runtime: Runtime, service: str, gather: Gather) -> ExportResponder:
    """Answer the service's export requests while the runtime runs (in every role but
    `relay`, so a web-only replica answers too); stopped with the runtime."""
    assert runtime.nc is not None, "runtime not started"
    responder = ExportResponder(
        runtime.nc, service, gather, prefix=runtime.settings.export_subject_prefix
    )
    if runtime.settings.role != "relay":
        runtime.spawn("export", responder.run)
    return responder


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
    reply_key = base64.b64encode(_raw(private.public_key())).decode()
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
        data = {k: v for k, v in state.items() if k not in _ENVELOPE}
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

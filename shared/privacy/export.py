"""A client's data export (GDPR Art. 15 access and Art. 20 portability), gathered over
NATS request-reply.

Each service answers for the data it holds: an `ExportResponder` listens on the core
NATS subject `guidance.export.<service>` in the queue group `<service>-export` (so one
replica of the service answers each request, whatever its role). A request is
`{"client_id": ...}`; the answer is `{"service", "client_id", "data"}` or, when the
service cannot give everything it holds, `{"service", "error"}`.

`gather_export` (`gathering.py`, with the helpers of the services' `gather`) asks several
services at once and returns every service's `data`, or raises `ExportIncomplete` naming
each service that did not answer in time or answered an error: an export is complete or
it is not given at all.

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "guidance.export"
# The services an export asks over NATS (intake, which serves the export, answers locally).
REMOTE_SERVICES = ("planning", "followup", "referral")

Gather = Callable[[uuid.UUID], Awaitable[dict[str, Any]]]


class ExportUnavailable(Exception):
    """A service cannot give everything it holds about the client right now."""


class ExportIncomplete(Exception):
    """Services did not answer (in time, or without an error): `failures` maps each to why."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(sorted(failures.items()))
        super().__init__("; ".join(f"{service}: {why}" for service, why in self.failures.items()))


# -- sealing of the answers ---------------------------------------------------------------
def raw_key(key: X25519PublicKey) -> bytes:
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
        "epk": base64.b64encode(raw_key(ephemeral.public_key())).decode(),
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

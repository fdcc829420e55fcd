"""Idempotency-Key (IETF httpapi draft-ietf-httpapi-idempotency-key-header) for every
unsafe request of every service, as one pure-ASGI middleware.

A client that may retry a POST, PUT, PATCH or DELETE sends `Idempotency-Key: <key>`
(1 to 255 characters, no control characters; a quoted structured-field string is
accepted too). Keys are scoped by caller (the verified token's `sub` and `org`, not the
token itself: a client that retries with a refreshed token is still the same caller)
and by method and path, and kept for `idempotency_key_hours` (expired keys are purged
lazily: on reuse, and by the request that records a key every ten minutes).

- The first request with a key records it (in progress, held by that request for a
  lease of `idempotency_lease_seconds`), runs, and stores the answer: status, body and
  the headers that matter (Content-Type, ETag, Location).
- A retry with the same key and the same body (compared by SHA-256) gets the stored
  answer with `Idempotent-Replayed: true`; nothing runs again.
- The same key with another body: 422 problem+json naming `Idempotency-Key`.
- The same key while the first request still holds it: 409 problem+json with
  Retry-After.
- A 5xx, or a failure before the answer: the key is forgotten, so a retry runs (unless
  the command had already committed, see below).
- An invalid key: 422 naming `Idempotency-Key`.

A web process killed after the command committed but before the answer was stored:
the command's events commit together with a marker in the key's row (the recorder calls
`idempotency_commit()` in the events' transaction, see `shared/eventstore.py`): the
middleware puts the key in a context variable, `ServiceApplication.save` reads it in the
caller's thread and hands it (through the group commit) to the recorder. A retry that
finds the key in progress and its lease past (the holder is gone: it would have stored
its answer or extended nothing within the lease) looks at the marker:

- committed: the command is never run again. The answer is rebuilt from the marker,
  which holds the aggregates and versions the command wrote, the ids the request made
  for what it created (`new_id`) and what the command returned: 200 with
  `{"replayed": true, "committed": [{"aggregate_id", "version"}...], "created": [ids],
  "result": ...}` (`created` and `result` only when there are any), the ETag of the
  version when one aggregate was written, and `Idempotent-Replayed: true`. Rebuilding
  the route's own body would need every route to render its answer before the commit;
  the window is the few milliseconds between commit and storing the answer, and these
  are what a client needs to go on.
- not committed: the retry takes the key over (a new holder) and runs. The old holder,
  should it still be alive after all, can then no longer commit: the marker is written
  only by the key's current holder (the row lock orders the two), so its transaction
  fails, its events are not stored, and it answers 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from psycopg.sql import SQL, Composed, Identifier
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON, TRANSIENT, Conflict, InvalidInput, Problem, unavailable

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The answer's headers worth replaying.
KEPT_HEADERS = (b"content-type", b"etag", b"location")
MAX_KEY = 255
# A request body larger than this is passed on without a key (commands take small
# documents; the edge limits bodies anyway).
MAX_BODY = 1_000_000
# An answer larger than this is not stored (commands answer with small documents).
MAX_STORED_BODY = 1_000_000
PURGE_EVERY_SECONDS = 600.0
TABLE = "idempotency_keys"
COMMIT_FUNCTION = "idempotency_commit"
NOT_HELD = "idempotency key no longer held"


@dataclass
class CommandMarker:
    """The idempotency key a request's command runs under, for the recorder.

    `finished` is set when the request ends: a task the request started inherits its
    context, and must not mark its own later saves with the request's key."""

    schema: str
    scope: str
    holder: uuid.UUID
    finished: bool = False
    # What the command returned (JSON), and the ids the request made for what it
    # creates (`new_id`), committed with the marker: see `rebuilt_answer`.
    result: Any = None
    made: list[str] = field(default_factory=list)

    def outcome(self) -> dict[str, Any] | None:
        if self.result is None and not self.made:
            return None
        return {"result": self.result, "created": list(self.made)}


def new_id() -> uuid.UUID:
    """A new id for something a command creates (a client, a session, a goal...). Under
    an Idempotency-Key it is also committed with the key's marker, so that a retry after
    a lost answer is told it (see `rebuilt_answer`)."""
    made = uuid.uuid4()
    marker = current_command.get()
    if marker is not None and not marker.finished:
        marker.made.append(str(made))
    return made


def as_json(value: Any) -> Any:
    """`value` as JSON data (ids and dates as strings); None when it has no JSON form."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return None


current_command: contextvars.ContextVar[CommandMarker | None] = contextvars.ContextVar(
    "current_command", default=None
)


class KeyTaken(Conflict):
    """Another request holds the key (or took it over from this one, past its lease)."""

    code, title = "idempotency-key-in-use", "Idempotency-Key in use"


def ddl(schema: str) -> list[Composed]:
    """The keys table and the function that writes the commit marker (idempotent)."""
    table = SQL("{}.{}").format(Identifier(schema), Identifier(TABLE))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "scope text PRIMARY KEY, "
            "request_hash text NOT NULL, "
            "holder uuid NOT NULL, "
            "locked_until timestamptz NOT NULL, "
            "expires timestamptz NOT NULL, "
            # What the command committed, written in the events' transaction.
            "committed jsonb, "
            "status int, "
            "headers jsonb, "
            "body bytea)"
        ).format(table=table),
        SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (expires)").format(
            index=Identifier(f"{TABLE}_expires_idx"), table=table
        ),
        SQL(
            "CREATE OR REPLACE FUNCTION {function}(k text, h uuid, outcome jsonb) "
            "RETURNS void LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "UPDATE {table} SET committed = COALESCE(committed, '[]'::jsonb) || outcome "
            "WHERE scope = k AND holder = h; "
            "IF NOT FOUND THEN RAISE EXCEPTION '{not_held}'; END IF; "
            "END; $BODY$"
        ).format(
            function=SQL("{}.{}").format(Identifier(schema), Identifier(COMMIT_FUNCTION)),
            table=table,
            not_held=SQL(NOT_HELD),
        ),
    ]


def commit_statement(schema: str) -> Composed:
    return SQL("SELECT {}.{}(%s, %s, %s)").format(Identifier(schema), Identifier(COMMIT_FUNCTION))


def valid_key(raw: str) -> str | None:
    """The key of a header value (a bare or quoted string), None when it is not valid."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return None
    return key


def _problem(problem: Problem, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(problem.body(instance=path)).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode())]
    for name, value in (problem.headers or {}).items():
        headers.append((name.lower().encode(), value.encode()))
    return problem.status, headers, body


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def rebuilt_answer(committed: list[Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The answer to a command that committed but whose answer was never stored: what it
    wrote (aggregates and versions), the ids it made for what it created (`created`),
    and what it returned (`result`), where it did."""
    entries = [(str(e[0]), int(e[1]), e[2] if len(e) > 2 else None) for e in committed]
    written = [{"aggregate_id": a, "version": v} for a, v, _ in entries]
    headers = [(b"content-type", b"application/json")]
    if entries and len({a for a, _, _ in entries}) == 1:
        headers.append((b"etag", f'"{max(v for _, v, _ in entries)}"'.encode()))
    answer: dict[str, Any] = {"replayed": True, "committed": written}
    outcomes = [o for _, _, o in entries if isinstance(o, dict)]
    created = list(dict.fromkeys(i for o in outcomes for i in o.get("created") or ()))
    if created:
        answer["created"] = created
    result = next((o["result"] for o in outcomes if o.get("result") is not None), None)
    if result is not None:
        answer["result"] = result
    return 200, headers, json.dumps(answer).encode()


class IdempotencyMiddleware:
    """See the module docstring. `state` is the service app's state (settings, verifier,
    runtime with its asyncpg pool); `schema` the service's event store schema."""

    def __init__(self, app: ASGIApp, *, state: Any, schema: str) -> None:
        self.app = app
        self.state = state
        self.schema = schema
        self.table = f'"{schema}"."{TABLE}"'
        self._last_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        raw = None
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                raw = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        runtime = getattr(self.state, "runtime", None)
        if raw is None or runtime is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        key = valid_key(raw)
        if key is None:
            await _answer(
                send,
                *_problem(
                    InvalidInput(
                        "Idempotency-Key must be 1 to 255 characters without control characters.",
                        errors=[{"field": HEADER, "message": "not a valid key"}],
                    ),
                    path,
                ),
            )
            return
        caller = await self._caller(authorization)
        if caller is None:
            # Not authenticated: the route answers 401 (nothing can be replayed to it).
            await self.app(scope, receive, send)
            return
        body, replay_receive, complete = await _read_body(receive)
        if not complete:
            # The client left before sending its body, or it is too large: not recorded.
            await self.app(scope, replay_receive, send)
            return
        key_scope = hashlib.sha256(
            json.dumps([*caller, scope["method"], path, key]).encode()
        ).hexdigest()
        request_hash = hashlib.sha256(body).hexdigest()
        pool: asyncpg.Pool = runtime.pool
        try:
            holder = await self._claim(pool, key_scope, request_hash, send, path)
        except asyncpg.UndefinedTableError:
            # A service without an event store (probes only): nothing to make idempotent.
            await self.app(scope, replay_receive, send)
            return
        except TRANSIENT as e:
            log.warning(
                "%s %s answered 503: Idempotency-Key not recorded: %s", scope["method"], path, e
            )
            await _answer(send, *_problem(unavailable(), path))
            return
        if holder is None:
            return
        await self._run(pool, key_scope, holder, scope, replay_receive, send)

    async def _caller(self, authorization: str) -> tuple[str, str] | None:
        """The verified caller (sub, org): the route verifies the same token again, from
        the verifier's cache. Scoping by the token's hash would make a retry with a
        refreshed token a stranger to its own key."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            principal = await self.state.verifier.verify_async(token.strip())
        except Problem:
            return None
        return principal.sub, principal.org

    async def _claim(
        self, pool: asyncpg.Pool, key_scope: str, request_hash: str, send: Send, path: str
    ) -> uuid.UUID | None:
        """Hold the key for this request (its holder id), or answer from it (None)."""
        settings = self.state.settings
        holder = uuid.uuid4()
        for _ in range(5):
            async with pool.acquire() as conn:
                inserted = await conn.fetchval(
                    f"INSERT INTO {self.table} "
                    "(scope, request_hash, holder, locked_until, expires) "
                    "VALUES ($1, $2, $3, now() + make_interval(secs => $4), "
                    "now() + make_interval(secs => $5)) "
                    "ON CONFLICT (scope) DO NOTHING RETURNING true",
                    key_scope,
                    request_hash,
                    holder,
                    float(settings.idempotency_lease_seconds),
                    float(settings.idempotency_key_hours) * 3600.0,
                )
                if inserted:
                    await self._maybe_purge(conn)
                    return holder
                row = await conn.fetchrow(
                    "SELECT request_hash, holder, committed, status, headers, body, "
                    "expires < now() AS expired, locked_until > now() AS held, "
                    "ceil(extract(epoch FROM locked_until - now())) AS left_seconds "
                    f"FROM {self.table} WHERE scope = $1",
                    key_scope,
                )
                if row is None:
                    continue  # forgotten meanwhile: claim it
                if row["expired"]:
                    await conn.execute(
                        f"DELETE FROM {self.table} WHERE scope = $1 AND expires < now()",
                        key_scope,
                    )
                    continue
                if row["request_hash"] != request_hash:
                    await _answer(
                        send,
                        *_problem(
                            InvalidInput(
                                "This Idempotency-Key was used with another request body.",
                                errors=[{"field": HEADER, "message": "reused with another body"}],
                            ),
                            path,
                        ),
                    )
                    return None
                if row["status"] is not None:
                    await self._replay(send, row["status"], row["headers"], row["body"])
                    return None
                if row["held"]:
                    retry_after = str(max(1, int(row["left_seconds"] or 1)))
                    await _answer(
                        send,
                        *_problem(
                            KeyTaken(
                                "A request with this Idempotency-Key is still running; "
                                "retry later.",
                                headers={"Retry-After": retry_after},
                            ),
                            path,
                        ),
                    )
                    return None
                # The holder is gone (its lease is past). Take the key over, unless its
                # command committed: the row lock orders this against its commit.
                taken = await conn.fetchval(
                    f"UPDATE {self.table} SET holder = $2, "
                    "locked_until = now() + make_interval(secs => $4) "
                    "WHERE scope = $1 AND holder = $3 AND committed IS NULL "
                    "AND status IS NULL RETURNING true",
                    key_scope,
                    holder,
                    row["holder"],
                    float(settings.idempotency_lease_seconds),
                )
                if taken:
                    log.info("Idempotency-Key taken over from a holder that is gone")
                    return holder
                committed = await conn.fetchval(
                    f"SELECT committed FROM {self.table} WHERE scope = $1",
                    key_scope,
                )
                if committed is None:
                    continue
                status, headers, body = rebuilt_answer(json.loads(committed))
                await conn.execute(
                    f"UPDATE {self.table} SET status = $2, headers = $3, body = $4 "
                    "WHERE scope = $1 AND status IS NULL",
                    key_scope,
                    status,
                    _headers_json(headers),
                    body,
                )
                log.info("Idempotency-Key: committed command answered from its marker")
                await self._replay(send, status, _headers_json(headers), body)
                return None
        await _answer(
            send,
            *_problem(
                KeyTaken(
                    "The Idempotency-Key is contended; retry later.",
                    headers={"Retry-After": "1"},
                ),
                path,
            ),
        )
        return None

    async def _run(
        self,
        pool: asyncpg.Pool,
        key_scope: str,
        holder: uuid.UUID,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers.extend(
                    (bytes(n).lower(), bytes(v))
                    for n, v in message.get("headers", [])
                    if bytes(n).lower() in KEPT_HEADERS
                )
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= MAX_STORED_BODY:
                    chunks.append(chunk)
            await send(message)

        marker = CommandMarker(self.schema, key_scope, holder)
        token = current_command.set(marker)
        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self._release(pool, key_scope, holder)
            raise
        finally:
            marker.finished = True
            current_command.reset(token)
        if status >= 500 or status == 0 or size > MAX_STORED_BODY:
            await self._release(pool, key_scope, holder)
            return
        # Stored even if the client has gone: shielded from the request's cancellation.
        # Should storing fail, the lease runs out and a retry answers from the marker.
        try:
            await asyncio.shield(
                self._store(
                    pool, key_scope, holder, status, _headers_json(headers), b"".join(chunks)
                )
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("Idempotency-Key: the answer was not stored: %s", e)

    async def _store(
        self,
        pool: asyncpg.Pool,
        key_scope: str,
        holder: uuid.UUID,
        status: int,
        headers: str,
        body: bytes,
    ) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                f"UPDATE {self.table} SET status = $3, headers = $4, body = $5, "
                "locked_until = now() WHERE scope = $1 AND holder = $2",
                key_scope,
                holder,
                status,
                headers,
                body,
            )

    async def _release(self, pool: asyncpg.Pool, key_scope: str, holder: uuid.UUID) -> None:
        """Forget the key so that a retry runs; if the command committed all the same,
        end the lease instead, so that a retry answers from the marker."""
        with contextlib.suppress(Exception):
            async with pool.acquire() as conn:
                await conn.execute(
                    f"DELETE FROM {self.table} "
                    "WHERE scope = $1 AND holder = $2 AND committed IS NULL",
                    key_scope,
                    holder,
                )
                await conn.execute(
                    f"UPDATE {self.table} SET locked_until = now() "
                    "WHERE scope = $1 AND holder = $2",
                    key_scope,
                    holder,
                )

    async def _replay(self, send: Send, status: int, headers: str, body: bytes) -> None:
        pairs = [(n.encode(), v.encode()) for n, v in json.loads(headers)]
        await _answer(send, status, [*pairs, (b"idempotent-replayed", b"true")], bytes(body))

    async def _maybe_purge(self, conn: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        deleted = await conn.execute(f"DELETE FROM {self.table} WHERE expires < now()")
        log.debug("Idempotency keys purged: %s", deleted)


def _headers_json(headers: list[tuple[bytes, bytes]]) -> str:
    return json.dumps([[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers])


async def _read_body(receive: Receive) -> tuple[bytes, Receive, bool]:
    """The request body, a `receive` that hands the messages read on to the app, and
    whether the body arrived whole and within MAX_BODY (else it is not recorded: the
    client left, or the body is too large to hash in memory; the app sees it all)."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > MAX_BODY or not message.get("more_body", False):
            break
    complete = read[-1]["type"] == "http.request" and not read[-1].get("more_body", False)
    complete = complete and size <= MAX_BODY
    body = b"".join(m.get("body", b"") for m in read) if complete else b""

    async def replay() -> Message:
        if read:
            return read.pop(0)
        return await receive()

    return body, replay, complete

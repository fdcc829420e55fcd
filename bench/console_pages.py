"""Speed of the console's pages: C signed-in counsellors browse and post at once.

Against a running system (`make run`; its address from .data/run.json, or --url). Set-up,
over the APIs as the dev counsellor: N clients with a guidance consent, each with a case
holding both assessments, accepted, and an agreed plan (so the worklist has pages).
The console is started as a process of its own (`python -m services.console` on a free
port, calling the running system's APIs, with a small sessions pool), so that its CPU time
can be told from the APIs'. C counsellors, each with its own cookie jar, sign in through
the console's dev sign-in form (with its CSRF token) and then browse: a page of the
worklist, a case page, a plan page, and now and then an assessment posted through the case
page's form (CSRF token and version), its redirect followed.

The peer, measured in the same run: the same C users make the API calls each page makes,
in the same mix, straight to the APIs with the same token. The console's overhead is a
ratio: page p95 / the page's API calls p95. The two alternate in rounds, so that whatever
else the machine does meets both. CPU: the console's and the API process's (and its
children's) CPU time from /proc/<pid>/stat before and after each window, per page.

Targets (issue #13): page p95 <= 150 ms and p99 <= 300 ms with 16 counsellors.

    .venv/bin/python -m bench.console_pages [--url URL] [--users 16] [--seconds 30]
                                            [--peer-seconds 15] [--rounds 6] [--cases 48]
                                            [--console-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.intake_journey import machine_cpu, pct, uvloop_factory
from shared import runinfo
from shared.cli import dev_tokens, signing_settings
from shared.embedded import free_port

REPO = Path(__file__).resolve().parents[1]
COMPETENCES = (
    "quality_reflection",
    "motive_reflection",
    "work_exploration",
    "career_steering",
    "networking",
)
# The mix of what a counsellor does next (the rest: an assessment posted).
MIX = (("worklist", 0.30), ("case", 0.30), ("plan", 0.25))
KINDS = ("worklist", "case", "plan", "assessment")
PAGE_SIZE = 20  # the worklist's cases per page (services/console/pages.py)
TARGET_P95, TARGET_P99 = 150.0, 300.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="([0-9]+)"')


@dataclass(frozen=True)
class Fixture:
    client_id: str
    case_id: str
    plan_id: str


# -- set-up over the APIs ---------------------------------------------------------------------
async def seed_one(api: httpx.AsyncClient, i: int) -> Fixture:
    async def send(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await api.request(method, path, json=body)
        if r.status_code >= 300:
            raise SystemExit(f"set-up: {method} {path} answered {r.status_code} {r.text[:300]}")
        return dict(r.json()) if r.content else {}

    client = await send(
        "POST",
        "/intake/v1/clients",
        {
            "given_name": f"Bench{i}",
            "family_name": "Console",
            "birth_date": "1987-05-06",
            "email": f"bench.console{i}@example.org",
        },
    )
    client_id = str(client["client_id"])
    await send(
        "POST", f"/intake/v1/clients/{client_id}/consents", {"purpose": "guidance", "granted": True}
    )
    case = await send(
        "POST",
        "/intake/v1/cases",
        {"client_id": client_id, "career_question": "Which work suits me after the care sector?"},
    )
    case_id = str(case["case_id"])
    base = f"/intake/v1/cases/{case_id}"
    await send("POST", f"{base}/entry-check", {"eligible": True})
    for assessor in ("client", "counsellor"):
        scores = {c: 1 + (i + k) % 4 for k, c in enumerate(COMPETENCES)}
        await send("POST", f"{base}/assessments", {"assessor": assessor, "scores": scores})
    await send("POST", f"{base}/decision", {"decision": "accept"})
    # Planning makes the plan of the accepted case from intake's event.
    give_up = time.monotonic() + 60
    while True:
        r = await api.get("/planning/v1/plans", params={"case_id": case_id})
        if r.status_code == 200 and r.json():
            plan_id = str(r.json()[0]["plan_id"])
            break
        if time.monotonic() > give_up:
            raise SystemExit(f"set-up: no plan for case {case_id} within 60 s")
        await asyncio.sleep(0.1)
    plan = f"/planning/v1/plans/{plan_id}"
    await send("PUT", f"{plan}/type", {"plan_type": "action"})
    target = date.today() + timedelta(days=90)
    goal = await send(
        "POST",
        f"{plan}/goals",
        {
            "title": "Build a network in secondary education",
            "specific": "Talk with five teachers about their daily work and the way in",
            "measure": "5 conversations held and written up in the portfolio",
            "target_date": target.isoformat(),
            "competences": ["networking"],
            "priority": 1,
        },
    )
    await send(
        "POST",
        f"{plan}/goals/{goal['goal_id']}/actions",
        {
            "description": "Ask two colleagues for an introduction",
            "owner": "client",
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    for party in ("client", "counsellor"):
        await send("POST", f"{plan}/agreement", {"party": party})
    return Fixture(client_id, case_id, plan_id)


async def seed(base: str, token: str, n: int, parallel: int = 8) -> list[Fixture]:
    limits = httpx.Limits(max_connections=parallel)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as api:
        out: list[Fixture] = []
        for start in range(0, n, parallel):
            batch = range(start, min(start + parallel, n))
            out += await asyncio.gather(*(seed_one(api, i) for i in batch))
    return out


# -- the console as a process of its own ------------------------------------------------------
def start_console(
    api_url: str, database_url: str, pool: int, log: Path, **settings: str
) -> tuple[Any, str]:
    """`python -m services.console` on a free port, calling the APIs at `api_url` (with
    more `settings`, as GUIDANCE_ variables); the process and its address once its sign-in
    page answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")}
    secret = signing_settings().jwt_secret or ""
    env.update(
        GUIDANCE_PORT=str(port),
        GUIDANCE_CONSOLE_API_URL=api_url,
        GUIDANCE_DATABASE_URL=database_url,
        # The dev sign-in mints tokens the APIs accept: the running system's secret.
        GUIDANCE_JWT_SECRET=secret,
        # Its sessions' pool: the running system holds most of max_connections.
        GUIDANCE_READ_POOL_SIZE=str(pool),
        GUIDANCE_LOG_LEVEL="warning",
        **settings,
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.console"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the console did not start:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/sign-in", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.terminate()
            raise SystemExit(f"the console did not answer in 60 s:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


# -- CPU time of processes (Linux /proc) ------------------------------------------------------
def _stat(pid: int) -> tuple[str, list[str]] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    return comm, raw[raw.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, without embedded PostgreSQL and nats-server (`waypoint
    run` starts them when none answers; they serve more than the APIs)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))):
            children.setdefault(int(found[1][1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        found = _stat(p)
        if found is None or found[0] in ("postgres", "nats-server"):
            continue
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (those gone count nothing)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        found = _stat(p)
        if found is not None:
            total += int(found[1][11]) + int(found[1][12])
    return total / tick


# -- the two kinds of user ----------------------------------------------------------------------
@dataclass
class Samples:
    # (page kind, latency ms, ok)
    rows: list[tuple[str, float, bool]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def add(self, kind: str, ms: float, ok: bool, what: str = "") -> None:
        self.rows.append((kind, ms, ok))
        if not ok and len(self.examples) < 5:
            self.examples.append(f"{kind}: {what}")

    def ms(self, kind: str | None = None) -> list[float]:
        return [m for k, m, _ in self.rows if kind is None or k == kind]

    def errors(self) -> int:
        return sum(1 for _, _, ok in self.rows if not ok)


def scores(rng: random.Random) -> dict[str, int]:
    return {c: rng.randint(1, 4) for c in COMPETENCES}


class Counsellor:
    """One person in a browser: its own cookie jar, one keep-alive connection."""

    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=30,
            headers={"Accept-Language": "en"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def sign_in(self) -> None:
        page = await self.http.get("/sign-in")
        found = CSRF.search(page.text)
        if page.status_code != 200 or not found:
            raise SystemExit(f"the sign-in page answered {page.status_code}: {page.text[:300]}")
        r = await self.http.post(
            "/sign-in", data={"csrf_token": found[1], "person": "counsellor", "next": "/"}
        )
        if r.status_code != 303 or "waypoint-session" not in self.http.cookies:
            raise SystemExit(f"signing in answered {r.status_code}: {r.text[:300]}")

    async def get(self, out: Samples, kind: str, path: str) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = await self.http.get(path)
        except httpx.HTTPError as e:
            out.add(kind, (time.perf_counter() - start) * 1000, False, f"{path}: {e!r}")
            return None
        ok = r.status_code == 200
        out.add(kind, (time.perf_counter() - start) * 1000, ok, f"{path}: {r.status_code}")
        return r if ok else None

    async def worklist(self, out: Samples, page: int) -> None:
        await self.get(out, "worklist", f"/?cases_page={page}")

    async def case(self, out: Samples, f: Fixture) -> None:
        await self.get(out, "case", f"/cases/{f.case_id}")

    async def plan(self, out: Samples, f: Fixture) -> None:
        await self.get(out, "plan", f"/plans/{f.plan_id}")

    async def assess(
        self, out: Samples, f: Fixture, rng: random.Random, read: Callable[[], Awaitable[None]]
    ) -> None:
        """The case page, its counsellor's assessment form filled in and sent, the
        redirect followed."""
        page = await self.get(out, "case", f"/cases/{f.case_id}")
        if page is None:
            return
        await read()
        form = page.text[page.text.find('id="assessment-counsellor"') :]
        csrf, version = CSRF.search(form), VERSION.search(form)
        if not csrf or not version:
            out.add("assessment", 0.0, False, "no assessment form on the case page")
            return
        data = {"csrf_token": csrf[1], "version": version[1], "assessor": "counsellor"}
        start = time.perf_counter()
        try:
            r = await self.http.post(f"/cases/{f.case_id}/assessments", data={**data, **{
                c: str(s) for c, s in scores(rng).items()}})  # fmt: skip
        except httpx.HTTPError as e:
            out.add("assessment", (time.perf_counter() - start) * 1000, False, repr(e))
            return
        ok = r.status_code == 303
        out.add("assessment", (time.perf_counter() - start) * 1000, ok, f"{r.status_code}")
        if ok:
            await self.get(out, "case", r.headers["location"])

    async def aclose(self) -> None:
        await self.http.aclose()


class ApiCaller:
    """The peer: the calls each page makes, in the order it makes them, with the token the
    console holds for the signed-in counsellor."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=30,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
        )

    async def calls(
        self, out: Samples, kind: str, *steps: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        """The steps one after the other, timed together as one page."""
        start = time.perf_counter()
        r: httpx.Response | None = None
        try:
            for step in steps:
                r = await step()
                if r.status_code >= 300:
                    break
        except httpx.HTTPError as e:
            out.add(kind, (time.perf_counter() - start) * 1000, False, repr(e))
            return None
        assert r is not None
        ok = r.status_code < 300
        out.add(kind, (time.perf_counter() - start) * 1000, ok, f"{r.request.url}: {r.status_code}")
        return r if ok else None

    async def worklist(self, out: Samples, page: int) -> None:
        get = self.http.get
        await self.calls(
            out,
            "worklist",
            lambda: get("/followup/v1/worklist", params={"limit": PAGE_SIZE, "offset": 0}),
            lambda: get(
                "/intake/v1/cases", params={"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
            ),
        )

    async def case(self, out: Samples, f: Fixture) -> httpx.Response | None:
        get = self.http.get
        found: list[httpx.Response] = []

        async def case() -> httpx.Response:
            found.append(await get(f"/intake/v1/cases/{f.case_id}"))
            return found[0]

        r = await self.calls(
            out, "case", case, lambda: get(f"/intake/v1/clients/{found[0].json()['client_id']}")
        )
        return found[0] if r is not None else None

    async def plan(self, out: Samples, f: Fixture) -> None:
        get = self.http.get
        found: list[httpx.Response] = []

        async def plan() -> httpx.Response:
            found.append(await get(f"/planning/v1/plans/{f.plan_id}"))
            return found[0]

        await self.calls(
            out, "plan", plan, lambda: get(f"/intake/v1/clients/{found[0].json()['client_id']}")
        )

    async def assess(
        self, out: Samples, f: Fixture, rng: random.Random, read: Callable[[], Awaitable[None]]
    ) -> None:
        case = await self.case(out, f)
        if case is None:
            return
        await read()
        body = {"assessor": "counsellor", "scores": scores(rng)}
        version = case.json()["version"]
        posted = await self.calls(
            out,
            "assessment",
            lambda: self.http.post(
                f"/intake/v1/cases/{f.case_id}/assessments",
                json=body,
                headers={"If-Match": f'"{version}"'},
            ),
        )
        if posted is not None:
            await self.case(out, f)

    async def aclose(self) -> None:
        await self.http.aclose()


User = Counsellor | ApiCaller


async def browse(
    user: User,
    k: int,
    users: int,
    fixtures: list[Fixture],
    out: Samples,
    until: float,
    think: float,
) -> None:
    """One person's work until `until`: the mix of pages, each read for a while (`think`
    seconds on average, drawn from an exponential distribution; 0: none) before the next;
    assessments on its own cases only (another's would meet a version conflict, as it
    would in an office)."""
    rng = random.Random(k * 7919 + int(until))
    own = fixtures[k::users] or fixtures
    pages = max(1, math.ceil(len(fixtures) / PAGE_SIZE))

    async def read() -> None:
        """A pause, cut short where the window ends (no page follows it then)."""
        if think > 0:
            pause = min(rng.expovariate(1 / think), 5 * think)
            await asyncio.sleep(max(0.0, min(pause, until - time.perf_counter())))

    # Each begins in the middle of reading a page: the pauses are memoryless, so the load
    # is as steady from the window's first instant on as later (a short window as dense
    # as a long one), and the people do not all start at once.
    await read()
    while time.perf_counter() < until:
        pick = rng.random()
        if pick < MIX[0][1]:
            await user.worklist(out, rng.randint(1, pages))
        elif pick < MIX[0][1] + MIX[1][1]:
            await user.case(out, rng.choice(fixtures))
        elif pick < MIX[0][1] + MIX[1][1] + MIX[2][1]:
            await user.plan(out, rng.choice(fixtures))
        else:
            await user.assess(out, rng.choice(own), rng, read)
        await read()


@dataclass
class Window:
    """One kind of user's measured windows, with the CPU spent meanwhile."""

    samples: Samples = field(default_factory=Samples)
    seconds: float = 0.0
    console_cpu: float = 0.0
    api_cpu: float = 0.0
    own_cpu: float = 0.0
    machine_busy: float = 0.0
    machine_all: float = 0.0


async def measure(
    people: Sequence[User],
    fixtures: list[Fixture],
    seconds: float,
    warmup: float,
    think: float,
    window: Window,
    console_pids: list[int],
    api_pids: list[int],
) -> None:
    if warmup > 0:
        until = time.perf_counter() + warmup
        await asyncio.gather(
            *(
                browse(u, k, len(people), fixtures, Samples(), until, think)
                for k, u in enumerate(people)
            )
        )
    c0, a0, o0, m0 = cpu_seconds(console_pids), cpu_seconds(api_pids), time.process_time(), (
        machine_cpu())  # fmt: skip
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(
            browse(u, k, len(people), fixtures, window.samples, until, think)
            for k, u in enumerate(people)
        )
    )
    window.seconds += time.perf_counter() - start
    window.console_cpu += cpu_seconds(console_pids) - c0
    window.api_cpu += cpu_seconds(api_pids) - a0
    window.own_cpu += time.process_time() - o0
    m1 = machine_cpu()
    if m0 and m1:
        window.machine_busy += m1[0] - m0[0]
        window.machine_all += m1[1] - m0[1]


# -- the report ---------------------------------------------------------------------------------
def row(label: str, pages: list[float], calls: list[float]) -> str:
    ratio = pct(pages, 95) / pct(calls, 95) if pages and calls else float("nan")
    return (
        f"  {label:<12} {len(pages):>6} {pct(pages, 50):7.1f} {pct(pages, 95):7.1f} "
        f"{pct(pages, 99):7.1f}   {len(calls):>6} {pct(calls, 50):7.1f} {pct(calls, 95):7.1f} "
        f"{pct(calls, 99):7.1f}   {ratio:6.2f} x"
    )


def report(
    args: argparse.Namespace,
    console: Window,
    peer: Window,
    where: str,
    setup_s: float,
    cases: int,
    separate: bool,
    api_pids: list[int],
) -> None:
    print(f"Waypoint console pages benchmark, {args.started.isoformat(timespec='seconds')}")
    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(where)
    print(
        f"{args.users} counsellors signed in through the dev sign-in form; mix: worklist 30%, "
        f"case 30%, plan 25%, assessment posted 15% (its case page before and after)"
    )
    reading = (
        f"each reads a page {args.think:g} s on average (exponential) before the next"
        if args.think > 0
        else "no pause between pages (each person's next request as soon as the last answered)"
    )
    print(reading)
    print(
        f"set-up: {cases} clients with consent, accepted cases with both assessments and an "
        f"agreed plan, in {setup_s:.1f} s"
    )
    print(
        f"measured: pages {console.seconds:.1f} s, API calls alone {peer.seconds:.1f} s, "
        f"in {args.rounds} alternating rounds (after a warm-up of {args.warmup:g} s each)"
    )
    print(f"\n  {'ms':<12} {'console pages':^30}   {'the API calls alone (peer)':^30}   page p95 /")
    print(
        f"  {'page kind':<12} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7}   {'n':>6} {'p50':>7} "
        f"{'p95':>7} {'p99':>7}   calls p95"
    )
    for kind in KINDS:
        print(row(kind, console.samples.ms(kind), peer.samples.ms(kind)))
    print(row("all", console.samples.ms(), peer.samples.ms()))
    n, n_peer = len(console.samples.rows), len(peer.samples.rows)
    print(
        f"  {'per second':<12} {n / console.seconds:>6.1f} pages/s{'':<16}"
        f"{n_peer / peer.seconds:>6.1f} pages/s"
    )
    print(f"errors: {console.samples.errors()} pages, {peer.samples.errors()} API calls")
    for example in console.samples.examples + peer.samples.examples:
        print(f"  e.g. {example}")

    print("\nCPU per page (ms):")
    if separate and api_pids and n:
        total = console.console_cpu + console.api_cpu
        share = console.console_cpu / total if total else float("nan")
        print(
            f"  pages:           console {console.console_cpu / n * 1000:6.2f}  APIs "
            f"{console.api_cpu / n * 1000:6.2f}  the console's share {share:.0%}"
        )
    elif n:
        print("  pages:           console n/a (not a process of its own: --console-url)")
    if api_pids and n_peer:
        print(f"  API calls alone: APIs {peer.api_cpu / n_peer * 1000:6.2f}")
        print(
            f"  (the APIs' process with no request at all: {args.api_idle:.3f} cores, "
            f"{args.api_idle / (n / console.seconds) * 1000 if n else 0:.2f} ms per page at "
            "the pages' rate)"
        )
    elif not api_pids:
        print("  APIs: n/a (no process id: .data/run.json has none, or --api-pid)")
    for label, w, count in (("pages", console, n), ("API calls alone", peer, n_peer)):
        if w.machine_all and count:
            cores = w.machine_busy / w.machine_all * (os.cpu_count() or 1)
            rest = w.machine_busy - w.own_cpu - w.api_cpu - (w.console_cpu if separate else 0)
            print(
                f"  machine while {label}: {w.machine_busy / count * 1000:.2f} ms per page, "
                f"{cores:.2f} cores busy: the load generator {w.own_cpu / w.seconds:.2f}, "
                f"everything but the console, the APIs and it (PostgreSQL, NATS, other work) "
                f"{rest / w.seconds:.2f}"
            )

    others = (console.machine_busy - console.own_cpu - console.api_cpu - console.console_cpu) / (
        console.seconds or 1
    )
    if separate and api_pids and others > 0.5:
        print(
            f"  note: {others:.2f} cores went to other work than this system's (PostgreSQL "
            "and NATS included) while the pages were measured: a busy machine's figures"
        )

    everything = console.samples.ms()
    p95, p99 = pct(everything, 95), pct(everything, 99)
    print(f"\ntargets at {args.users} counsellors (every page and post):")
    for label, value, limit in (
        (f"page p95 <= {TARGET_P95:.0f} ms", p95, TARGET_P95),
        (f"page p99 <= {TARGET_P99:.0f} ms", p99, TARGET_P99),
    ):
        verdict = "PASS" if value <= limit and not console.samples.errors() else "MISS"
        print(f"  {label:<22} {value:8.1f} ms  {verdict}")


# -- main -------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> None:
    args.started = datetime.now()
    base = runinfo.base_url(args.url)
    info = runinfo.read() or {}
    try:
        httpx.get(f"{base}/intake/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise SystemExit(f"{base} does not answer ({e}); start `waypoint run`") from e
    token = dev_tokens()["counsellor"]
    think = args.think
    api_pid = args.api_pid or (info.get("pid") if info.get("base_url") == base else None)
    api_pids = process_tree(int(api_pid)) if api_pid else []

    started = time.perf_counter()
    fixtures = await seed(base, token, args.cases)
    setup_s = time.perf_counter() - started

    process = None
    log = Path(tempfile.mkstemp(prefix="console-bench-", suffix=".log")[1])
    if args.console_url:
        console_url, console_pids = args.console_url.rstrip("/"), []
        where = f"console: {console_url} (as given); APIs: {base}"
    else:
        database = args.database_url or info.get("database_url")
        database = database or os.environ.get("GUIDANCE_DATABASE_URL")
        if not database:
            raise SystemExit("no database for the console's sessions: --database-url")
        process, console_url = start_console(base, database, args.console_pool, log)
        console_pids = [process.pid]
        where = (
            f"console: {console_url}, its own process (pid {process.pid}, sessions pool "
            f"{args.console_pool}); APIs: {base} (pid {api_pid or 'unknown'})"
        )
    try:
        people = [Counsellor(console_url) for _ in range(args.users)]
        callers = [ApiCaller(base, token) for _ in range(args.users)]
        try:
            await asyncio.gather(*(p.sign_in() for p in people))
            # What the APIs' process spends with no request at all (relays, projections,
            # consumers and jobs polling): part of its CPU per page at a light load.
            idle0, idle_t0 = cpu_seconds(api_pids), time.perf_counter()
            await asyncio.sleep(args.warmup)
            args.api_idle = (cpu_seconds(api_pids) - idle0) / (time.perf_counter() - idle_t0)
            pages, peer = Window(), Window()
            for n in range(args.rounds):
                warmup = args.warmup if n == 0 else 0.0  # the first round warms both up
                await measure(
                    callers, fixtures, args.peer_seconds / args.rounds, warmup, think,
                    peer, console_pids, api_pids,
                )  # fmt: skip
                await measure(
                    people, fixtures, args.seconds / args.rounds, warmup, think, pages,
                    console_pids, api_pids,
                )  # fmt: skip
        finally:
            everyone: list[User] = [*people, *callers]
            for user in everyone:
                await user.aclose()
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.unlink(missing_ok=True)
    report(args, pages, peer, where, setup_s, len(fixtures), process is not None, api_pids)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--url", help="the running system's APIs (default: .data/run.json's, else :8000)"
    )
    p.add_argument("--users", type=int, default=16, help="concurrent counsellors")
    p.add_argument("--seconds", type=float, default=30.0, help="measured time of the pages")
    p.add_argument(
        "--peer-seconds", type=float, default=15.0, help="measured time of the API calls alone"
    )
    p.add_argument("--rounds", type=int, default=6, help="pages and peer alternate this often")
    p.add_argument("--warmup", type=float, default=2.0, help="before the first round of each")
    p.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a person reads a page before the next, on average (0: none)",
    )
    p.add_argument("--cases", type=int, default=48, help="clients, cases and plans set up")
    p.add_argument("--console-url", help="measure this console instead of starting one")
    p.add_argument("--console-pool", type=int, default=3, help="the console's sessions pool")
    p.add_argument("--api-pid", type=int, help="the APIs' process (default: .data/run.json's)")
    p.add_argument("--database-url", help="the console's sessions (default: .data/run.json's)")
    args = p.parse_args()
    if args.users < 1 or args.rounds < 1 or args.cases < 1:
        p.error("--users, --rounds and --cases are at least 1")
    with asyncio.Runner(loop_factory=uvloop_factory()) as runner:
        runner.run(main_async(args))


if __name__ == "__main__":
    main()

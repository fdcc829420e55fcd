"""Propagation benchmark: from intake's CaseAccepted commit to the plan in planning.

Prepares cases ready for acceptance (client, consent, case, entry check, assessment),
then accepts them at a steady rate (default 100/s) and measures, for every case, the
time from the CaseAccepted event (its timestamp is taken just before its commit) to the
PlanCreated event (taken just before the plan's commit, after which GET /plans?case_id=
reads it). Both timestamps come from the envelopes on NATS, so nothing polls the API.

    .venv/bin/python -m bench.plan_propagation [--rate 100] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import datetime

import httpx
import nats
from nats.js.api import DeliverPolicy

from bench.intake_journey import RawHttp, pct, uvloop_factory
from shared.cli import dev_tokens

SCORES = {
    "quality_reflection": 2,
    "motive_reflection": 3,
    "work_exploration": 3,
    "career_steering": 1,
    "networking": 4,
}


async def prepare_one(http: RawHttp, i: int) -> str:
    async def post(path: str, body: dict[str, object]) -> dict[str, str]:
        status, content = await http.post(path, body)
        if status >= 300:
            raise RuntimeError(f"{path}: {status} {content[:200]!r}")
        return dict(json.loads(content))

    client = (
        await post(
            "/clients",
            {
                "given_name": f"Bench{i}",
                "family_name": "Propagation",
                "birth_date": "1988-04-05",
                "email": f"bench{i}@example.org",
            },
        )
    )["client_id"]
    await post(f"/clients/{client}/consents", {"purpose": "guidance", "granted": True})
    case = (await post("/cases", {"client_id": client, "career_question": "Next step?"}))["case_id"]
    await post(f"/cases/{case}/entry-check", {"eligible": True})
    await post(f"/cases/{case}/assessments", {"assessor": "client", "scores": SCORES})
    return case


async def prepare(base: str, token: str, n: int, clients: int = 16) -> list[str]:
    https = [RawHttp(base + "/intake/v1", token) for _ in range(clients)]
    cases: list[str] = []

    async def worker(k: int) -> None:
        for i in range(k, n, clients):
            cases.append(await prepare_one(https[k], i))

    await asyncio.gather(*(worker(k) for k in range(clients)))
    for h in https:
        await h.aclose()
    return cases


async def main_async(args: argparse.Namespace) -> None:
    token = dev_tokens()["counsellor"]
    base = args.base_url.rstrip("/")
    try:
        httpx.get(base + "/planning/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise SystemExit(f"{base} does not answer ({e}); start `waypoint run`") from e
    total = int(args.rate * args.seconds)
    print(f"Plan propagation benchmark, {datetime.now().isoformat(timespec='seconds')}")
    print(f"target: {base}; {total} cases accepted at {args.rate:.0f}/s for {args.seconds:.0f} s")
    t0 = time.perf_counter()
    cases = await prepare(base, token, total)
    print(f"prepared {len(cases)} cases in {time.perf_counter() - t0:.1f} s")

    accepted: dict[str, float] = {}
    created: dict[str, float] = {}
    nc = await nats.connect(args.nats_url)
    js = nc.jetstream()

    async def on_accepted(msg: nats.aio.msg.Msg) -> None:
        env = json.loads(msg.data)
        accepted[env["subject"]] = datetime.fromisoformat(env["time"]).timestamp()

    async def on_created(msg: nats.aio.msg.Msg) -> None:
        env = json.loads(msg.data)
        created[env["data"]["case_id"]] = datetime.fromisoformat(env["time"]).timestamp()

    subs = [
        await js.subscribe(
            "guidance.intake.CaseAccepted",
            cb=on_accepted,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        ),
        await js.subscribe(
            "guidance.planning.PlanCreated",
            cb=on_created,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        ),
    ]

    clients = [RawHttp(base + "/intake/v1", token) for _ in range(32)]
    free: asyncio.Queue[RawHttp] = asyncio.Queue()
    for c in clients:
        free.put_nowait(c)
    errors = 0

    async def accept(case: str) -> None:
        nonlocal errors
        http = await free.get()
        try:
            status, _ = await http.post(f"/cases/{case}/decision", {"decision": "accept"})
            errors += status >= 300
        finally:
            free.put_nowait(http)

    start = time.perf_counter()
    tasks = []
    for i, case in enumerate(cases):
        # A steady rate: each acceptance at its own moment, whatever the others do.
        delay = start + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(accept(case)))
    await asyncio.gather(*tasks)
    sent = time.perf_counter() - start
    deadline = time.monotonic() + 30
    wanted = set(cases)
    while time.monotonic() < deadline and not wanted <= created.keys():
        await asyncio.sleep(0.1)
    for sub in subs:
        await sub.unsubscribe()
    await nc.close()
    for c in clients:
        await c.aclose()

    lags = [(created[c] - accepted[c]) * 1000 for c in cases if c in created and c in accepted]
    print(f"acceptances sent in {sent:.1f} s ({len(cases) / sent:.0f}/s), errors: {errors}")
    print(f"plans seen: {len(lags)} of {len(cases)}")
    if lags:
        p50, p99 = pct(lags, 50), pct(lags, 99)
        print(
            f"CaseAccepted commit -> plan readable, ms: p50 {p50:.1f}  p99 {p99:.1f}  "
            f"max {max(lags):.1f}"
        )
        verdict = "PASS" if p99 <= 150 and len(lags) == len(cases) else "MISS"
        print(f"target p99 <= 150 ms at {args.rate:.0f} accepted cases/s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--nats-url", default=os.environ.get("GUIDANCE_NATS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop_factory()) as runner:
        runner.run(main_async(args))


if __name__ == "__main__":
    main()

"""Helpers the API tests share: tokens as headers, fresh organisations, problem checks, the
messages a stream holds, a running system."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from nats.js.errors import NotFoundError

from shared.embedded import free_port, start_nats
from shared.messaging.envelope import stream_name, subject_for
from tests.conftest import DEFAULT_DB, fresh_database, stream_messages

REPO = Path(__file__).resolve().parents[1]

PROBLEM_BASE = "https://waypoint.example/problems/"
INVALID = "validation-error"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_org() -> str:
    return f"org-{uuid.uuid4().hex[:12]}"


def assert_problem(
    r: httpx.Response, status: int, code: str, fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An RFC 9457 problem with this status and type; for 422, naming `fields`."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert body["type"] == PROBLEM_BASE + code, body
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if status == 422:
        errors = body["errors"]
        assert errors, body
        assert all(set(e) >= {"field", "message"} and e["message"] for e in errors), errors
        named = {e["field"] for e in errors}
        for wanted in fields:
            assert any(n == wanted or n.startswith(wanted + ".") for n in named), (wanted, named)
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    return dict(body)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 10.0) -> Any:
    """Poll `check` until it gives something truthy (for up to `seconds`); that value."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def fill(value: Any, ids: dict[str, str]) -> Any:
    """A request (path, body) of a table row with its `{name}` placeholders replaced by the
    real ids of the test's world."""
    if isinstance(value, str):
        for name, real in ids.items():
            value = value.replace("{" + name + "}", real)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


# -- what the streams hold ----------------------------------------------------------------------
def envelope(msg: Any) -> dict[str, Any]:
    return dict(json.loads(msg.data))


async def messages_of_case(js: Any, stream: str, case_id: str) -> list[Any]:
    return [
        m
        for m in await stream_messages(js, stream)
        if envelope(m)["data"].get("case_id") == case_id
    ]


async def subject_messages(
    js: Any, event_type: str, service: str = "referral"
) -> list[dict[str, Any]]:
    """The CloudEvents stored on `guidance.<service>.<event_type>`, in stream order."""
    subject = subject_for(service, event_type)
    out: list[dict[str, Any]] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(stream_name(service), seq, subject=subject, next=True)
        except NotFoundError:
            return out
        assert msg.subject == subject
        out.append(json.loads(msg.data))
        seq = msg.seq + 1


async def published_for(js: Any, event_type: str, referral_id: str) -> list[dict[str, Any]]:
    """The `event_type` messages about one referral."""
    return [
        m
        for m in await subject_messages(js, event_type)
        if m["data"].get("referral_id") == referral_id
    ]


# A test system's pools (smaller than `make run`'s, as the tests' own services in
# tests/conftest.py): `make test`'s two workers, each with its services and at times a
# system or two, stay under a server's 100 connections.
SMALL_POOLS = {
    "GUIDANCE_DB_POOL_SIZE": "1",
    "GUIDANCE_DB_MAX_OVERFLOW": "3",
    "GUIDANCE_READ_POOL_SIZE": "2",
}


@dataclass
class Running:
    """A system `waypoint run` started in a folder of its own."""

    base: str
    database_url: str
    folder: Path
    # A second shell's environment there: none of the GUIDANCE_/WAYPOINT_ variables.
    env: dict[str, str]
    # What the system printed (its log), for a failing test's report.
    log: Path | None = None


@contextmanager
def waypoint_run(
    tmp: Path,
    *,
    name: str,
    command: list[str] | None = None,
    settings: dict[str, str] | None = None,
    postgres_url: str | None = None,
) -> Iterator[Running]:
    """`waypoint run` as `make run` starts it, in `tmp/clone` (its `.data/` a newcomer's),
    on a free port, with a nats-server and a fresh database of its own (on the server of
    `postgres_url`, else GUIDANCE_DATABASE_URL's), and SMALL_POOLS;
    `settings` are more environment variables. By default this checkout's code (`python -m
    shared.cli run`, what `.venv/bin/waypoint run` runs); stopped (SIGTERM, as Ctrl-C) on
    exit."""
    folder = tmp / "clone"
    folder.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GUIDANCE_", "WAYPOINT_")) and k != "VIRTUAL_ENV"
    }
    nats_server = start_nats(tmp / "nats")
    port = free_port()
    try:
        server = postgres_url or os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB)
        with fresh_database(server, name) as db:
            log_path = tmp / "run.log"
            with log_path.open("w") as log:
                process = subprocess.Popen(
                    command or [sys.executable, "-m", "shared.cli", "run"],
                    cwd=folder,
                    env=dict(
                        env,
                        PYTHONPATH=str(REPO),
                        GUIDANCE_DATABASE_URL=db,
                        GUIDANCE_NATS_URL=nats_server.url,
                        GUIDANCE_PORT=str(port),
                        **dict(SMALL_POOLS, **(settings or {})),
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    base = _wait_ready(folder, port, process, log_path)
                    yield Running(base=base, database_url=db, folder=folder, env=env, log=log_path)
                finally:
                    process.terminate()
                    try:
                        process.wait(30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
    finally:
        nats_server.stop()


def _wait_ready(folder: Path, port: int, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 120
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        run = folder / ".data" / "run.json"
        if run.is_file() and json.loads(run.read_text()).get("running"):
            try:
                if all(
                    httpx.get(f"{base}/{s}/readyz", timeout=2).status_code == 200
                    for s in ("intake", "planning", "followup", "referral")
                ):
                    return base
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise AssertionError("waypoint run did not become ready:\n" + log.read_text())

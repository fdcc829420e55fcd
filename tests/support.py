"""Helpers the API tests share: tokens as headers, fresh organisations, problem checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

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

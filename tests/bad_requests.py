"""The bad-request tables: each API test module lists its bad requests as `Bad` rows, each to
answer problem+json and change nothing, and builds the rows every command (or read) of its
service shares with the helpers here: If-Match, an absent object, tokens and roles, a broken
body. A row changes nothing, so the rows of a table share their world (`Worlds`): built once,
not once a row, which was most of the tables' time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from tests.support import INVALID, bearer, fill

W = TypeVar("W")


@dataclass(frozen=True)
class Bad:
    """One bad request. `path` and `body` may name the ids of the test's world in braces
    (`{plan}`, `{missing}`, …, filled by `tests.support.fill`); `who` picks the caller (a
    role, `none`: no token, `garbage`: a broken one); `raw` is sent as the body text;
    `if_match` and `extra` are more headers; `state` (where a table has one) the status its
    object is brought to first."""

    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw: str | None = None
    fields: tuple[str, ...] = ()
    who: str = "counsellor"
    if_match: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    state: str | None = None


def without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}


def with_(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


def if_match_rows(
    name: str,
    method: str,
    path: str,
    body: Any,
    *,
    stale: str,
    future: str = 'W/"99"',
    who: str = "counsellor",
) -> dict[str, Bad]:
    """An If-Match naming an older version or one not yet reached (409), or no version (422)."""
    return {
        f"{name}/stale-if-match": Bad(
            method, path, 409, "version-conflict", body, who=who, if_match=stale
        ),
        f"{name}/future-if-match": Bad(
            method, path, 409, "version-conflict", body, who=who, if_match=future
        ),
        f"{name}/malformed-if-match": Bad(
            method, path, 422, INVALID, body, who=who, if_match="latest", fields=("If-Match",)
        ),
    }


def roles_rows(name: str, method: str, path: str, body: Any, *roles: str) -> dict[str, Bad]:
    """No token or a garbage one: 401; each of `roles`: 403."""
    rows = {
        f"{name}/no-token": Bad(method, path, 401, "unauthorized", body, who="none"),
        f"{name}/garbage-token": Bad(method, path, 401, "unauthorized", body, who="garbage"),
    }
    for role in roles:
        rows[f"{name}/{role}"] = Bad(method, path, 403, "forbidden", body, who=role)
    return rows


def absent_rows(
    name: str, method: str, body: Any, absent: Mapping[str, str], who: str = "counsellor"
) -> dict[str, Bad]:
    """Each of `absent` (a row's name: a path to an object the caller may not see): 404."""
    return {
        f"{name}/{row}": Bad(method, where, 404, "not-found", body, who=who)
        for row, where in absent.items()
    }


def command_rows(
    name: str,
    method: str,
    path: str,
    body: Any,
    *,
    stale: str,
    absent: Mapping[str, str],
    refused: tuple[str, ...],
    future: str = 'W/"99"',
    who: str = "counsellor",
) -> dict[str, Bad]:
    """The rows every command shares: If-Match (`stale`, `future`, malformed), the object
    absent (`absent`: 404), no or a garbage token (401) and each role `refused` (403); `who`
    is the caller the command is for."""
    return {
        **if_match_rows(name, method, path, body, stale=stale, future=future, who=who),
        **absent_rows(name, method, body, absent, who),
        **roles_rows(name, method, path, body, *refused),
    }


def read_rows(
    name: str, path: str, *, absent: Mapping[str, str], refused: tuple[str, ...]
) -> dict[str, Bad]:
    """The rows every read of one object shares: absent (404), no token (401), each role
    `refused` (403)."""
    rows = {
        **absent_rows(name, "GET", None, absent),
        f"{name}/no-token": Bad("GET", path, 401, "unauthorized", who="none"),
    }
    for role in refused:
        rows[f"{name}/{role}"] = Bad("GET", path, 403, "forbidden", who=role)
    return rows


def body_rows(
    name: str,
    path: str,
    valid: Any,
    *,
    unknown: Mapping[str, Any],
    broken: str,
    who: str = "counsellor",
) -> dict[str, Bad]:
    """What every command with a JSON body shares: the body not JSON (`broken`), an array of
    the `valid` body, the valid body with `unknown` fields (422 naming them)."""
    return {
        f"{name}/invalid-json": Bad("POST", path, 422, INVALID, raw=broken, who=who),
        f"{name}/json-array": Bad("POST", path, 422, INVALID, body=[valid], who=who),
        f"{name}/unknown-field": Bad(
            "POST",
            path,
            422,
            INVALID,
            body={**valid, **unknown},
            fields=tuple(unknown),
            who=who,
        ),
    }


def caller(
    who: str, own: str, headers: dict[str, str], org: str, token: Callable[..., str]
) -> dict[str, str]:
    """The headers of the caller a row names: the table's own user (`own`: its `headers`),
    none, a broken token, a partner (of no partner the table knows), or another role of
    the same organisation."""
    if who == own:
        return headers
    if who == "none":
        return {}
    if who == "garbage":
        return {"Authorization": "Bearer not.a.jwt"}
    if who == "partner":
        return bearer(token("partner", org=org, partner_id=uuid.uuid4()))
    return bearer(token(who, org=org))


async def bad_request(
    api: httpx.AsyncClient, base: str, bad: Bad, headers: dict[str, str], ids: dict[str, str]
) -> httpx.Response:
    """Send the row's request as the caller of `headers`: its `If-Match`, its raw or JSON
    body, its path and body with the world's ids filled in."""
    headers = dict(headers)
    if bad.if_match is not None:
        headers["If-Match"] = fill(bad.if_match, ids)
    kwargs: dict[str, Any] = {"headers": headers}
    if bad.raw is not None:
        kwargs["content"] = bad.raw.encode()
        headers["Content-Type"] = "application/json"
    elif bad.body is not None:
        kwargs["json"] = fill(bad.body, ids)
    return await api.request(bad.method, base + fill(bad.path, ids), **kwargs)


class Worlds(Generic[W]):
    """The worlds a table's rows share (one per `key`: a table may need its object in several
    states), kept for a module (a `scope="module"` fixture). A row only borrows its world:
    it still snapshots it before and after its request. A row that fails in any way may have
    changed it, so its world is dropped and the next row builds a fresh one: one wrong
    answer stays one failed row."""

    def __init__(self) -> None:
        self._built: dict[Hashable, W] = {}

    @asynccontextmanager
    async def use(self, key: Hashable, build: Callable[[], Awaitable[W]]) -> AsyncIterator[W]:
        if key not in self._built:
            self._built[key] = await build()
        world = self._built[key]
        try:
            yield world
        except BaseException:
            self._built.pop(key, None)
            raise

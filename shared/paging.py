"""Paging of every list of the four services: by offset (the contract's first way) or by
an opaque cursor (keyset: the page after the last row's sort key), and a total counted
only up to a cap.

One shape for every list:

- `Page` (a FastAPI dependency, `Paging`): `limit`, `offset`, `cursor` of the request,
  and the count's cap (`GUIDANCE_LIST_COUNT_CAP`, default 10,000). A cursor with an
  offset, or a cursor that is not one this list gave, is a 422 naming `cursor`.
- `Order`: a list's sort key, its columns unique together (the id last as tie-breaker),
  matched by an index of the list's view.
- `fetch_page`: the page (one row more than the limit, to know whether another follows)
  and the total, counted as `SELECT count(*) FROM (SELECT 1 ... LIMIT cap + 1)`: exact up
  to the cap, the cap and `capped` beyond; its cost does not grow with the history. A
  page by cursor counts nothing: its cursor carries the total the first page counted.
- `page_headers`: `X-Total-Count` (and `X-Total-Count-Capped: true` beyond the cap) and
  `Link: <...>; rel="next"`, by cursor unless the request paged by offset.

A cursor is the urlsafe base64 (unpadded) of `[list, [value, ...], total, capped]` in
JSON: opaque to clients, who pass back what `Link` gave them.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Query, Request, Response

from shared.errors import InvalidInput
from shared.schemas import Limit, Offset

DEFAULT_COUNT_CAP = 10_000
MAX_CURSOR = 1000

Kind = Literal["timestamptz", "date", "uuid", "text", "int"]


@dataclass(frozen=True)
class Column:
    """One column of a sort key: its SQL expression (NOT NULL: coalesce a nullable one),
    its type, and its direction."""

    expr: str
    kind: Kind
    descending: bool = False


@dataclass(frozen=True)
class Order:
    """A list's sort key: `name` binds its cursors to it; the columns are unique together."""

    name: str
    columns: tuple[Column, ...]

    def sql(self) -> str:
        return ", ".join(f"{c.expr} DESC" if c.descending else c.expr for c in self.columns)

    def after(self, values: Sequence[Any], args: list[Any]) -> str:
        """The condition of the rows after `values` in this order (their parameters appended
        to `args`). Columns of one direction: a row comparison. Mixed: a bound on the first
        column, that an index scan starts from, and the exact successor condition over all
        columns (ties on the first column filtered)."""
        placeholders = []
        for c, v in zip(self.columns, values, strict=True):
            args.append(v)
            placeholders.append(f"${len(args)}::{c.kind}")
        directions = {c.descending for c in self.columns}
        if len(directions) == 1:
            # One direction: a row comparison, which an index of these columns (after the
            # filters' equalities) starts its scan from.
            keys = ", ".join(c.expr for c in self.columns)
            return f"({keys}) {'<' if directions.pop() else '>'} ({', '.join(placeholders)})"
        first = self.columns[0]
        bound = f"{first.expr} {'<=' if first.descending else '>='} {placeholders[0]}"
        alternatives = []
        for i, c in enumerate(self.columns):
            equal = [f"{p.expr} = {placeholders[j]}" for j, p in enumerate(self.columns[:i])]
            strict = f"{c.expr} {'<' if c.descending else '>'} {placeholders[i]}"
            alternatives.append("(" + " AND ".join([*equal, strict]) + ")")
        return f"{bound} AND ({' OR '.join(alternatives)})"

    def encode(self, values: Sequence[Any], total: int = 0, capped: bool = False) -> str:
        """The cursor of the page after the row whose sort key is `values`, carrying the
        list's total as the first page counted it."""
        plain = [_plain(v) for v in values]
        raw = json.dumps([self.name, plain, total, capped], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, cursor: str) -> tuple[list[Any], int, bool]:
        """The sort key a cursor of this list carries, and the total it carries on;
        InvalidInput naming `cursor` if it is not one."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, plain, total, capped = json.loads(raw)
            if name != self.name or not isinstance(plain, list):
                raise ValueError("another list's cursor")
            if not isinstance(total, int) or isinstance(total, bool) or total < 0:
                raise ValueError("not a total")
            if not isinstance(capped, bool):
                raise ValueError("not a flag")
            key = [_typed(c.kind, v) for c, v in zip(self.columns, plain, strict=True)]
            return key, total, capped
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as e:
            raise bad_cursor("not a cursor of this list (pass back the one `Link` gave)") from e


def bad_cursor(message: str) -> InvalidInput:
    return InvalidInput(
        f"The request has invalid fields: cursor ({message})",
        errors=[{"field": "cursor", "message": message}],
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _typed(kind: Kind, value: Any) -> Any:
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str):
        raise ValueError("not a string")
    if kind == "timestamptz":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a moment without its offset")
        return moment
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "uuid":
        return uuid.UUID(value)
    if "\x00" in value:
        raise ValueError("a NUL character")
    return value


@dataclass
class Page:
    """What the request asked of a list: at most `limit` rows, after `offset` rows or
    after the row `cursor` names; the total counted up to `cap`."""

    limit: int = 50
    offset: int = 0
    cursor: str | None = None
    cap: int = DEFAULT_COUNT_CAP


@dataclass
class Listed:
    """A page of a list: its rows (at most the limit), the total (the cap if `capped`),
    and the cursor of the page after it (None: this is the last)."""

    rows: list[dict[str, Any]]
    total: int
    capped: bool = False
    next_cursor: str | None = None
    next_offset: int | None = None
    keys: list[str] = field(default_factory=list)


def page_of(
    request: Request,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR,
            description="Where the page starts: the opaque cursor of the `Link` header's "
            "next page (keyset paging; not with `offset`). Without it and without "
            "`offset`: the first page.",
        ),
    ] = None,
) -> Page:
    if cursor is not None and offset:
        raise bad_cursor("give a cursor or an offset, not both")
    settings = getattr(request.app.state, "settings", None)
    cap = getattr(settings, "list_count_cap", DEFAULT_COUNT_CAP)
    return Page(limit=limit, offset=offset, cursor=cursor, cap=cap)


Paging = Annotated[Page, Depends(page_of)]


async def capped_count(
    conn: asyncpg.Connection, source: str, args: Sequence[Any], cap: int
) -> tuple[int, bool]:
    """The rows of `source` (`FROM ... WHERE ...`), counted up to `cap`: (cap, True) when
    there are more."""
    n = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 {source} LIMIT {int(cap) + 1}) s", *args
    )
    return (cap, True) if n > cap else (int(n), False)


async def fetch_page(
    conn: asyncpg.Connection,
    *,
    select: str,
    source: str,
    where: Sequence[str],
    args: Sequence[Any],
    order: Order,
    page: Page,
    count_source: str | None = None,
    count_sql: str | None = None,
) -> Listed:
    """A page of `SELECT <select> <source> WHERE <where>` in `order`, with its capped
    total (`count_source`: a lighter FROM for the count, e.g. without the joins that only
    add columns; `count_sql`: a statement that gives the exact total from counters kept as
    the rows change, with the same arguments, instead of counting rows)."""
    conditions = list(where)
    page_args = list(args)
    offset = page.offset
    if page.cursor is not None:
        # The total as the first page counted it: a page by cursor counts nothing.
        key, total, capped = order.decode(page.cursor)
        conditions.append(order.after(key, page_args))
        offset = 0
    elif count_sql is not None:
        total, capped = int(await conn.fetchval(count_sql, *args) or 0), False
    else:
        count_where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        total, capped = await capped_count(
            conn, f"{count_source or source}{count_where}", args, page.cap
        )
    keys = ", ".join(f"{c.expr} AS _key{i}" for i, c in enumerate(order.columns))
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await conn.fetch(
        f"SELECT {select}, {keys} {source}{clause} ORDER BY {order.sql()} "
        f"LIMIT {int(page.limit) + 1} OFFSET {int(offset)}",
        *page_args,
    )
    more = len(rows) > page.limit
    shown = []
    last: list[Any] = []
    for r in rows[: page.limit]:
        row = dict(r)
        last = [row.pop(f"_key{i}") for i in range(len(order.columns))]
        shown.append(row)
    listed = Listed(rows=shown, total=total, capped=capped)
    if more:
        listed.next_cursor = order.encode(last, total, capped)
        listed.next_offset = page.offset + page.limit
    return listed


def page_headers(request: Request, response: Response, page: Page, listed: Listed) -> None:
    """`X-Total-Count` (with `X-Total-Count-Capped: true` when the count stopped at the
    cap) and `Link` to the next page when there is one: by offset when the request paged by
    offset, else by cursor."""
    response.headers["X-Total-Count"] = str(listed.total)
    if listed.capped:
        response.headers["X-Total-Count-Capped"] = "true"
    if listed.next_cursor is None:
        return
    if page.cursor is None and page.offset:
        nxt = request.url.include_query_params(offset=listed.next_offset, limit=page.limit)
    else:
        nxt = request.url.remove_query_params("offset").include_query_params(
            cursor=listed.next_cursor, limit=page.limit
        )
    response.headers["Link"] = f'<{nxt}>; rel="next"'


def whole_list_headers(response: Response, total: int) -> None:
    """The headers of a list answered whole (no page after it)."""
    response.headers["X-Total-Count"] = str(total)

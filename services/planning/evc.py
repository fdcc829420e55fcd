"""EVC standards: the competence items of a professional qualification (or any other
standard) a portfolio for recognition of prior learning (EVC) is compared with, item by
item. Loaded by `waypoint evc import-standard FILE` from a CSV file and listed by
`GET /planning/v1/standards`; an item may name ESCO skills (their labels come from the
ESCO tables, `services/planning/esco.py`).

A standard is reference data, the same for every organisation and nobody's personal
data: plain tables, a standard's items replaced on each import of it. A plan that chose a
standard keeps the items as they were when it chose it (`Plan.PortfolioStandardChosen`).

The CSV file: a header naming `standard`, `standard_title`, `item`, `title` and
optionally `description` and `esco_uris` (ESCO skill URIs separated by spaces or `|`);
one row per item, a file may hold several standards.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from services.planning.domain.rules import CODE, ESCO_URI
from shared.runtime import snapshot

REQUIRED = ("standard", "standard_title", "item", "title")
MAX_TITLE = 300
MAX_DESCRIPTION = 2000
MAX_ITEMS = 200

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS planning;
CREATE TABLE IF NOT EXISTS planning.evc_standards (
    standard_id text PRIMARY KEY,
    title text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS planning.evc_standard_items (
    standard_id text NOT NULL REFERENCES planning.evc_standards (standard_id) ON DELETE CASCADE,
    position integer NOT NULL,
    item_id text NOT NULL,
    title text NOT NULL,
    description text,
    esco_uris text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (standard_id, item_id)
);
"""


class StandardFileError(ValueError):
    """A file that is not a standard's CSV; `line` the file's line (1 = the header)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    description: str | None
    esco_uris: tuple[str, ...]


@dataclass
class Standard:
    standard_id: str
    title: str
    items: list[Item] = field(default_factory=list)


def _single(value: str | None) -> str:
    return " ".join((value or "").split())


def read_standards(text: Iterable[str]) -> list[Standard]:
    """The standards of a CSV file (its lines), in the file's order; `StandardFileError`
    naming the line of the first fault."""
    reader = csv.DictReader(iter(text), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as e:
        raise StandardFileError(f"not a CSV file ({e}).", 1) from None
    if not header:
        raise StandardFileError("the file is empty.")
    reader.fieldnames = [h.lstrip("\ufeff").strip() for h in header]
    missing = [c for c in REQUIRED if c not in reader.fieldnames]
    if missing:
        raise StandardFileError(
            f"no column {', '.join(missing)} (the header names standard, standard_title, "
            "item, title, and maybe description, esco_uris).",
            1,
        )
    standards: dict[str, Standard] = {}
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise StandardFileError(f"not valid CSV ({e}).", start) from None
        line, start = start, reader.line_num + 1
        if None in row:
            raise StandardFileError("more fields than the header names.", line)
        standard_id, item_id = _single(row["standard"]), _single(row["item"])
        for name, code in (("standard", standard_id), ("item", item_id)):
            if not CODE.match(code):
                raise StandardFileError(
                    f"{name} {code!r} is not a code (letters, digits, . _ -; at most 64).", line
                )
        standard_title, title = _single(row["standard_title"]), _single(row["title"])
        description = (row.get("description") or "").strip() or None
        if not standard_title or not title:
            raise StandardFileError("standard_title and title are not empty.", line)
        if len(standard_title) > MAX_TITLE or len(title) > MAX_TITLE:
            raise StandardFileError(f"a title is longer than {MAX_TITLE} characters.", line)
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise StandardFileError(
                f"the description is longer than {MAX_DESCRIPTION} characters.", line
            )
        uris = tuple(dict.fromkeys(u for u in re.split(r"[\s|]+", row.get("esco_uris") or "") if u))
        for uri in uris:
            matched = ESCO_URI.match(uri)
            if matched is None or matched.group(1) != "skill":
                raise StandardFileError(
                    f"{uri!r} is not an ESCO skill URI (http://data.europa.eu/esco/skill/…).",
                    line,
                )
        standard = standards.setdefault(standard_id, Standard(standard_id, standard_title))
        if standard.title != standard_title:
            raise StandardFileError(
                f"standard {standard_id} has another title on an earlier line.", line
            )
        if any(i.item_id == item_id for i in standard.items):
            raise StandardFileError(f"item {item_id} is twice in standard {standard_id}.", line)
        if len(standard.items) >= MAX_ITEMS:
            raise StandardFileError(f"a standard holds at most {MAX_ITEMS} items.", line)
        standard.items.append(Item(item_id, title, description, uris))
    if not standards:
        raise StandardFileError("the file holds no item.")
    return list(standards.values())


def read_file(path: Path) -> list[Standard]:
    """Every standard of the file (read whole first: a bad line changes nothing)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return read_standards(f)
    except UnicodeDecodeError as e:
        raise StandardFileError(f"{path.name} is not UTF-8 text ({e.reason}).") from None
    except OSError as e:
        raise StandardFileError(f"cannot read {path}: {e.strerror}.") from None


def import_standards(conn: Any, standards: Sequence[Standard]) -> list[tuple[str, int, bool]]:
    """Upsert the standards and replace their items, in one transaction (a psycopg
    connection); (standard_id, items, new) per standard."""
    done = []
    with conn.transaction():
        conn.execute(SCHEMA_SQL)
        for s in standards:
            new = conn.execute(
                "INSERT INTO planning.evc_standards (standard_id, title) VALUES (%s, %s) "
                "ON CONFLICT (standard_id) DO UPDATE SET title = excluded.title, "
                "imported_at = now() RETURNING (xmax = 0)",
                (s.standard_id, s.title),
            ).fetchone()[0]
            conn.execute(
                "DELETE FROM planning.evc_standard_items WHERE standard_id = %s", (s.standard_id,)
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO planning.evc_standard_items "
                    "(standard_id, position, item_id, title, description, esco_uris) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (s.standard_id, n, i.item_id, i.title, i.description, list(i.esco_uris))
                        for n, i in enumerate(s.items, 1)
                    ],
                )
            done.append((s.standard_id, len(s.items), bool(new)))
    return done


async def _exists(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval("SELECT to_regclass('planning.evc_standard_items') IS NOT NULL")
    )


async def list_standards(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every standard, by title, with its number of items."""
    async with snapshot(pool) as conn:
        if not await _exists(conn):
            return []
        rows = await conn.fetch(
            "SELECT s.standard_id, s.title, s.imported_at, count(i.item_id) AS items "
            "FROM planning.evc_standards s "
            "LEFT JOIN planning.evc_standard_items i USING (standard_id) "
            "GROUP BY s.standard_id ORDER BY s.title, s.standard_id"
        )
    return [dict(r) for r in rows]


async def get_standard(pool: asyncpg.Pool, standard_id: str) -> dict[str, Any] | None:
    """The standard with its items in the file's order (None when unknown)."""
    async with snapshot(pool) as conn:
        if not await _exists(conn):
            return None
        head = await conn.fetchrow(
            "SELECT standard_id, title, imported_at FROM planning.evc_standards "
            "WHERE standard_id = $1",
            standard_id,
        )
        if head is None:
            return None
        rows = await conn.fetch(
            "SELECT item_id, title, description, esco_uris FROM planning.evc_standard_items "
            "WHERE standard_id = $1 ORDER BY position",
            standard_id,
        )
    return {**dict(head), "items": [{**dict(r), "esco_uris": list(r["esco_uris"])} for r in rows]}

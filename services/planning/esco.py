"""ESCO, the European classification of skills, competences and occupations, as planning
keeps it: the concepts (URI, skill or occupation) and their labels per language (the
preferred one and the alternative ones), loaded by `waypoint esco import FILE` from the
CSV files the ESCO portal publishes (`skills_<lang>.csv`, `occupations_<lang>.csv`: one
file per pillar and language) and searched by label for the competence analysis.

ESCO is reference data, the same for every organisation and nobody's personal data: a
plain table, upserted on each import (importing a file again changes nothing; a newer
release of it replaces that language's labels of its concepts).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from services.planning.domain.rules import ESCO_URI
from shared.runtime import snapshot

# ESCO's conceptType → the kind of concept planning keeps.
CONCEPT_TYPES = {"KnowledgeSkillCompetence": "skill", "Occupation": "occupation"}
KINDS = ("skill", "occupation")
REQUIRED = ("conceptType", "conceptUri", "preferredLabel")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# `skills_nl.csv`, `occupations_pt.csv`: the file's language, as the portal names it.
FILE_LANGUAGE = re.compile(r"_([a-z]{2,3})\.csv$", re.I)
MAX_LABEL = 500
FALLBACK_LANGUAGE = "en"

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS planning;
CREATE TABLE IF NOT EXISTS planning.esco_concepts (
    uri text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('skill', 'occupation')),
    -- skillType of a skill (skill/competence, knowledge), iscoGroup of an occupation.
    detail text,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS planning.esco_labels (
    uri text NOT NULL REFERENCES planning.esco_concepts (uri) ON DELETE CASCADE,
    language text NOT NULL,
    label text NOT NULL,
    preferred boolean NOT NULL,
    PRIMARY KEY (uri, language, label)
);
-- Prefix search (lower(label) LIKE 'q%') in one language.
CREATE INDEX IF NOT EXISTS esco_labels_prefix
    ON planning.esco_labels (language, lower(label) text_pattern_ops);
-- Search within labels (LIKE '%q%') with pg_trgm where the server has it.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm not available: ESCO search within labels scans the labels';
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS esco_labels_trigram ON planning.esco_labels '
                'USING gin (lower(label) gin_trgm_ops)';
    END IF;
END $$;
"""


class EscoFileError(ValueError):
    """A file that is not an ESCO classification CSV; `line` is the file's line (1 = the
    header) where the fault is, None for the file as a whole."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Concept:
    """One row of an ESCO file: the concept and its labels in the file's language."""

    uri: str
    kind: str
    detail: str | None
    preferred: str
    alternatives: tuple[str, ...]
    line: int


def language_of(path: Path, given: str | None = None) -> str:
    """The labels' language: `given`, else the file name's (`skills_nl.csv` → nl)."""
    if given is not None:
        if not LANGUAGE.match(given):
            raise EscoFileError(f"{given!r} is not a language code (two or three letters: nl).")
        return given
    found = FILE_LANGUAGE.search(path.name)
    if found is None:
        raise EscoFileError(
            f"{path.name}: the language is not in the file name (skills_<lang>.csv, as the "
            "ESCO portal names it); give it with --language."
        )
    return found.group(1).lower()


def _labels(value: str | None) -> tuple[str, ...]:
    """ESCO's altLabels: one label per line (a line may hold several, `|`-separated, in
    some exports)."""
    if not value:
        return ()
    out: list[str] = []
    for part in re.split(r"[\r\n|]+", value):
        label = " ".join(part.split())
        if label and label not in out:
            out.append(label)
    return tuple(out)


def read_concepts(text: Iterable[str]) -> Iterator[Concept]:
    """The concepts of an ESCO CSV (its lines); `EscoFileError` naming the line of the
    first fault: a missing column, an unknown conceptType, a URI that is not an ESCO
    skill's or occupation's, an empty or too long preferred label."""
    lines = iter(text)
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as e:
        raise EscoFileError(f"not a CSV file ({e}).", 1) from None
    if not header:
        raise EscoFileError("the file is empty.")
    header = [h.lstrip("\ufeff").strip() for h in header]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise EscoFileError(
            f"no column {', '.join(missing)} (an ESCO file's header names conceptType, "
            "conceptUri, preferredLabel, altLabels, …).",
            1,
        )
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise EscoFileError(f"not valid CSV ({e}).", start) from None
        line, start = start, reader.line_num + 1
        if None in row:
            raise EscoFileError("more fields than the header names.", line)
        yield _concept(row, line)


def _concept(row: dict[str, Any], line: int) -> Concept:
    concept_type = (row.get("conceptType") or "").strip()
    kind = CONCEPT_TYPES.get(concept_type)
    if kind is None:
        raise EscoFileError(
            f"conceptType {concept_type!r} is neither KnowledgeSkillCompetence nor Occupation.",
            line,
        )
    uri = (row.get("conceptUri") or "").strip()
    matched = ESCO_URI.match(uri)
    if matched is None or matched.group(1) != kind:
        raise EscoFileError(
            f"conceptUri {uri!r} is not an ESCO {kind} URI (http://data.europa.eu/esco/{kind}/…).",
            line,
        )
    preferred = " ".join((row.get("preferredLabel") or "").split())
    if not preferred:
        raise EscoFileError("preferredLabel is empty.", line)
    alternatives = tuple(a for a in _labels(row.get("altLabels")) if a != preferred)
    for label in (preferred, *alternatives):
        if len(label) > MAX_LABEL:
            raise EscoFileError(f"a label is longer than {MAX_LABEL} characters.", line)
    detail = (row.get("skillType") or row.get("iscoGroup") or "").strip() or None
    return Concept(uri, kind, detail, preferred, alternatives, line)


def read_file(path: Path) -> list[Concept]:
    """Every concept of the file (read whole first: a bad line changes nothing)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(read_concepts(f))
    except UnicodeDecodeError as e:
        raise EscoFileError(f"{path.name} is not UTF-8 text ({e.reason}).") from None
    except OSError as e:
        raise EscoFileError(f"cannot read {path}: {e.strerror}.") from None


@dataclass(frozen=True)
class Imported:
    """What an import did: concepts in the file, of which new; labels now held for them."""

    language: str
    concepts: int
    new: int
    labels: int


def import_concepts(conn: Any, concepts: Sequence[Concept], language: str) -> Imported:
    """Upsert the concepts and replace their labels in `language`, in one transaction
    (a psycopg connection): importing the same file twice leaves the same rows."""
    with conn.transaction():
        conn.execute(SCHEMA_SQL)
        conn.execute(
            "CREATE TEMP TABLE esco_in (uri text, kind text, detail text, label text, "
            "preferred boolean) ON COMMIT DROP"
        )
        with conn.cursor() as cur, cur.copy("COPY esco_in FROM STDIN") as copy:
            for c in concepts:
                copy.write_row((c.uri, c.kind, c.detail, c.preferred, True))
                for alt in c.alternatives:
                    copy.write_row((c.uri, c.kind, c.detail, alt, False))
        new = conn.execute(
            "WITH up AS (INSERT INTO planning.esco_concepts (uri, kind, detail) "
            "SELECT DISTINCT ON (uri) uri, kind, detail FROM esco_in ORDER BY uri "
            "ON CONFLICT (uri) DO UPDATE SET kind = excluded.kind, "
            "detail = excluded.detail, imported_at = now() "
            "RETURNING (xmax = 0) AS inserted) SELECT count(*) FILTER (WHERE inserted) FROM up"
        ).fetchone()[0]
        conn.execute(
            "DELETE FROM planning.esco_labels WHERE language = %s "
            "AND uri IN (SELECT uri FROM esco_in)",
            (language,),
        )
        # A concept listed twice in a file: its last row's labels (as a re-import would).
        conn.execute(
            "INSERT INTO planning.esco_labels (uri, language, label, preferred) "
            "SELECT uri, %s, label, bool_or(preferred) FROM esco_in GROUP BY uri, label "
            "ON CONFLICT DO NOTHING",
            (language,),
        )
        labels = conn.execute(
            "SELECT count(*) FROM planning.esco_labels WHERE language = %s "
            "AND uri IN (SELECT uri FROM esco_in)",
            (language,),
        ).fetchone()[0]
    return Imported(language, len({c.uri for c in concepts}), int(new), int(labels))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


SEARCH_SQL = """
WITH matched AS (
    SELECT DISTINCT ON (l.uri) l.uri, l.label AS matched, l.language,
        CASE
            WHEN lower(l.label) = $1 THEN 0
            WHEN lower(l.label) LIKE $2 THEN 1
            WHEN lower(l.label) LIKE $3 THEN 2
            ELSE 3
        END + CASE WHEN l.preferred THEN 0 ELSE 4 END
            + CASE WHEN l.language = $5 THEN 0 ELSE 8 END AS rank
    FROM planning.esco_labels l
    JOIN planning.esco_concepts c ON c.uri = l.uri
    WHERE l.language IN ($5, $6) AND lower(l.label) LIKE $4
      AND ($7::text IS NULL OR c.kind = $7)
    ORDER BY l.uri, rank, length(l.label)
)
SELECT m.uri, c.kind, c.detail, m.matched, m.rank,
    coalesce(p.label, f.label, m.matched) AS label,
    CASE WHEN p.label IS NOT NULL THEN $5 ELSE coalesce(f.language, m.language) END AS language
FROM matched m
JOIN planning.esco_concepts c ON c.uri = m.uri
LEFT JOIN planning.esco_labels p ON p.uri = m.uri AND p.language = $5 AND p.preferred
LEFT JOIN planning.esco_labels f ON f.uri = m.uri AND f.language = $6 AND f.preferred
ORDER BY m.rank, length(coalesce(p.label, f.label, m.matched)), label, m.uri
LIMIT $8
"""


async def search(
    pool: asyncpg.Pool, q: str, *, kind: str | None, language: str, limit: int
) -> list[dict[str, Any]]:
    """Concepts with a label (in `language`, or English) containing `q`, best first: an
    exact label, then labels starting with it, then a word starting with it, then any;
    preferred labels before alternative ones, the reader's language before English.
    Each with its preferred label in `language` (English when it has none there)."""
    words = " ".join(q.lower().split())
    like = _like(words)
    async with snapshot(pool) as conn:
        if not await _exists(conn):
            return []
        rows = await conn.fetch(
            SEARCH_SQL,
            words,
            f"{like}%",
            f"% {like}%",
            f"%{like}%",
            language,
            FALLBACK_LANGUAGE,
            kind,
            limit,
        )
    return [
        {
            "uri": r["uri"],
            "kind": r["kind"],
            "detail": r["detail"],
            "label": r["label"],
            "language": r["language"],
            "matched": r["matched"],
        }
        for r in rows
    ]


LABELS_SQL = """
SELECT c.uri, c.kind, c.detail,
    coalesce(p.label, f.label) AS label,
    CASE WHEN p.label IS NOT NULL THEN $2 ELSE $3 END AS language
FROM planning.esco_concepts c
LEFT JOIN planning.esco_labels p ON p.uri = c.uri AND p.language = $2 AND p.preferred
LEFT JOIN planning.esco_labels f ON f.uri = c.uri AND f.language = $3 AND f.preferred
WHERE c.uri = ANY($1::text[])
"""


async def concepts(pool: asyncpg.Pool, uris: Sequence[str], language: str) -> list[dict[str, Any]]:
    """The known ones of `uris`, each with its preferred label in `language` (English
    when it has none there; null when neither), in the order asked."""
    async with snapshot(pool) as conn:
        if not await _exists(conn):
            return []
        rows = await conn.fetch(LABELS_SQL, list(uris), language, FALLBACK_LANGUAGE)
    found = {
        r["uri"]: {
            "uri": r["uri"],
            "kind": r["kind"],
            "detail": r["detail"],
            "label": r["label"],
            "language": r["language"] if r["label"] is not None else None,
        }
        for r in rows
    }
    return [found[u] for u in dict.fromkeys(uris) if u in found]


async def _exists(conn: asyncpg.Connection) -> bool:
    """Whether ESCO was ever imported here (the tables are made by the first import)."""
    return bool(await conn.fetchval("SELECT to_regclass('planning.esco_labels') IS NOT NULL"))

"""Planning's ESCO reads: the skills and occupations the competence analysis picks from
(imported by `waypoint esco import`, `services/planning/esco.py`), found by label, and the
labels of the concepts a plan names, in the reader's language.

ESCO is reference data (nobody's personal data): these reads record nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import Field, StrictStr

from services.planning.esco import FALLBACK_LANGUAGE, concepts, search
from shared.auth import Staff
from shared.schemas import Answer, SingleLine

router = APIRouter(tags=["esco"])

Language = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z]{2,3}$",
        description="The labels' language (`nl`, `fr`, `en`, …); absent: the first of "
        "`Accept-Language`, else English. A concept without a label in it shows its English one.",
    ),
]


class EscoConceptOut(Answer):
    uri: str
    """The concept's ESCO URI (http://data.europa.eu/esco/skill/… or …/occupation/…)."""
    kind: Literal["skill", "occupation"]
    """`skill` (a skill, competence or knowledge) or `occupation`."""
    detail: str | None
    """A skill's `skillType` (`skill/competence`, `knowledge`), an occupation's ISCO group."""
    label: str | None
    """Its preferred label in the language asked (English when it has none there)."""
    language: str | None
    """The language of `label`."""


class EscoMatchOut(EscoConceptOut):
    matched: str = Field(
        description="The label the words were found in (maybe an alternative one)."
    )


def reader_language(lang: str | None, accept_language: str | None) -> str:
    """`lang`, else the first language of `Accept-Language` (`nl-BE` → nl), else English."""
    if lang:
        return lang
    for part in (accept_language or "").split(",")[:10]:
        tag = part.split(";")[0].strip().split("-")[0].lower()
        if 2 <= len(tag) <= 3 and tag.isalpha():
            return tag
    return FALLBACK_LANGUAGE


@router.get("/esco/search", response_model=list[EscoMatchOut])
async def search_esco(
    who: Staff,
    request: Request,
    q: Annotated[
        Annotated[StrictStr, Field(min_length=2, max_length=100), SingleLine],
        Query(
            description="Words of a label (any case): exact labels first, then labels "
            "starting with them, then a word starting with them, then any label holding them.",
        ),
    ],
    kind: Annotated[
        Literal["skill", "occupation"] | None, Query(description="Only skills or occupations.")
    ] = None,
    lang: Language = None,
    limit: Annotated[
        int, Query(ge=1, le=50, description="The most concepts to answer (1-50).")
    ] = 20,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> list[EscoMatchOut]:
    """ESCO skills and occupations by label (preferred and alternative labels, in the
    reader's language and in English), best match first; empty before an import."""
    found = await search(
        request.app.state.runtime.pool,
        q,
        kind=kind,
        language=reader_language(lang, accept_language),
        limit=limit,
    )
    return [EscoMatchOut(**f) for f in found]


@router.get("/esco/concepts", response_model=list[EscoConceptOut])
async def get_esco_concepts(
    who: Staff,
    request: Request,
    uri: Annotated[
        list[Annotated[StrictStr, Field(max_length=200), SingleLine]],
        Query(min_length=1, max_length=200, description="ESCO URIs (repeated, at most 200)."),
    ],
    lang: Language = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> list[EscoConceptOut]:
    """The known ones of the URIs (a plan's competences), each with its label in the
    reader's language, in the order asked; an unknown URI is left out."""
    found = await concepts(
        request.app.state.runtime.pool, uri, reader_language(lang, accept_language)
    )
    return [EscoConceptOut(**f) for f in found]

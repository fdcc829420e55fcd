"""Planning's EVC routes: the standards a portfolio is compared with (imported by
`waypoint evc import-standard`, `services/planning/evc.py`; reference data, nobody's
personal data: these reads record nothing), and the commands that compare a plan's
portfolio with one, item by item: the standard chosen, the items each evidence proves,
the counsellor's judgement per item, and the gaps turned into training needs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Request, status
from pydantic import ConfigDict, Field, StrictStr

from services.planning.api.commands import changed
from services.planning.api.dependencies import PlanCommand
from services.planning.api.esco import EscoConceptOut, Language, reader_language
from services.planning.api.schemas import Changed, Note
from services.planning.domain import PlanningError
from services.planning.esco import concepts
from services.planning.evc import get_standard, list_standards
from shared.auth import Staff
from shared.errors import NotFound
from shared.schemas import Answer, SingleLine, Strict

router = APIRouter(tags=["evc"])

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Code = Annotated[StrictStr, Field(pattern=CODE_PATTERN), SingleLine]
EscoSkill = Annotated[StrictStr, Field(max_length=200), SingleLine]


class StandardSummaryOut(Answer):
    standard_id: str
    """The standard's code, as imported (`mbo2-care`)."""
    title: str
    """Its title."""
    items: int
    """How many competence items it holds."""
    imported_at: datetime
    """When it was last imported."""


class StandardItemOut(Answer):
    item_id: str
    """The item's code within the standard (`B1-K1-W1`)."""
    title: str
    """What the item asks (the competence)."""
    description: str | None
    """More about it, as imported."""
    esco_skills: list[EscoConceptOut]
    """The ESCO skills it names, with their labels in the reader's language (a skill not
    imported into the ESCO tables is left out; `esco_uris` names them all)."""
    esco_uris: list[str]
    """The ESCO skill URIs it names."""


class StandardOut(Answer):
    standard_id: str
    """The standard's code, as imported."""
    title: str
    """Its title."""
    imported_at: datetime
    """When it was last imported."""
    items: list[StandardItemOut]
    """Its competence items, in the file's order."""


@router.get("/standards", response_model=list[StandardSummaryOut])
async def get_standards(who: Staff, request: Request) -> list[StandardSummaryOut]:
    """The EVC standards (a qualification's competences, …) a portfolio can be compared
    with, by title; empty before an import."""
    return [StandardSummaryOut(**s) for s in await list_standards(request.app.state.runtime.pool)]


@router.get("/standards/{standard_id}", response_model=StandardOut)
async def get_one_standard(
    who: Staff,
    request: Request,
    standard_id: Annotated[str, Path(pattern=CODE_PATTERN)],
    lang: Language = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StandardOut:
    """One standard with its items and their ESCO skills' labels in the reader's language."""
    pool = request.app.state.runtime.pool
    found = await get_standard(pool, standard_id)
    if found is None:
        raise NotFound(f"No standard {standard_id}.")
    uris = [u for i in found["items"] for u in i["esco_uris"]]
    labels = {
        c["uri"]: c
        for c in (
            await concepts(pool, uris, reader_language(lang, accept_language)) if uris else []
        )
    }
    return StandardOut(
        standard_id=found["standard_id"],
        title=found["title"],
        imported_at=found["imported_at"],
        items=[
            StandardItemOut(
                **i,
                esco_skills=[EscoConceptOut(**labels[u]) for u in i["esco_uris"] if u in labels],
            )
            for i in found["items"]
        ],
    )


class PortfolioStandardIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"standard_id": "mbo2-care"}]})

    standard_id: Code
    """The imported standard the portfolio is compared with (`GET /standards`)."""


class EvidenceItemsIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": ["B1-K1-W2"],
                    "esco_uris": [
                        "http://data.europa.eu/esco/skill/7a1b2c3d-0000-4000-8000-000000000002"
                    ],
                }
            ]
        }
    )

    items: list[Code] = Field(default_factory=list, max_length=200)
    """The items of the portfolio's standard the evidence proves (replacing those named
    before; at most 200)."""
    esco_uris: list[EscoSkill] = Field(default_factory=list, max_length=50)
    """The ESCO skills the evidence shows, as URIs (at most 50)."""


class ItemJudgementIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"judgement": "partly", "comment": "First aid shown at work, no certificate."}
            ]
        }
    )

    judgement: Literal["proven", "partly", "not_yet"]
    """`proven`, `partly` or `not_yet` (proven by the portfolio)."""
    comment: Note | None = None
    """Why (at most 2000 characters)."""


class GapsTurned(Changed):
    added: int
    """How many training needs were added to the competence analysis."""


@router.put("/plans/{plan_id}/portfolio/standard", response_model=Changed)
async def choose_standard(body: PortfolioStandardIn, cmd: PlanCommand, request: Request) -> Changed:
    """Compare the portfolio with an imported standard, item by item (its items as they
    are now; another standard than before starts the judgements afresh)."""
    found = await get_standard(request.app.state.runtime.pool, body.standard_id)
    if found is None:
        raise PlanningError("invalid", f"No standard {body.standard_id}.", "standard_id")
    plan = await cmd.run(
        lambda plan, at: plan.choose_portfolio_standard(
            standard_id=found["standard_id"],
            title=found["title"],
            items=found["items"],
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.put("/plans/{plan_id}/portfolio/evidence/{evidence_id}/items", response_model=Changed)
async def link_evidence(body: EvidenceItemsIn, cmd: PlanCommand, evidence_id: uuid.UUID) -> Changed:
    """Name the items of the standard an evidence proves, and the ESCO skills it shows."""
    plan = await cmd.run(
        lambda plan, at: plan.link_evidence(
            evidence_id=evidence_id,
            items=list(body.items),
            esco_uris=list(body.esco_uris),
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.put("/plans/{plan_id}/portfolio/items/{item_id}/judgement", response_model=Changed)
async def judge_item(
    body: ItemJudgementIn,
    cmd: PlanCommand,
    item_id: Annotated[str, Path(pattern=CODE_PATTERN)],
) -> Changed:
    """Record the counsellor's judgement of one item: proven, partly or not yet."""
    plan = await cmd.run(
        lambda plan, at: plan.judge_portfolio_item(
            item_id=item_id,
            judgement=body.judgement,
            comment=body.comment,
            actor=cmd.who.sub,
            at=at,
        )
    )
    return Changed(**changed(plan))


@router.post(
    "/plans/{plan_id}/portfolio/gaps/training-needs",
    status_code=status.HTTP_200_OK,
    response_model=GapsTurned,
)
async def gaps_to_training_needs(cmd: PlanCommand) -> GapsTurned:
    """Turn the items judged partly or not yet proven into training needs of the
    competence analysis (each once; with the item's first ESCO skill)."""
    added, plan = await cmd.result_of(
        lambda plan, at: plan.gaps_to_training_needs(actor=cmd.who.sub, at=at)
    )
    return GapsTurned(added=added, **changed(plan))

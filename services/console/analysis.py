"""The plan editor's competence analysis: the career target (in words, or an ESCO
occupation), the strengths, weaknesses and training needs, each an ESCO skill picked by
label search or the counsellor's own words, with its level as the client and the
counsellor assess it (seed 000's four proficiency levels). Labels show in the reader's
language (the console's), English where ESCO has none in it.

Plain forms, no script: the search is a GET form that shows the plan page again with what
ESCO holds; picking one is a POST. Every change sends the whole analysis again (`PUT
/planning/v1/plans/{id}/competence-analysis`) with the version the page showed.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.api import ApiError, FormErrors
from services.console.forms import api, submit, texts, token
from services.console.i18n import N_
from services.console.web import SignedIn, View

router = APIRouter()

PARTS = {
    "strengths": N_("Strength"),
    "weaknesses": N_("Weakness"),
    "training_needs": N_("Training need"),
}
# Seed 000's proficiency levels, the same for the client's and the counsellor's view.
LEVELS = {
    1: N_("1: does not know how"),
    2: N_("2: is uncertain how"),
    3: N_("3: knows how"),
    4: N_("4: is more than able"),
}
ESCO_KINDS = {"skill": N_("Skills"), "occupation": N_("Occupations")}
ITEM_KEYS = ("text", "esco_uri", "self_level", "counsellor_level")
TARGET_FIELDS = {
    "career_target": N_("Write the career target (at most 500 characters, on one line)."),
    "career_target_uri": N_("Choose an occupation from ESCO."),
}
ITEM_FIELDS = {
    "text": N_("Write the competence (at most 500 characters)."),
    "esco_uri": N_("Choose a skill from the list."),
    "part": N_("Choose strength, weakness or training need."),
    "self_level": N_("Choose a level from 1 to 4, or none."),
    "counsellor_level": N_("Choose a level from 1 to 4, or none."),
}
FIRST_THE_TARGET = N_("Record the career target first.")
FOUND_AS = N_("%(label)s (found as: %(matched)s)")
SEARCH_WORDS = N_("Type at least two letters of a skill or an occupation.")


def concept_uris(analysis: dict[str, Any] | None) -> list[str]:
    """The ESCO URIs an analysis names (its target's and its items')."""
    if not analysis:
        return []
    uris = [analysis.get("career_target_uri")]
    for part in PARTS:
        items = analysis.get(part)
        if isinstance(items, list):
            uris += [i.get("esco_uri") for i in items if isinstance(i, dict)]
    return [u for u in dict.fromkeys(uris) if isinstance(u, str)]


async def esco_labels(request: Request, page: View, uris: list[str]) -> dict[str, str]:
    """The ESCO labels of `uris` in the page's language (English where it has none)."""
    if not uris:
        return {}
    found = await api(request).get(
        token(page), "/planning/v1/esco/concepts", uri=uris, lang=page.language
    )
    return {c["uri"]: c["label"] for c in found if c.get("label")}


async def esco_search(
    request: Request, page: View, q: str | None, kind: str | None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """What ESCO holds for the words (None when nobody searched), or why not searched."""
    if q is None:
        return None, None
    if len(q.strip()) < 2:
        return [], page.gettext(SEARCH_WORDS)
    try:
        found = await api(request).get(
            token(page),
            "/planning/v1/esco/search",
            q=q.strip()[:100],
            kind=kind if kind in ESCO_KINDS else "skill",
            lang=page.language,
            limit=20,
        )
    except ApiError as e:
        if e.status != 422:
            raise
        return [], page.gettext(SEARCH_WORDS)
    return list(found), None


def options(page: View, found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A search's finds as choices: the label in the page's language, and the words found
    when they were another label ("provide first aid — found as: give first aid")."""
    out = []
    for f in found:
        label = str(f.get("label") or f.get("matched"))
        matched = f.get("matched")
        if matched and matched != label:
            label = page.gettext(FOUND_AS, label=label, matched=matched)
        out.append((str(f["uri"]), label))
    return out


def context(page: View) -> dict[str, Any]:
    """What the plan page's analysis section needs beside the plan."""
    return {
        "analysis_parts": PARTS,
        "part_options": [(k, page.gettext(n)) for k, n in PARTS.items()],
        "levels": LEVELS,
        "level_options": [(str(k), page.gettext(n)) for k, n in LEVELS.items()],
        "esco_kind_options": [(k, page.gettext(n)) for k, n in ESCO_KINDS.items()],
    }


def _level(value: str) -> int | str | None:
    return None if value == "" else int(value) if value.isdigit() else value


def _items(analysis: dict[str, Any], part: str) -> list[dict[str, Any]]:
    items = analysis.get(part)
    if not isinstance(items, list):
        return []
    return [{k: i.get(k) for k in ITEM_KEYS} for i in items if isinstance(i, dict)]


def _body(analysis: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "career_target": analysis.get("career_target"),
        "career_target_uri": analysis.get("career_target_uri"),
        **{part: _items(analysis, part) for part in PARTS},
    }
    body.update(changes)
    return body


async def _analysis(request: Request, page: View, plan_id: uuid.UUID) -> dict[str, Any] | None:
    plan = await api(request).get(token(page), f"/planning/v1/plans/{plan_id}")
    found = plan.get("competence_analysis")
    return found if isinstance(found, dict) else None


async def _change(
    request: Request,
    page: View,
    plan_id: uuid.UUID,
    name: str,
    body: dict[str, Any] | None,
    fields: dict[str, str],
    values: dict[str, Any],
    form: Any,
    where: dict[str, str] | None = None,
    done: str = "analysis",
) -> Response:
    from services.console.planner import show_plan

    refused = None
    if body is None:
        refused = FormErrors()
        refused.summary.append(page.gettext(FIRST_THE_TARGET))
    return await submit(
        request,
        page,
        "PUT",
        f"/planning/v1/plans/{plan_id}/competence-analysis",
        form,
        body,
        name=name,
        fields=fields,
        values=values,
        show=functools.partial(show_plan, request, page, plan_id),
        redirect=f"/plans/{plan_id}?done={done}#competences",
        where=where,
        refused=refused,
    )


@router.post("/plans/{plan_id}/competence-analysis/target")
async def set_target(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """The career target in words; an ESCO occupation's URI is kept while its words are."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "career_target")
    analysis = await _analysis(request, page, plan_id) or {}
    same = values["career_target"] == analysis.get("career_target")
    uri = analysis.get("career_target_uri") if same else None
    body = _body(analysis, career_target=values["career_target"], career_target_uri=uri)
    return await _change(
        request, page, plan_id, "analysis-target", body, TARGET_FIELDS, values, form
    )


@router.post("/plans/{plan_id}/competence-analysis/esco")
async def pick_from_esco(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """An ESCO concept picked from the search: a skill added to a part with its levels, or
    an occupation made the career target (its label in the page's language as its words)."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "esco_uri", "esco_kind", "part", "self_level", "counsellor_level")
    analysis = await _analysis(request, page, plan_id)
    uri = values["esco_uri"]
    label = (await esco_labels(request, page, [uri])).get(uri) if uri else None
    if values["esco_kind"] == "occupation":
        body = _body(analysis or {}, career_target=label or "", career_target_uri=uri or None)
        where = {"career_target": "esco_uri", "career_target_uri": "esco_uri"}
        return await _change(
            request, page, plan_id, "esco", body, TARGET_FIELDS, values, form, where
        )
    part = values["part"] if values["part"] in PARTS else "strengths"
    item = {
        "text": label or "",
        "esco_uri": uri or None,
        "self_level": _level(values["self_level"]),
        "counsellor_level": _level(values["counsellor_level"]),
    }
    items = _items(analysis or {}, part)
    # A skill picked again for the same part takes the levels given: it is not listed twice.
    index = next((n for n, i in enumerate(items) if uri and i.get("esco_uri") == uri), len(items))
    items[index : index + 1] = [item]
    at = f"{part}.{index}"
    fields = {f"{at}.{k}": m for k, m in ITEM_FIELDS.items()}
    # No label: no skill was chosen (or it is not in ESCO here).
    fields[f"{at}.text"] = ITEM_FIELDS["esco_uri"]
    where = {f"{at}.{k}": k for k in ITEM_FIELDS}
    where[f"{at}.text"] = "esco_uri"
    added = None if analysis is None else _body(analysis, **{part: items})
    return await _change(request, page, plan_id, "esco", added, fields, values, form, where)


@router.post("/plans/{plan_id}/competence-analysis/items")
async def add_item(request: Request, plan_id: uuid.UUID, page: SignedIn) -> Response:
    """A competence in the counsellor's own words (no ESCO skill), with its levels."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "text", "part", "self_level", "counsellor_level")
    analysis = await _analysis(request, page, plan_id)
    part = values["part"] if values["part"] in PARTS else "strengths"
    body = None
    fields: dict[str, str] = {}
    where: dict[str, str] = {}
    if analysis is not None:
        items = _items(analysis, part)
        at = f"{part}.{len(items)}"
        fields = {f"{at}.{k}": m for k, m in ITEM_FIELDS.items()}
        where = {f"{at}.{k}": k for k in ITEM_FIELDS}
        item = {
            "text": values["text"],
            "esco_uri": None,
            "self_level": _level(values["self_level"]),
            "counsellor_level": _level(values["counsellor_level"]),
        }
        body = _body(analysis, **{part: [*items, item]})
    return await _change(request, page, plan_id, "analysis-item", body, fields, values, form, where)


@router.post("/plans/{plan_id}/competence-analysis/{part}/{index}")
async def change_item(
    request: Request, plan_id: uuid.UUID, part: str, index: int, page: SignedIn
) -> Response:
    """One item's levels saved anew, or (`remove`) the item taken out."""
    form = await request.form()
    page.check_csrf(form)
    values = texts(form, "self_level", "counsellor_level", "remove")
    analysis = await _analysis(request, page, plan_id)
    name = f"item-{part}-{index}"
    if analysis is None or part not in PARTS or not 0 <= index < len(_items(analysis, part)):
        from services.console.planner import show_plan

        return await show_plan(request, page, plan_id, status=404)
    items = _items(analysis, part)
    if values["remove"]:
        del items[index]
        done = "analysis-removed"
    else:
        items[index] = {
            **items[index],
            "self_level": _level(values["self_level"]),
            "counsellor_level": _level(values["counsellor_level"]),
        }
        done = "analysis"
    at = f"{part}.{index}"
    fields = {f"{at}.{k}": ITEM_FIELDS[k] for k in ("self_level", "counsellor_level")}
    where = {f"{at}.{k}": k for k in ("self_level", "counsellor_level")}
    body = _body(analysis, **{part: items})
    return await _change(request, page, plan_id, name, body, fields, values, form, where, done=done)

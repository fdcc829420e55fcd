"""API docs a person can use: Swagger UI from an installed package (no CDN), the bearer
scheme behind its Authorize button, the problem+json answers in every OpenAPI document,
and the landing page of the combined server."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from shared.errors import PROBLEM_BASE, PROBLEM_JSON

# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes) as fastapi-offline ships it.
ASSETS = Path(fastapi_offline.__file__).parent / "static"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem detail.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"What went wrong, as `{PROBLEM_BASE}<code>`.",
            "examples": [PROBLEM_BASE + "validation-error"],
        },
        "title": {"type": "string", "description": "A short summary of the type."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong with this request."},
        "instance": {"type": "string", "description": "The path of the request."},
        "errors": {
            "type": "array",
            "description": "One entry per refused field (422), or the header over its limit.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "The field, e.g. `given_name` or `scores.networking`.",
                    },
                    "message": {"type": "string", "description": "Why it is refused."},
                },
            },
        },
    },
}

# Status → (description naming the problem types, does it apply to every operation?)
ANSWERS: dict[int, str] = {
    401: "No bearer token, or one that is expired, not yet valid or not ours (`unauthorized`).",
    403: "The token's roles or organisation do not allow this (`forbidden`).",
    404: "No such object, or not one the caller may see (`not-found`).",
    409: "The command is not allowed in the object's state: `version-conflict` (If-Match "
    "names an older version), `consent-required`, or the domain's own code.",
    413: "The request body is over the size limit (`content-too-large`).",
    422: "A field, parameter or header is refused; `errors` names each one (`validation-error`).",
    503: "The database or the broker is not reachable just now; nothing was changed, "
    "retry after `Retry-After` seconds (`service-unavailable`).",
}
UNSAFE = ("post", "put", "patch", "delete")
# One typical answer per status, shown beside the schema.
EXAMPLES: dict[int, tuple[str, str, str]] = {
    401: ("unauthorized", "Unauthorized", "A bearer token is required."),
    403: ("forbidden", "Forbidden", "This needs one of the roles: counsellor."),
    404: ("not-found", "Not found", "No case with this id."),
    409: ("version-conflict", "Version conflict", "The case is at version 4, not 3."),
    413: (
        "content-too-large",
        "Content too large",
        "The request body is larger than 1048576 bytes.",
    ),
    422: ("validation-error", "Invalid input", "The request has invalid fields: career_question"),
    503: (
        "service-unavailable",
        "Service unavailable",
        "A database or message broker is not "
        "reachable just now; nothing was changed. Retry shortly.",
    ),
}


def _problem(status: int) -> dict[str, Any]:
    code, title, detail = EXAMPLES[status]
    example: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/intake/v1/cases",
    }
    if status == 422:
        example["errors"] = [{"field": "career_question", "message": "Field required"}]
    return {
        "description": ANSWERS[status],
        "content": {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}
        },
    }


# The ids in paths mean the same in every operation (and every service): described once.
PATH_IDS: dict[str, str] = {
    "client_id": "The client's id (intake), of the caller's organisation.",
    "case_id": "The intake case's id, of the caller's organisation.",
    "plan_id": "The plan's id, of the caller's organisation.",
    "goal_id": "The goal's id, within the plan.",
    "action_id": "The action's id, within the plan.",
    "product_id": "The product's id (a CV, an application...), within the plan.",
    "use_id": "The id of an instrument's use (its result, interpretation), within the plan.",
    "evidence_id": "The evidence's id, within the plan's portfolio.",
    "item_id": "A competence item's code, within the portfolio's standard (`B1-K1-W1`).",
    "standard_id": "An EVC standard's code, as imported (`mbo2-care`).",
    "followup_id": "The follow-up's id, of the caller's organisation.",
    "checkin_id": "The check-in's id, within the follow-up.",
    "referral_id": "The referral's id (seen by its sending organisation and its partner).",
    "partner_id": "The partner's id in the shared partner directory.",
    "letter_id": "The dead letter's id, as the list shows it.",
    "complaint_id": "The complaint's id (intake), of the caller's organisation.",
    "session_id": "A session's id on the case (intake): what `POST .../sessions` answered.",
    "appointment_id": (
        "An appointment's id on the case (intake): what `POST .../appointments` answered."
    ),
    "group_id": "The group session's id (intake), of the caller's organisation.",
    "objective_id": "One of the organisation's objectives (intake): what `POST /objectives` "
    "answered.",
}


def describe_path_ids(schema: dict[str, Any]) -> None:
    """A path id without a description of its own gets the one of PATH_IDS."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                text = PATH_IDS.get(parameter.get("name", ""))
                if parameter.get("in") == "path" and text and not parameter.get("description"):
                    parameter["description"] = text


def document_problems(schema: dict[str, Any]) -> None:
    """Every operation lists the problem+json answers it can give (FastAPI's default 422
    shape replaced: the answer is our problem), by what the operation is: any with
    parameters or a body can be 422, an authenticated one 401/403/404/503, a command 409,
    one with a body 413."""
    describe_path_ids(schema)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses: set[int] = set()
            if "422" in operation["responses"]:
                statuses.add(422)
            if operation.get("security"):
                statuses |= {401, 403, 404, 422, 503}
            if method in UNSAFE and operation.get("security"):
                statuses.add(409)
            if "requestBody" in operation:
                statuses |= {413, 422}
            for status in sorted(statuses):
                operation["responses"][str(status)] = _problem(status)
    # FastAPI's validation shapes, now referenced by nothing.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def install_docs(app: FastAPI, prefix: str, openapi_url: str) -> None:
    """`<prefix>/docs`: Swagger UI with its script and style served from `<prefix>/docs-assets`;
    `<prefix>` and `<prefix>/` lead there."""
    assets = f"{prefix}/docs-assets"
    app.mount(assets, StaticFiles(directory=ASSETS), name=f"{prefix.strip('/')}-docs-assets")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """Swagger UI, from local assets."""
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            # No persistAuthorization: it would keep the bearer token in the browser's
            # localStorage, readable by any script of this origin long after the session.
        )

    @app.get(prefix, include_in_schema=False)
    @app.get(f"{prefix}/", include_in_schema=False)
    async def home() -> RedirectResponse:
        """The service's API docs."""
        return RedirectResponse(f"{prefix}/docs")


async def _health(app: FastAPI) -> tuple[bool, str]:
    runtime = app.state.runtime
    if runtime is None:
        return False, "not started"
    try:
        ok, body = await asyncio.wait_for(runtime.readiness(), timeout=2)
    except TimeoutError:
        return False, "no answer within 2 s"
    return bool(ok), str(body.get("status", "ready" if ok else "not-ready"))


async def landing_page(apps: dict[str, FastAPI]) -> bytes:
    """The combined server's `/developers`: each service's API docs and readiness (`/`
    is the console, for people)."""
    health = await asyncio.gather(*(_health(app) for app in apps.values()))
    rows = []
    for (name, app), (ok, status) in zip(apps.items(), health, strict=True):
        mark = "ready" if ok else "not ready"
        rows.append(
            f"<tr><td>{html.escape(app.title)}</td>"
            f'<td><a href="/{name}/docs">/{name}/docs</a></td>'
            f'<td><a href="/{name}/openapi.json">/{name}/openapi.json</a></td>'
            f'<td class="{"ok" if ok else "down"}">{mark} ({html.escape(status)})</td></tr>'
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Waypoint</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .4rem .8rem; text-align: left; }}
.ok {{ color: #176317; }} .down {{ color: #a11; }}
</style></head>
<body><h1>Waypoint: for developers</h1>
<p>The four services' API docs. In Swagger, "Authorize" takes a bearer token
(in dev mode: <code>waypoint token --role counsellor</code>).
People work in <a href="/">the console</a>.</p>
<table><tr><th>Service</th><th>API docs</th><th>OpenAPI</th><th>Health</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    return page.encode()

"""The API docs a person can use (shared/apidocs.py): Swagger UI from local assets, the
bearer scheme on every operation behind authentication, the problem+json answers, the
combined server's page for developers (`/developers`; `/` is the console), and in every
OpenAPI document an example of each request body (one the body's model accepts), a
description of every field and every parameter."""

from __future__ import annotations

import json
import re
import typing
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.errors import PROBLEM_JSON
from shared.serve import SERVICES, Combined
from shared.settings import Settings

# Open to anyone: the probes, and the export's JSON Schema (a published format).
PUBLIC = {"healthz", "readyz", "metrics", "client-export.json"}


@pytest.fixture(scope="module")
def combined() -> Combined:
    # The apps are built, not started: the docs need neither the store nor NATS.
    return Combined(Settings(auth_mode="dev"))


async def get(app: Combined, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def operations(app: Combined, service: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the service's OpenAPI document."""
    schema = (await get(app, f"/{service}/openapi.json")).json()
    return [
        (method, path, operation)
        for path, ops in schema["paths"].items()
        for method, operation in ops.items()
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_the_docs_page_loads_only_local_assets_and_they_are_served(
    combined: Combined, service: str
) -> None:
    page = await get(combined, f"/{service}/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    assert not [u for u in urls if "//" in u], "an asset from another host"
    kinds = {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css"}
    for asset, kind in kinds.items():
        url = f"/{service}/docs-assets/{asset}"
        assert url in urls
        answer = await get(combined, url)
        assert answer.status_code == 200
        assert kind in answer.headers["content-type"]
        assert len(answer.content) > 10_000


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_prefix_leads_to_its_docs(combined: Combined, service: str) -> None:
    for path in (f"/{service}", f"/{service}/"):
        answer = await get(combined, path)
        assert answer.status_code in (302, 307)
        assert answer.headers["location"] == f"/{service}/docs"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_but_the_public_ones_names_the_bearer_scheme(
    combined: Combined, service: str
) -> None:
    schema = (await get(combined, f"/{service}/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    ops = await operations(combined, service)
    assert len(ops) > 5
    for method, path, operation in ops:
        public = path.rsplit("/", 1)[-1] in PUBLIC
        assert bool(operation.get("security")) != public, (method, path)
        if not public:
            assert operation["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_documents_its_problem_answers_as_problem_json(
    combined: Combined, service: str
) -> None:
    schema = (await get(combined, f"/{service}/openapi.json")).json()
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, operation in await operations(combined, service):
        responses = operation["responses"]
        expected = set()
        if operation.get("security"):
            expected |= {"401", "403", "404", "422", "503"}
            if method in ("post", "put", "patch", "delete"):
                expected.add("409")
        if "requestBody" in operation:
            expected.add("413")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, answer in responses.items():
            if int(status) >= 400 and status != "504":
                assert list(answer["content"]) == [PROBLEM_JSON], (method, path, status)
                ref = answer["content"][PROBLEM_JSON]["schema"]["$ref"]
                assert ref == "#/components/schemas/Problem"


async def test_the_developers_page_lists_the_four_services_with_their_health(
    combined: Combined,
) -> None:
    page = await get(combined, "/developers")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for service in SERVICES:
        assert f'href="/{service}/docs"' in page.text
    # Not started here: every service shows as not ready.
    assert page.text.count("not ready") == len(SERVICES)
    assert "//" not in re.sub(r"<!doctype[^>]*>", "", page.text).replace("</", "")
    assert 'href="/"' in page.text  # the console, for people


async def test_the_root_is_the_console_asking_a_stranger_to_sign_in(combined: Combined) -> None:
    page = await get(combined, "/")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in"


# -- field descriptions and examples ------------------------------------------------------------
# Request bodies that need no example, each with its reason. (None today: keep it short.)
NO_EXAMPLE: dict[str, str] = {}


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a `$ref` names (local refs only, as FastAPI writes them)."""
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part]
        schema = target
    return schema


def body_schemas(doc: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The object schemas a request body may be, by name (an optional body is `anyOf` the
    model and null)."""
    if "$ref" in schema:
        return [(schema["$ref"].rsplit("/", 1)[-1], resolve(doc, schema))]
    found = []
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += body_schemas(doc, option)
    return found


def undescribed(doc: dict[str, Any], schema: Any, where: str, seen: set[str]) -> list[str]:
    """Every property (at any depth, through `$ref`, items, `anyOf`...) without a
    description, as `Model.field` paths."""
    if isinstance(schema, list):
        return [p for item in schema for p in undescribed(doc, item, where, seen)]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return undescribed(doc, resolve(doc, schema), name, seen)
    missing = []
    for field, sub in schema.get("properties", {}).items():
        if not sub.get("description"):
            missing.append(f"{where}.{field}")
        missing += undescribed(doc, sub, f"{where}.{field}", seen)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in schema:
            missing += undescribed(doc, schema[key], where, seen)
    return missing


@pytest.mark.parametrize("service", SERVICES)
async def test_every_request_body_has_an_example(combined: Combined, service: str) -> None:
    doc = (await get(combined, f"/{service}/openapi.json")).json()
    lacking = []
    bodies = 0
    for method, path, operation in await operations(combined, service):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            for name, schema in body_schemas(doc, media["schema"]):
                bodies += 1
                if not schema.get("examples") and name not in NO_EXAMPLE:
                    lacking.append(f"{method.upper()} {path}: {name}")
    assert bodies > 3
    assert not lacking, "request bodies without an example:\n" + "\n".join(lacking)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_field_of_every_schema_has_a_description(
    combined: Combined, service: str
) -> None:
    doc = (await get(combined, f"/{service}/openapi.json")).json()
    seen: set[str] = set()
    missing = []
    for name, schema in doc["components"]["schemas"].items():
        seen.add(name)
        missing += undescribed(doc, schema, name, seen)
    # Schemas written inline in an operation (bodies, answers) too.
    for method, path, operation in await operations(combined, service):
        for part in [operation.get("requestBody", {}), *operation["responses"].values()]:
            for media in part.get("content", {}).values():
                missing += undescribed(doc, media.get("schema", {}), f"{method} {path}", seen)
    assert not missing, "fields without a description:\n" + "\n".join(sorted(set(missing)))


@pytest.mark.parametrize("service", SERVICES)
async def test_every_parameter_has_a_description(combined: Combined, service: str) -> None:
    missing = [
        f"{method.upper()} {path}: {parameter['in']} {parameter['name']}"
        for method, path, operation in await operations(combined, service)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert not missing, "parameters without a description:\n" + "\n".join(missing)


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's operations, through included routers (FastAPI keeps those as one route
    each, holding the router included as `original_router`)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_example_is_valid_for_its_model(combined: Combined, service: str) -> None:
    """Each example of a request body passes the body's own validation (the annotation
    FastAPI validates, strict models and all), as the JSON a client would send."""
    checked = 0
    for route in api_routes(combined.apps[service].routes):
        if route.body_field is None:
            continue
        annotation = route.body_field.field_info.annotation
        models = [
            t
            for t in (annotation, *typing.get_args(annotation))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        assert models, (route.path, annotation)
        for model in models:
            examples = model.model_json_schema().get("examples", [])
            for example in examples:
                as_sent = json.loads(json.dumps(example))
                try:
                    TypeAdapter(annotation).validate_python(as_sent)
                except ValidationError as e:
                    pytest.fail(f"{route.path}: the example of {model.__name__} is refused: {e}")
                checked += 1
    assert checked > 3

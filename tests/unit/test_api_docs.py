"""The API docs a person can use (shared/apidocs.py): Swagger UI from local assets, the
bearer scheme on every operation behind authentication, the problem+json answers, and the
combined server's page for developers (`/developers`; `/` is the console)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

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

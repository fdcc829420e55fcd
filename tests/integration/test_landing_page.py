"""The combined server's page for developers with the four services running: their API
docs and their health, read from each service's own readiness. (`/` is the console.)"""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from shared.serve import SERVICES, Combined
from shared.settings import Settings
from tests.support import eventually


async def test_the_developers_page_shows_every_running_service_as_ready(
    settings: Settings,
    intake_app: FastAPI,
    planning_app: FastAPI,
    followup_app: FastAPI,
    referral_app: FastAPI,
) -> None:
    apps = {
        "intake": intake_app,
        "planning": planning_app,
        "followup": followup_app,
        "referral": referral_app,
    }
    combined = Combined(settings, apps=apps)
    transport = httpx.ASGITransport(app=combined)

    async def page() -> str | None:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            r = await client.get("/developers")
        assert r.status_code == 200
        # Followers may still be catching up just after a busy test: ready shortly after.
        return r.text if "not ready" not in r.text else None

    text = await eventually(page, "every service ready on the developers page", 20)
    for service in SERVICES:
        row = re.search(rf"<tr><td>Waypoint {service}</td>.*?</tr>", text)
        assert row is not None, text
        assert f'href="/{service}/docs"' in row.group(0)
        assert 'class="ok">ready' in row.group(0)
    # People start at the console: `/` asks a stranger to sign in, and links here.
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        root = await client.get("/")
    assert root.status_code == 303 and root.headers["location"] == "/sign-in"

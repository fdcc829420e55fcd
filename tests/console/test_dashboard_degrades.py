"""The dashboard when the report APIs cannot be reached: the console alone
(`python -m services.console`) calling APIs at an address where nothing answers. The page
still shows, each figure with its notice in place of the chart (no error page), the date
form works, and a figure's CSV says it cannot be made now."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.embedded import free_port
from tests.console.alone import console_alone, csrf
from tests.console.conftest import System


@pytest.fixture
def console_without_apis(system: System) -> Iterator[str]:
    # Nobody listens there: every API call fails.
    with console_alone(system, f"http://127.0.0.1:{free_port()}") as base:
        yield base


def test_the_dashboard_shows_a_notice_for_each_report_it_cannot_read(
    console_without_apis: str,
) -> None:
    with httpx.Client(base_url=console_without_apis, headers={"Accept-Language": "en"}) as tab:
        page = tab.get("/sign-in")
        signed = tab.post(
            "/sign-in", data={"csrf_token": csrf(page.text), "person": "team_lead", "next": "/"}
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/dashboard"
        dashboard = tab.get("/dashboard", params={"from": "2026-01-01", "to": "2026-03-31"})
        assert dashboard.status_code == 200, dashboard.text
        for figure in ("outcomes", "days-to-outcome", "caseload", "hours", "network"):
            assert f'id="{figure}-missing"' in dashboard.text, figure
        assert "The follow-up figures cannot be read just now" in dashboard.text
        assert "The caseload figures cannot be read just now" in dashboard.text
        assert "The referral network figures cannot be read just now" in dashboard.text
        assert "<svg" not in dashboard.text and 'id="period-from"' in dashboard.text
        answer = tab.get("/dashboard/network.csv", params={"from": "2026-01-01"})
        assert answer.status_code == 503
        assert "cannot be read just now" in answer.text
        assert "attachment" not in answer.headers.get("content-disposition", "")

"""A withdrawn statistics consent takes the client out of the follow-up figures at once
(one event delivery); granted again, the client counts again; an older event arriving
late changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx

from tests.scenarios import FOLLOWUP as BASE
from tests.scenarios import a_followup_with, consent_event

PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}


async def test_a_withdrawn_statistics_consent_leaves_the_figures_at_once(
    followup_app: Any, followup_api: httpx.AsyncClient, js: Any, token: Any
) -> None:
    app, pool = followup_app.state.application, followup_app.state.runtime.pool
    org = f"org-{uuid.uuid4().hex[:6]}"
    ids = [
        await a_followup_with(
            app, js, org, accepted_on=date(2026, 1, 1), outcome=o, outcome_on=date(2026, 3, 2)
        )
        for o in ("employed", "education")
    ]
    lead = {"Authorization": f"Bearer {token('team_lead', org=org)}"}

    async def report() -> dict[str, Any]:
        r = await followup_api.get(f"{BASE}/reports/outcomes", params=PERIOD, headers=lead)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    async def until(check: Any) -> dict[str, Any]:
        for _ in range(200):
            found = await report()
            if check(found):
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"the report never became as expected: {found}")

    await until(lambda r: r["followups_with_outcome"] == 2)
    client = await pool.fetchval(
        "SELECT client_id FROM followup.followups_view WHERE followup_id = $1", ids[1]
    )
    base = 2**61 + uuid.uuid4().int % 10**9

    await consent_event(js, client, org, granted=False, position=base + 10)
    found = await until(lambda r: r["followups_with_outcome"] == 1)
    assert found["outcomes"] == {"employed": 1}

    # An older grant arriving late does not undo the withdrawal.
    await consent_event(js, client, org, granted=True, position=base + 5)
    await asyncio.sleep(0.5)
    assert (await report())["outcomes"] == {"employed": 1}

    # Granted again (newer): the client counts again.
    await consent_event(js, client, org, granted=True, position=base + 20)
    found = await until(lambda r: r["followups_with_outcome"] == 2)
    assert found["outcomes"] == {"employed": 1, "education": 1}

"""Dev mode's demo partner directory: `waypoint run` registers it once the system answers,
so that the console's referral pages have partners on a fresh system; seeding again adds
nothing."""

from __future__ import annotations

import time

import httpx

from shared.demo import DEMO_PARTNERS, seed_demo_directory
from tests.console.conftest import System
from tests.console.journey import token_of


def test_a_fresh_dev_system_has_the_demo_partners_and_seeding_again_adds_none(
    system: System,
) -> None:
    admin = token_of(system, "a.admin", ["admin"])
    wanted = {p["partner_id"] for p in DEMO_PARTNERS}
    with httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {admin}"}) as api:
        deadline = time.monotonic() + 20
        while True:
            listed = api.get("/referral/v1/partners", params={"limit": 200})
            assert listed.status_code == 200, listed.text
            found = {p["partner_id"] for p in listed.json()}
            if wanted <= found:
                break
            assert time.monotonic() < deadline, f"demo partners missing: {wanted - found}"
            time.sleep(0.2)
        by_id = {p["partner_id"]: p for p in listed.json()}
        assert by_id[DEMO_PARTNERS[1]["partner_id"]]["name"] == "Zorgacademie Midden"
        assert by_id[DEMO_PARTNERS[2]["partner_id"]]["open_places"] is None  # no limit

    assert seed_demo_directory(system.base, admin, wait_seconds=5) == 0

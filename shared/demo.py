"""Dev mode's demo partner directory: `waypoint run` in dev mode puts these partners in
organisation org-demo's directory once the system answers, so that a newcomer can propose
a referral in the console without registering a partner first (the README's own partner,
`p.partner`'s, stays the README's to register). Registering one that is there already is
refused (409) and skipped: the seeding can run at every start."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEMO_PARTNERS: list[dict[str, Any]] = [
    {
        "partner_id": str(uuid.UUID("00000000-0000-4000-8000-00000000de01")),
        "name": "Taalhuis Midden",
        "description": "Dutch for work and daily life, in small groups.",
        "services": [
            {
                "name": "Nederlands op de werkvloer",
                "category": "language",
                "languages": ["nl", "en", "fr"],
                "area": "Utrecht",
                "eligibility": "Adults who speak some Dutch (level A1 or more).",
            }
        ],
        "accepted_categories": ["identity", "contact", "career_question"],
        "contact_email": "intake@taalhuis-midden.example.org",
        "capacity": 8,
    },
    {
        "partner_id": str(uuid.UUID("00000000-0000-4000-8000-00000000de02")),
        "name": "Zorgacademie Midden",
        "description": "Vocational courses in care and welfare.",
        "services": [
            {
                "name": "Retraining course for care assistants",
                "category": "training",
                "languages": ["nl", "en"],
                "area": "Utrecht",
                "eligibility": "Adults with a basic qualification (MBO 1).",
            }
        ],
        "accepted_categories": ["identity", "contact", "career_question", "assessments", "plan"],
        "contact_email": "intake@zorgacademie.example.org",
        "capacity": 12,
    },
    {
        "partner_id": str(uuid.UUID("00000000-0000-4000-8000-00000000de03")),
        "name": "Budgetcoaching Oost",
        "description": "Help with debts and a household budget.",
        "services": [
            {
                "name": "Budget coaching",
                "category": "debt",
                "languages": ["nl", "fr"],
                "area": "Amersfoort",
                "eligibility": "Anyone with payment arrears.",
            }
        ],
        "accepted_categories": ["identity", "contact"],
        "contact_email": "hulp@budgetcoaching-oost.example.org",
        "capacity": None,
    },
]


def seed_demo_directory(base: str, admin_token: str, *, wait_seconds: float = 120.0) -> int:
    """Register the demo partners at `base` once it answers; how many were new."""
    deadline = time.monotonic() + wait_seconds
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=10
    ) as api:
        while True:
            try:
                if api.get("/referral/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                log.warning("demo partners not registered: %s did not answer", base)
                return 0
            time.sleep(0.5)
        new = 0
        for partner in DEMO_PARTNERS:
            try:
                r = api.post("/referral/v1/partners", json=partner)
            except httpx.HTTPError as e:
                log.warning("demo partner %s not registered: %s", partner["name"], e)
                continue
            if r.status_code == 201:
                new += 1
            elif r.status_code != 409:
                log.warning(
                    "demo partner %s refused: %s %s", partner["name"], r.status_code, r.text
                )
        return new


def seed_in_background(base: str, admin_token: str) -> threading.Thread:
    thread = threading.Thread(
        target=seed_demo_directory, args=(base, admin_token), name="demo-directory", daemon=True
    )
    thread.start()
    return thread

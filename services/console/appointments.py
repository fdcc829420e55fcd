"""What the console shows of appointments: the case's (its appointments, no-shows and the
dates the agency's rhythm proposes) and the signed-in counsellor's of today, for the
worklist; the words of their channels, statuses and cancellers. The forms: `agenda.py`."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request

from services.console.forms import api, token
from services.console.i18n import N_
from services.console.web import View

SESSION_KINDS = {
    "intake": N_("intake"),
    "deepening": N_("deepening"),
    "synthesis": N_("synthesis"),
    "aftercare": N_("aftercare"),
}
CHANNELS = {"in_person": N_("in person"), "phone": N_("by phone"), "video": N_("by video")}
APPOINTMENT_STATUSES = {
    "planned": N_("planned"),
    "held": N_("held"),
    "cancelled": N_("cancelled"),
    "missed": N_("missed (no-show)"),
}
CANCELLERS = {"client": N_("the client"), "agency": N_("the agency")}


def agency_zone(page: View) -> ZoneInfo:
    try:
        return ZoneInfo(page.settings.console_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def case_agenda(request: Request, page: View, case_id: uuid.UUID) -> dict[str, Any]:
    """The case's appointments, no-shows and proposed dates (a recorded read)."""
    found: dict[str, Any] = await api(request).get(
        token(page), f"/intake/v1/cases/{case_id}/appointments"
    )
    zone = agency_zone(page)
    found["proposals"] = [
        datetime.fromisoformat(str(d)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        for d in found["proposed"]
    ]
    return found


async def todays_appointments(request: Request, page: View) -> list[dict[str, Any]]:
    """The signed-in counsellor's appointments of today (the agency's day), by start."""
    zone = agency_zone(page)
    today = datetime.now(zone).date()
    start = datetime.combine(today, time(0, 0), tzinfo=zone)
    found: list[dict[str, Any]] = await api(request).get(
        token(page),
        "/intake/v1/appointments",
        **{"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()},
    )
    return found

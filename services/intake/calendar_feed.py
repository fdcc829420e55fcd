"""A counsellor's appointments as an iCalendar feed (RFC 5545, built with `icalendar`).

What a calendar needs and no more: the session's kind, the case's short reference (the
first eight characters of its id, which the console finds), the time, the channel and the
place. No client's name, no text about them: a calendar is synchronised to phones and
providers the agency does not control. A cancelled appointment stays in the feed as
`STATUS:CANCELLED` (so that subscribed calendars drop it); `SEQUENCE` counts its changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

KIND_NAMES = {
    "intake": "Intake",
    "deepening": "Deepening",
    "synthesis": "Synthesis",
    "aftercare": "Aftercare",
}
CHANNEL_NAMES = {"in_person": "In person", "phone": "Phone", "video": "Video"}
STATUSES = {"planned": "CONFIRMED", "held": "CONFIRMED", "missed": "CONFIRMED"}


def reference(case_id: Any) -> str:
    """A case's short reference, as the calendar shows it."""
    return str(case_id)[:8]


def feed(counsellor: str, rows: list[dict[str, Any]], *, now: datetime) -> bytes:
    """The calendar of `counsellor`'s appointments (rows of `appointments_view`)."""
    cal = Calendar()
    cal.add("prodid", "-//Waypoint//Appointments//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Waypoint: {counsellor}")
    for row in rows:
        event = Event()
        kind = KIND_NAMES.get(row["kind"], row["kind"])
        channel = CHANNEL_NAMES.get(row["channel"], row["channel"])
        event.add("uid", f"{row['appointment_id']}@waypoint")
        event.add("dtstamp", now)
        event.add("last-modified", row["updated_at"])
        event.add("sequence", row["sequence"])
        event.add("dtstart", row["starts_at"])
        event.add("dtend", row["starts_at"] + timedelta(minutes=row["minutes"]))
        event.add("summary", f"{kind} session, case {reference(row['case_id'])} ({channel})")
        event.add("location", row["place"] or channel)
        event.add("description", f"Waypoint case {row['case_id']}")
        event.add("status", STATUSES.get(row["status"], "CANCELLED"))
        event.add("transp", "OPAQUE" if row["status"] == "planned" else "TRANSPARENT")
        event.add("categories", [kind])
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical

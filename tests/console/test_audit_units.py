"""The auditor pages' pure parts: the timeline merged across services, the as-of moment
read from the field or a link, and a value of an event's data as text."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.console.audit_pages import merged_timeline, parse_moment, shown, state_link

BRUSSELS = ZoneInfo("Europe/Brussels")


def event(position: int, at: str, type: str = "Case.Opened") -> dict[str, object]:
    return {
        "position": position,
        "type": type,
        "occurred_at": at,
        "actor": "c.jansen",
        "data": {},
        "hash": "a" * 64,
        "prev_hash": "b" * 64,
    }


def test_the_timeline_orders_every_services_events_by_time_then_service_then_position() -> None:
    merged = merged_timeline(
        {
            "referral": [event(1, "2026-03-02T10:00:00+00:00", "Referral.Proposed")],
            "intake": [
                event(7, "2026-03-02T09:00:00+00:00"),
                event(9, "2026-03-02T10:00:00+00:00", "Case.Accepted"),
            ],
            "planning": [event(2, "2026-03-02T11:00:00+01:00", "Plan.Created")],
        }
    )
    assert [(e.service, e.position) for e in merged] == [
        ("intake", 7),
        ("intake", 9),
        ("planning", 2),  # 11:00 in +01:00 is 10:00 UTC: planning comes after intake
        ("referral", 1),
    ]


def test_the_as_of_moment_is_the_agencys_time_unless_it_carries_its_offset() -> None:
    local = parse_moment("2026-03-02T10:15", BRUSSELS)
    assert local == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert parse_moment("2026-03-02 10:15:30", BRUSSELS) == datetime(
        2026, 3, 2, 9, 15, 30, tzinfo=UTC
    )
    exact = parse_moment("2026-03-02T10:15:00.123456+00:00", BRUSSELS)
    assert exact == datetime(2026, 3, 2, 10, 15, 0, 123456, tzinfo=UTC)
    for wrong in ("yesterday", "1500-01-01T00:00", "2026-13-01T00:00"):
        assert parse_moment(wrong, BRUSSELS) is None, wrong
    assert parse_moment("", BRUSSELS) is None


def test_a_link_to_the_state_just_after_an_event_keeps_its_exact_moment() -> None:
    moment = datetime(2026, 3, 2, 10, 15, 0, 123456, tzinfo=UTC)
    link = state_link("c1", moment)
    assert link == "/audit/cases/c1/state?as_of=2026-03-02T10%3A15%3A00.123456%2B00%3A00"
    query = link.split("as_of=")[1].replace("%3A", ":").replace("%2B", "+")
    assert parse_moment(query, BRUSSELS) == moment


def test_a_value_reads_as_text() -> None:
    assert shown(None) == "—"
    assert shown("accepted") == "accepted"
    assert shown({"b": 1, "a": [1, "é"]}) == '{"a": [1, "é"], "b": 1}'
    assert shown(3) == "3"

"""Retention per purpose without a database: the periods count back in calendar months,
a period never outlasts the client file, and a referral's packet is removed only once it
ended before the cutoff (a tombstone: the record stays, its partner-facing texts go)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.followup.domain import StatisticsPurge
from services.referral.domain import REMOVED, Referral
from shared.privacy.retention import PURPOSES, Period, policy
from shared.settings import Settings

T0 = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "months", "cutoff"),
    [
        (datetime(2026, 3, 10, 12, tzinfo=UTC), 12, datetime(2025, 3, 10, 12, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 14, datetime(2024, 11, 15, tzinfo=UTC)),
        (datetime(2031, 5, 1, tzinfo=UTC), 84, datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_a_period_counts_back_in_calendar_months(
    now: datetime, months: int, cutoff: datetime
) -> None:
    assert Period(months).cutoff(now) == cutoff


def test_data_is_kept_on_the_last_day_and_expires_after() -> None:
    year = Period(12)
    ended = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
    assert not year.expired(ended, ended + timedelta(days=30))
    assert not year.expired(ended, datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    assert year.expired(ended, datetime(2026, 3, 10, 9, 31, tzinfo=UTC))


def test_periods_read_in_words_and_are_at_least_a_month() -> None:
    assert Period.years(7).describe() == "7 years"
    assert Period(1).describe() == "1 month"
    assert Period(18).describe() == "18 months"
    assert Period(12).describe() == "12 months"
    with pytest.raises(ValueError, match="at least one month"):
        Period(0)


def test_the_policy_has_a_rule_per_purpose_never_longer_than_the_file() -> None:
    rules = policy(guidance_years=7, referral_packet_months=12)
    assert tuple(rules) == PURPOSES == ("guidance", "referral_packet", "statistics")
    assert rules["statistics"].period == Period(120)
    assert rules["guidance"].period == Period(84)
    assert rules["referral_packet"].text.startswith("referral_packet: 12 months after")
    assert policy(guidance_years=1, referral_packet_months=12)["referral_packet"]
    with pytest.raises(ValueError, match="outlast the client file"):
        policy(guidance_years=1, referral_packet_months=13)
    with pytest.raises(ValidationError, match="RETENTION_REFERRAL_PACKET_MONTHS"):
        Settings(retention_years=2, retention_referral_packet_months=25)
    with pytest.raises(ValidationError, match="retention_referral_packet_months"):
        Settings(retention_referral_packet_months=0)
    assert Settings().retention_referral_packet_months == 12


def referral(*steps: str) -> Referral:
    r = Referral.propose(
        referral_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        organisation="org-a",
        partner_id=uuid.uuid4(),
        reason="Debts stand in the way.",
        data_categories=["identity"],
        consent_id=uuid.uuid4(),
        actor="counsellor-1",
        at=T0,
    )
    at = T0
    for step in steps:
        at += timedelta(hours=1)
        if step == "send":
            r.send(actor="c", at=at)
        elif step == "accept":
            r.accept(actor="p", at=at)
        elif step == "decline":
            r.decline(reason="No places.", actor="p", at=at)
        elif step == "outcome":
            r.report_outcome(outcome="completed", notes="Went well.", actor="p", at=at)
        elif step == "close":
            r.close(note="Done.", actor="c", at=at)
        elif step == "withdraw":
            r.withdraw(reason="Moved away.", actor="c", at=at)
    r.collect_events()
    return r


@pytest.mark.parametrize(
    ("steps", "hours"),
    [
        (("send", "decline"), 2),
        (("send", "decline", "close"), 3),
        (("send", "accept", "outcome", "close"), 4),
        (("withdraw",), 1),
    ],
)
def test_an_ended_referrals_packet_is_removed_once_past_the_cutoff(
    steps: tuple[str, ...], hours: int
) -> None:
    r = referral(*steps)
    ended = T0 + timedelta(hours=hours)
    assert r.ended_at == ended
    later = ended + timedelta(days=400)
    assert not r.remove_packet(ended_before=ended, rule="x", actor="system:retention", at=later)
    assert r.collect_events() == []
    assert r.remove_packet(
        ended_before=ended + timedelta(seconds=1), rule="rp: 12 months", actor="s", at=later
    )
    [event] = r.collect_events()
    assert isinstance(event, Referral.PacketRemoved)
    assert (event.rule, event.ended_at) == ("rp: 12 months", ended)
    assert r.packet_removed_at == later and r.packet_removal_rule == "rp: 12 months"
    assert r.reason == REMOVED and not r.shares_data
    assert r.decline_reason in (None, REMOVED)
    assert r.outcome is None or r.outcome.notes == REMOVED
    assert r.closing_note in (None, "Done."), "the counsellor's own note is the file's"
    assert r.status in ("declined", "closed", "withdrawn")
    # Once is enough.
    assert not r.remove_packet(ended_before=later, rule="x", actor="s", at=later)


@pytest.mark.parametrize(
    "steps", [(), ("send",), ("send", "accept"), ("send", "accept", "outcome")]
)
def test_a_running_referral_keeps_its_packet(steps: tuple[str, ...]) -> None:
    r = referral(*steps)
    assert r.ended_at is None
    far = T0 + timedelta(days=3650)
    assert not r.remove_packet(ended_before=far, rule="x", actor="s", at=far)
    assert r.collect_events() == [] and r.reason != REMOVED


def test_a_statistics_purge_is_a_receipt_of_at_least_one_figure() -> None:
    purge = StatisticsPurge.record(
        purge_id=uuid.uuid4(),
        organisation="org-a",
        rule="statistics: 10 years after the figure's day",
        cutoff=date(2016, 3, 10),
        figures=3,
        bottlenecks=0,
        actor="system:retention",
        at=T0,
    )
    [event] = purge.collect_events()
    assert isinstance(event, StatisticsPurge.Purged)
    assert (event.cutoff, event.figures, event.bottlenecks) == (date(2016, 3, 10), 3, 0)
    for figures, bottlenecks in ((0, 0), (-1, 2)):
        with pytest.raises(ValueError, match="at least one"):
            StatisticsPurge.record(
                purge_id=uuid.uuid4(),
                organisation=None,
                rule="r",
                cutoff=date(2016, 3, 10),
                figures=figures,
                bottlenecks=bottlenecks,
                actor="system:retention",
                at=T0,
            )

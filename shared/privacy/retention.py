"""Retention per purpose: how long each kind of data is kept, and from when it counts.

Pure policy (the standard library only); the services' jobs apply it:

- `guidance` (the whole client file, every service): `GUIDANCE_RETENTION_YEARS` (7)
  after the last of the client's cases closed; applied by intake's job as an erasure
  (the client's key destroyed, every service drops its rows, the erasure's receipt).
- `referral_packet` (what a partner received: the packet of the client's consented
  data and the referral's reason, the partner's decline reason and outcome notes):
  `GUIDANCE_RETENTION_REFERRAL_PACKET_MONTHS` (12) after the referral ended (closed,
  declined or withdrawn); applied by referral's job as a tombstone event
  (`Referral.PacketRemoved`): the referral record (ids, dates, status, outcome code)
  stays, its packet and letter answer 410 `packet-removed`, its partner-facing texts read
  `REMOVED`.
- `statistics` (follow-up's anonymised figures): when a client is erased, the outcome
  figures of their follow-ups (outcome code and day, days to outcome, bottlenecks,
  feedback) move to an anonymised archive without any id, so the team lead's and the
  funder's figures of past periods stay; `GUIDANCE_RETENTION_STATISTICS_YEARS` (10)
  after a figure's day, follow-up's job deletes it (a `StatisticsPurged` receipt).

A legal hold on any case of the client keeps everything, for every purpose. A period
never outlasts the client file: `guidance` takes what is left.
"""

from __future__ import annotations

import asyncio
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

import asyncpg

from shared.jobs import every

if TYPE_CHECKING:
    from shared.settings import Settings


class Clocked(Protocol):
    """An application with its clock (a service's application)."""

    def clock(self) -> datetime: ...


App = TypeVar("App", bound=Clocked)
Report = TypeVar("Report")


Purpose = Literal["guidance", "referral_packet", "statistics"]
PURPOSES: tuple[Purpose, ...] = ("guidance", "referral_packet", "statistics")
REMOVED = "REMOVED"
"""What a text removed by retention reads (the key may still exist: not `ERASED`)."""
ACTOR = "system:retention"


@dataclass(frozen=True)
class Period:
    """A retention period in calendar months (a year is twelve)."""

    months: int

    def __post_init__(self) -> None:
        if self.months < 1:
            raise ValueError("a retention period is at least one month")

    @classmethod
    def years(cls, years: int) -> Period:
        return cls(12 * years)

    def cutoff(self, now: datetime) -> datetime:
        """`now` moved back by the period; a day the target month lacks (31 March back one
        month, 29 February back a year) becomes that month's last day."""
        total = now.year * 12 + (now.month - 1) - self.months
        year, month = divmod(total, 12)
        month += 1
        day = now.day
        while True:
            try:
                return now.replace(year=year, month=month, day=day)
            except ValueError:
                day -= 1

    def expired(self, ended_at: datetime, now: datetime) -> bool:
        """Whether data whose purpose ended at `ended_at` is past its period at `now`
        (strictly: on the day it ends exactly, it is still kept)."""
        return ended_at < self.cutoff(now)

    def describe(self) -> str:
        if self.months % 12 == 0 and self.months >= 24:
            years = self.months // 12
            return f"{years} years"
        return f"{self.months} month{'s' if self.months != 1 else ''}"


@dataclass(frozen=True)
class Rule:
    """One purpose's rule: what it covers, how long after which moment."""

    purpose: Purpose
    period: Period
    starts: str
    covers: str
    removal: str

    @property
    def text(self) -> str:
        """The rule as receipts name it."""
        return f"{self.purpose}: {self.period.describe()} after {self.starts}"


def policy(
    *, guidance_years: int, referral_packet_months: int, statistics_years: int = 10
) -> dict[Purpose, Rule]:
    """The agency's rules, one per purpose, from its settings."""
    if referral_packet_months > 12 * guidance_years:
        raise ValueError(
            "the referral packet's period cannot outlast the client file "
            f"({referral_packet_months} months > {guidance_years} years)"
        )
    return {
        "guidance": Rule(
            "guidance",
            Period.years(guidance_years),
            "the last case closed",
            "the whole client file in every service",
            "erasure: the client's key destroyed, every service drops its rows",
        ),
        "referral_packet": Rule(
            "referral_packet",
            Period(referral_packet_months),
            "the referral ended (closed, declined or withdrawn)",
            "the packet a partner received: the client's consented data, the referral's "
            "reason, the partner's decline reason and outcome notes",
            "tombstone: the packet and letter are no longer served, the texts read REMOVED; "
            "the referral record (ids, dates, status) stays",
        ),
        "statistics": Rule(
            "statistics",
            Period.years(statistics_years),
            "the figure's day (outcome, feedback or bottleneck)",
            "the anonymised outcome figures kept after a client's erasure (no id, no text)",
            "deletion from the anonymised archive",
        ),
    }


def policy_of(settings: Settings) -> dict[Purpose, Rule]:
    """`policy` from the settings."""
    return policy(
        guidance_years=settings.retention_years,
        referral_packet_months=settings.retention_referral_packet_months,
        statistics_years=settings.retention_statistics_years,
    )


class RuleJob(ABC, Generic[App, Report]):
    """A purpose's periodic retention pass under its `rule`: the first pass one interval
    after start (the read models are being built then), one replica at a time (each pass
    takes the advisory lock `lock_key`, `shared.jobs.pass_lock`; `run_once` answers None when
    another replica holds it). `organisation` limits a pass to one organisation (the
    command line's `--organisation`)."""

    lock_name: bytes = b""
    name = "retention"

    def __init__(
        self,
        app: App,
        pool: asyncpg.Pool,
        *,
        rule: Rule,
        interval_seconds: float,
        clock: Callable[[], datetime] | None = None,
        organisation: str | None = None,
    ) -> None:
        self.app = app
        self.pool = pool
        self.rule = rule
        self.interval_seconds = interval_seconds
        self.clock: Callable[[], datetime] = clock or app.clock
        self.organisation = organisation
        self.lock_key = zlib.crc32(self.lock_name)

    async def run(self, stop: asyncio.Event) -> None:
        await every(
            stop,
            self.interval_seconds,
            lambda: self.run_once(apply=True),
            self.name,
            first_at_once=False,
        )

    @abstractmethod
    async def run_once(self, *, apply: bool) -> Report | None:
        """One pass (`apply`: carried out, else a dry run); None when another replica's
        pass holds the lock."""

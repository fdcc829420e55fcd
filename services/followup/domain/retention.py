"""The receipt of the `statistics` retention: one applied run that let anonymised figures go.

Pure domain (the standard library and eventsourcing only; ids and times passed in). The
anonymised archive holds no id of any client, case or follow-up; when its figures are
older than the agency's period, follow-up's job records `StatisticsPurged` with the rule,
the cutoff day and how many figures go, and the projection deletes them: the receipt is
the event, kept in follow-up's log (and audit chain) and published.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from eventsourcing.domain import Aggregate


class StatisticsPurge(Aggregate):
    """One run of the statistics retention that deleted anonymised figures."""

    class Purged(Aggregate.Created):
        organisation: str | None
        rule: str
        cutoff: date
        figures: int
        bottlenecks: int
        actor: str

    def __init__(
        self,
        organisation: str | None,
        rule: str,
        cutoff: date,
        figures: int,
        bottlenecks: int,
        actor: str,
    ) -> None:
        self.organisation = organisation
        self.rule = rule
        self.cutoff = cutoff
        self.figures = figures
        self.bottlenecks = bottlenecks
        self.actor = actor

    @classmethod
    def record(
        cls,
        *,
        purge_id: uuid.UUID,
        organisation: str | None,
        rule: str,
        cutoff: date,
        figures: int,
        bottlenecks: int,
        actor: str,
        at: datetime,
    ) -> StatisticsPurge:
        """The receipt of figures (and bottlenecks) dated before `cutoff` going, of one
        organisation or (None) all; at least one of them."""
        if figures < 0 or bottlenecks < 0 or figures + bottlenecks == 0:
            raise ValueError("a purge deletes at least one figure")
        return cls._create(
            cls.Purged,
            id=purge_id,
            timestamp=at,
            organisation=organisation,
            rule=rule,
            cutoff=cutoff,
            figures=figures,
            bottlenecks=bottlenecks,
            actor=actor,
        )

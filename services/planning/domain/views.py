"""A plan's views: its goals by rank, its content at this revision, its agreed versions
(mixed into `Plan`)."""

from __future__ import annotations

import copy
from typing import Any

from services.planning.domain.state import PlanState


class PlanViews(PlanState):
    """What the API and the agreed versions read of a plan."""

    def ranked_goals(self) -> list[dict[str, Any]]:
        """Goals by priority (1 = highest), each with its actions."""
        out = []
        for priority, goal_id in enumerate(self.ranking, start=1):
            goal = self.goals[goal_id]
            out.append(
                {
                    **goal.as_dict(),
                    "priority": priority,
                    "actions": [self.actions[a].as_dict() for a in goal.actions],
                }
            )
        return out

    def agreed_in_order(self) -> list[dict[str, Any]]:
        """The agreed versions, first agreement first, each numbered: `version` 1 is the
        first agreement, whatever the revision it was made on (kept as `revision`)."""
        return [
            {"version": number, **self.agreed_versions[revision].as_dict()}
            for number, revision in enumerate(sorted(self.agreed_versions), start=1)
        ]

    def agreed_version(self, version: int) -> dict[str, Any] | None:
        """Agreed version number `version` (1 = the first agreement), or None."""
        ordered = self.agreed_in_order()
        return ordered[version - 1] if 1 <= version <= len(ordered) else None

    def content(self) -> dict[str, Any]:
        """The plan's content at this revision, as agreed versions keep it.

        A deep copy: an agreed version must not change with the portfolio (whose evidence
        list and assessment are updated in place) or anything else that changes later.
        """
        return copy.deepcopy(
            {
                "plan_type": self.plan_type,
                "goals": self.ranked_goals(),
                "competence_analysis": self.competence_analysis_dict(),
                "portfolio": self.portfolio.as_dict(),
                "career_question": self.career_question,
                "insights": self.insights_list(),
                "decisions": self.decisions_list(),
                "support_needs": self.support_needs_dict(),
            }
        )

    def insights_list(self) -> list[dict[str, Any]]:
        """The insights, oldest first."""
        return [i.as_dict() for i in self.insights]

    def decisions_list(self) -> list[dict[str, Any]]:
        """The choices and decisions, oldest first."""
        return [d.as_dict() for d in self.decisions]

    def instruments_list(self) -> list[dict[str, Any]]:
        """The instruments used, in the order recorded (not part of the agreed content)."""
        return [u.as_dict() for u in self.instrument_uses.values()]

    def products_list(self) -> list[dict[str, Any]]:
        """What the actions produced, oldest first (not part of the agreed content)."""
        return [p.as_dict() for p in self.products.values()]

    def support_needs_dict(self) -> dict[str, Any] | None:
        """The support needs as recorded last (None until recorded)."""
        needs = self.support_needs
        return None if needs is None else needs.as_dict()

    def competence_analysis_dict(self) -> dict[str, Any] | None:
        """The competence analysis as the views show it (None until recorded)."""
        analysis = self.competence_analysis
        return None if analysis is None else analysis.as_dict()

    def agreements_dict(self) -> dict[str, dict[str, Any]]:
        """Per party, the revision it agreed to, when and who recorded it."""
        return {p: a.as_dict() for p, a in self.agreements.items()}

    def closed_dict(self) -> dict[str, Any] | None:
        """While closed: when, why, who (None otherwise)."""
        return None if self.closed is None else self.closed.as_dict()

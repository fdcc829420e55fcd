"""A plan's agreement and closing: each party agrees to a revision, both on one make
the plan `agreed`; a closed plan changes no more (mixed into `Plan`)."""

from __future__ import annotations

from datetime import datetime

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import PARTIES
from services.planning.domain.state import PlanState
from shared.text import guard_text


class Agreeing(PlanState):
    """The commands that agree to and close a plan."""

    def agree(self, *, party: str, actor: str, at: datetime) -> None:
        """`party` agrees to the current revision; both on one revision make it `agreed`."""
        self._require_open()
        if party not in PARTIES:
            raise PlanningError("invalid", f"Unknown party {party!r}.", "party")
        if not self.ranking:
            raise PlanningError("plan-incomplete", "A plan needs at least one goal to agree.")
        if self.plan_type is None:
            raise PlanningError("plan-incomplete", "Choose the plan's type before agreeing.")
        if self._agreed_by(party) == self.revision:
            return  # already agreed to this revision
        self.trigger_event(
            self.PartyAgreed,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            party=party,
            revision=self.revision,
            actor=actor,
        )
        if all(self._agreed_by(p) == self.revision for p in PARTIES):
            self.trigger_event(
                self.Agreed,
                timestamp=at,
                client_id=self.client_id,
                organisation=self.organisation,
                case_id=self.case_id,
                revision=self.revision,
                actions=[
                    {
                        "action_id": a.action_id,
                        "goal_id": a.goal_id,
                        "owner": a.owner,
                        "due_date": a.due_date,
                        "status": a.status,
                    }
                    for a in self.actions.values()
                ],
                content=self.content(),
                actor=actor,
            )

    def _agreed_by(self, party: str) -> int | None:
        """The revision `party` last agreed to (None: never)."""
        agreement = self.agreements.get(party)
        return None if agreement is None else agreement.revision

    def close(self, *, reason: str | None, actor: str, at: datetime) -> None:
        """Close the plan: its agreed versions stay readable, nothing changes any more."""
        self._require_open()
        guard_text(PlanningError, multiline=True, reason=reason)
        self.trigger_event(
            self.Closed,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            reason=reason,
            actor=actor,
        )

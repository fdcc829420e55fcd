"""What a plan's actions produce (seed 002: "draw up a skills-based CV", "write a job
application"): a CV, a job application (to whom, for which job, sent when, the answers),
a cover letter, a portfolio piece. A product is a record of work done under an action, not
content both parties agree to: recording one (or an application's answer) changes no
revision, so an agreed plan stays agreed (mixed into `Plan`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import APPLICATION_STATUSES, APPLICATION_STEPS, PRODUCT_KINDS
from services.planning.domain.state import PlanState
from shared.text import guard_text


def _required(field: str, value: str | None) -> None:
    if value is None or not value.strip():
        raise PlanningError("invalid", f"The {field.replace('_', ' ')} is empty.", field)


class Products(PlanState):
    """The commands on the products of a plan's actions."""

    def record_product(
        self,
        *,
        product_id: uuid.UUID,
        action_id: uuid.UUID,
        kind: str,
        title: str,
        dated: date,
        document_hash: str | None,
        notes: str | None,
        employer: str | None,
        position: str | None,
        sent_on: date | None,
        actor: str,
        at: datetime,
    ) -> None:
        """A product of an action (open or completed, not cancelled). An application names
        the employer and the job; with `sent_on` it starts as `sent`, else as `draft`."""
        self._require_open()
        if product_id in self.products:
            return  # a redelivery
        action = self.actions.get(action_id)
        if action is None:
            raise PlanningError("not-found", f"No action {action_id} in this plan.", "action_id")
        if action.status == "cancelled":
            raise PlanningError(
                "action-closed", "A cancelled action produces nothing.", "action_id"
            )
        if kind not in PRODUCT_KINDS:
            raise PlanningError("invalid", f"Unknown kind of product {kind!r}.", "kind")
        guard_text(
            PlanningError,
            title=title,
            employer=employer,
            position=position,
            document_hash=document_hash,
        )
        guard_text(PlanningError, multiline=True, notes=notes)
        _required("title", title)
        if dated > at.date():
            raise PlanningError("invalid", "A product cannot be dated ahead.", "date")
        if kind == "application":
            _required("employer", employer)
            _required("position", position)
            if sent_on is not None and sent_on > at.date():
                raise PlanningError("invalid", "An application cannot be sent ahead.", "sent_on")
        else:
            for field, value in (("employer", employer), ("position", position)):
                if value is not None:
                    raise PlanningError("invalid", "Only an application names it.", field)
            if sent_on is not None:
                raise PlanningError("invalid", "Only an application is sent.", "sent_on")
        self.trigger_event(
            self.ProductRecorded,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            product_id=product_id,
            action_id=action_id,
            kind=kind,
            title=title.strip(),
            dated=dated,
            document_hash=document_hash,
            notes=(notes or "").strip() or None,
            employer=None if employer is None else employer.strip(),
            position=None if position is None else position.strip(),
            sent_on=sent_on,
            actor=actor,
        )

    def record_application_status(
        self,
        *,
        product_id: uuid.UUID,
        status: str,
        on: date,
        answer: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        """An application moves on (sent, an interview, an offer, a rejection, withdrawn),
        on a day not ahead and not before its last step; the same status on the same day
        with the same answer again changes nothing."""
        self._require_open()
        product = self.products.get(product_id)
        if product is None:
            raise PlanningError("not-found", f"No product {product_id} in this plan.", "product_id")
        if product.kind != "application":
            raise PlanningError("invalid", "Only an application has a status.", "product_id")
        if status not in APPLICATION_STATUSES:
            raise PlanningError("invalid", f"Unknown status {status!r}.", "status")
        guard_text(PlanningError, multiline=True, answer=answer)
        answer = (answer or "").strip() or None
        last = product.steps[-1]
        if (last.status, last.on, last.answer) == (status, on, answer):
            return  # a redelivery
        if status not in APPLICATION_STEPS.get(last.status, ()):
            raise PlanningError(
                "invalid",
                f"An application that is {last.status} cannot become {status}.",
                "status",
            )
        if on > at.date():
            raise PlanningError("invalid", "The day lies ahead.", "on")
        if on < last.on:
            raise PlanningError(
                "invalid", f"The day lies before the last step ({last.on.isoformat()}).", "on"
            )
        self.trigger_event(
            self.ApplicationStatusChanged,
            timestamp=at,
            client_id=self.client_id,
            case_id=self.case_id,
            product_id=product_id,
            status=status,
            on=on,
            answer=answer,
            actor=actor,
        )

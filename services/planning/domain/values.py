"""The plan's value objects: what the plan's state holds, built by its events' `apply`.

Each is frozen; a change replaces it. `as_dict()` gives the form the plan's views,
its agreed versions (stored in `Plan.Agreed`) and the export have always had.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Action:
    """One step towards a goal: who does it, by when, and how it ended."""

    action_id: uuid.UUID
    goal_id: uuid.UUID
    description: str
    owner: str
    due_date: date
    added_at: datetime
    status: str = "open"
    closed_at: datetime | None = None
    cancel_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action_id": self.action_id,
            "goal_id": self.goal_id,
            "description": self.description,
            "owner": self.owner,
            "due_date": self.due_date,
            "status": self.status,
            "added_at": self.added_at,
            "closed_at": self.closed_at,
        }
        if self.status == "cancelled":
            out["cancel_reason"] = self.cancel_reason
        return out


@dataclass(frozen=True)
class Goal:
    """A SMART goal and the ids of its actions, in the order they were added."""

    goal_id: uuid.UUID
    title: str
    specific: str
    measure: str
    target_date: date
    competences: tuple[str, ...]
    added_at: datetime
    actions: tuple[uuid.UUID, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "goal_id": self.goal_id,
            "title": self.title,
            "specific": self.specific,
            "measure": self.measure,
            "target_date": self.target_date,
            "competences": list(self.competences),
            "added_at": self.added_at,
            "actions": list(self.actions),
        }


# The items of an analysis, each `{text, esco_uri, self_level, counsellor_level}` as
# recorded (older ones without the levels); `ERASED` (a string) once
# the client's key is gone, as every personal field of a stored event.
Items = tuple[dict[str, Any], ...] | str


def analysis_items(recorded: Any) -> Items:
    """The items of a stored event as the analysis keeps them."""
    return tuple(dict(i) for i in recorded) if isinstance(recorded, list) else str(recorded)


def _listed(kept: Items) -> Any:
    return [dict(i) for i in kept] if isinstance(kept, tuple) else kept


@dataclass(frozen=True)
class CompetenceAnalysis:
    """Strengths, weaknesses and training needs against a career target."""

    career_target: str
    career_target_uri: str | None
    strengths: Items
    weaknesses: Items
    training_needs: Items
    recorded_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "career_target": self.career_target,
            "career_target_uri": self.career_target_uri,
            "strengths": _listed(self.strengths),
            "weaknesses": _listed(self.weaknesses),
            "training_needs": _listed(self.training_needs),
            "recorded_at": self.recorded_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Evidence:
    """One item of the EVC portfolio (the document itself is kept elsewhere)."""

    evidence_id: uuid.UUID
    title: str
    kind: str
    description: str | None
    dated: date
    document_hash: str | None
    added_at: datetime
    # The items of the portfolio's standard it proves, and the ESCO skills it shows.
    items: tuple[str, ...] = ()
    esco_uris: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence_id": self.evidence_id,
            "title": self.title,
            "kind": self.kind,
            "description": self.description,
            "dated": self.dated,
            "document_hash": self.document_hash,
            "added_at": self.added_at,
            "items": list(self.items),
            "esco_uris": list(self.esco_uris),
        }


@dataclass(frozen=True)
class Assessment:
    """The portfolio compared with a standard, and the advice."""

    standard: str
    comparison: str
    advice: str
    assessed_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "comparison": self.comparison,
            "advice": self.advice,
            "assessed_at": self.assessed_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class StandardItem:
    """A competence item of the standard the portfolio is compared with."""

    item_id: str
    title: str
    esco_uris: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "esco_uris": list(self.esco_uris)}


@dataclass(frozen=True)
class PortfolioStandard:
    """The standard (an imported EVC standard) as it was when the plan chose it."""

    standard_id: str
    title: str
    items: tuple[StandardItem, ...]
    chosen_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard_id": self.standard_id,
            "title": self.title,
            "items": [i.as_dict() for i in self.items],
            "chosen_at": self.chosen_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Judgement:
    """The counsellor's judgement of one item: proven, partly or not yet, and why."""

    judgement: str
    comment: str | None
    judged_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "judgement": self.judgement,
            "comment": self.comment,
            "judged_at": self.judged_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Portfolio:
    """The evidence for recognition of prior learning (EVC), the standard it is compared
    with item by item, the judgement per item and the overall assessment."""

    evidence: tuple[Evidence, ...] = ()
    assessment: Assessment | None = None
    standard: PortfolioStandard | None = None
    judgements: dict[str, Judgement] = field(default_factory=dict)

    def comparison(self) -> list[dict[str, Any]]:
        """Per item of the standard: its judgement (`None`: not judged yet) and comment,
        and the evidence linked to it."""
        if self.standard is None:
            return []
        out = []
        for item in self.standard.items:
            judged = self.judgements.get(item.item_id)
            out.append(
                {
                    **item.as_dict(),
                    "judgement": None if judged is None else judged.judgement,
                    "comment": None if judged is None else judged.comment,
                    "judged_at": None if judged is None else judged.judged_at,
                    "evidence": [
                        {"evidence_id": e.evidence_id, "title": e.title}
                        for e in self.evidence
                        if item.item_id in e.items
                    ],
                }
            )
        return out

    def gaps(self) -> list[StandardItem]:
        """The items judged partly or not yet proven."""
        if self.standard is None:
            return []
        return [
            i
            for i in self.standard.items
            if (j := self.judgements.get(i.item_id)) is not None
            and j.judgement in ("partly", "not_yet")
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence": [e.as_dict() for e in self.evidence],
            "assessment": None if self.assessment is None else self.assessment.as_dict(),
            "standard": None if self.standard is None else self.standard.as_dict(),
            "comparison": self.comparison(),
        }


@dataclass(frozen=True)
class Agreement:
    """One party's agreement to a revision of the plan."""

    revision: int
    at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "at": self.at, "actor": self.actor}


@dataclass(frozen=True)
class AgreedVersion:
    """A revision both parties agreed to, with what they agreed to (`content`, as stored
    in `Plan.Agreed`: `ERASED` once the client's key is gone)."""

    revision: int
    agreed_at: datetime
    agreements: dict[str, Agreement] = field(default_factory=dict)
    content: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "agreed_at": self.agreed_at,
            "agreements": {p: a.as_dict() for p, a in self.agreements.items()},
            "content": self.content,
        }


@dataclass(frozen=True)
class Closure:
    """Why and when the plan was closed."""

    at: datetime
    reason: str | None
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "reason": self.reason, "actor": self.actor}


@dataclass(frozen=True)
class Insight:
    """A reflection or insight of the client's, with the day it came."""

    insight_id: uuid.UUID
    text: str
    dated: date
    added_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "insight_id": self.insight_id,
            "text": self.text,
            "date": self.dated,
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class Decision:
    """A choice or a decision (`kind`) and its reasons."""

    decision_id: uuid.UUID
    kind: str
    text: str
    reasons: str
    added_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "kind": self.kind,
            "text": self.text,
            "reasons": self.reasons,
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class SupportNeeds:
    """The support the client needs: its kinds (`ERASED` once the key is gone) and words."""

    kinds: tuple[str, ...] | str
    notes: str | None
    recorded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": list(self.kinds) if isinstance(self.kinds, tuple) else self.kinds,
            "notes": self.notes,
            "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True)
class InstrumentUse:
    """An instrument used in the guidance: its result (words, scores), the counsellor's
    interpretation, and the competences and goals of the plan it informs. The texts and
    scores are `ERASED` once the client's key is gone."""

    use_id: uuid.UUID
    instrument: str
    instrument_name: str
    used_on: date
    result: str | None
    scores: Any
    interpretation: str | None
    competences: tuple[str, ...]
    goal_ids: tuple[uuid.UUID, ...]
    recorded_at: datetime
    actor: str
    interpreted_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "use_id": self.use_id,
            "instrument": self.instrument,
            "instrument_name": self.instrument_name,
            "used_on": self.used_on,
            "result": self.result,
            "scores": dict(self.scores) if isinstance(self.scores, dict) else self.scores,
            "interpretation": self.interpretation,
            "interpreted_at": self.interpreted_at,
            "competences": list(self.competences),
            "goal_ids": list(self.goal_ids),
            "recorded_at": self.recorded_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class ApplicationStep:
    """A job application's move to a status (`sent`, `interview`, ...) on a day, with the
    employer's answer in words where there is one."""

    status: str
    on: date
    answer: str | None
    recorded_at: datetime
    actor: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "on": self.on,
            "answer": self.answer,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Product:
    """What an action produced (a CV, a job application, a cover letter...), the document
    itself kept elsewhere (its hash here). An application names the employer and the job,
    and its steps from `draft` or `sent` on."""

    product_id: uuid.UUID
    action_id: uuid.UUID
    kind: str
    title: str
    dated: date
    document_hash: str | None
    notes: str | None
    added_at: datetime
    employer: str | None = None
    position: str | None = None
    steps: tuple[ApplicationStep, ...] = ()

    @property
    def status(self) -> str | None:
        """An application's status now (None for any other product)."""
        return self.steps[-1].status if self.steps else None

    @property
    def sent_on(self) -> date | None:
        sent = [s.on for s in self.steps if s.status == "sent"]
        return sent[0] if sent else None

    def as_dict(self) -> dict[str, Any]:
        application = None
        if self.kind == "application":
            application = {
                "employer": self.employer,
                "position": self.position,
                "status": self.status,
                "sent_on": self.sent_on,
                "steps": [s.as_dict() for s in self.steps],
            }
        return {
            "product_id": self.product_id,
            "action_id": self.action_id,
            "kind": self.kind,
            "title": self.title,
            "date": self.dated,
            "document_hash": self.document_hash,
            "notes": self.notes,
            "added_at": self.added_at,
            "application": application,
        }

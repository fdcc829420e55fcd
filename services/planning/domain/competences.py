"""A plan's competence analysis and EVC portfolio: recording the analysis, adding (and
withdrawing) evidence and comparing the portfolio with a standard (mixed into `Plan`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import (
    ADVICE,
    CODE,
    ESCO_URI,
    EVIDENCE_KINDS,
    JUDGEMENTS,
    LEVEL_FIELDS,
    PROFICIENCY,
)
from services.planning.domain.state import PlanState
from shared.text import guard_field, guard_text


class Competences(PlanState):
    """The commands on a plan's competence analysis and portfolio."""

    def record_competence_analysis(
        self,
        *,
        career_target: str,
        strengths: list[dict[str, Any]],
        weaknesses: list[dict[str, Any]],
        training_needs: list[dict[str, Any]],
        actor: str,
        at: datetime,
        career_target_uri: str | None = None,
    ) -> None:
        guard_text(PlanningError, career_target=career_target)
        guard_field(PlanningError, "career_target_uri", career_target_uri)
        if career_target_uri is not None and _kind(career_target_uri) != "occupation":
            raise PlanningError(
                "invalid",
                "A career target's ESCO code is an occupation URI "
                "(http://data.europa.eu/esco/occupation/…).",
                "career_target_uri",
            )
        for name, items in (
            ("strengths", strengths),
            ("weaknesses", weaknesses),
            ("training_needs", training_needs),
        ):
            for i, item in enumerate(items):
                _check_item(item, f"{name}.{i}")
        self._change(
            self.CompetenceAnalysisRecorded,
            at,
            career_target=career_target,
            career_target_uri=career_target_uri,
            strengths=strengths,
            weaknesses=weaknesses,
            training_needs=training_needs,
            actor=actor,
        )

    def add_evidence(
        self,
        *,
        evidence_id: uuid.UUID,
        title: str,
        kind: str,
        description: str | None,
        dated: date,
        document_hash: str | None,
        actor: str,
        at: datetime,
    ) -> None:
        guard_text(PlanningError, title=title, document_hash=document_hash)
        guard_text(PlanningError, multiline=True, description=description)
        if kind not in EVIDENCE_KINDS:
            raise PlanningError("invalid", f"Unknown evidence kind {kind!r}.", "kind")
        if dated > at.date():
            raise PlanningError("invalid", "Evidence cannot be dated ahead.", "date")
        self._change(
            self.EvidenceAdded,
            at,
            evidence_id=evidence_id,
            title=title,
            kind=kind,
            description=description,
            dated=dated,
            document_hash=document_hash,
            actor=actor,
        )

    def withdraw_evidence(
        self, *, evidence_id: uuid.UUID, reason: str, actor: str, at: datetime
    ) -> None:
        """Take a piece of evidence out of the portfolio (added by mistake, say), saying
        why: its links to the standard's items go with it; the items' judgements stay as
        they are (the counsellor judges them again)."""
        guard_text(PlanningError, multiline=True, reason=reason)
        if not reason.strip():
            raise PlanningError("invalid", "Say why the evidence is withdrawn.", "reason")
        if not any(e.evidence_id == evidence_id for e in self.portfolio.evidence):
            raise PlanningError(
                "not-found", f"No evidence {evidence_id} in this portfolio.", "evidence_id"
            )
        self._change(
            self.EvidenceWithdrawn,
            at,
            evidence_id=evidence_id,
            reason=reason.strip(),
            actor=actor,
        )

    def assess_portfolio(
        self, *, standard: str, comparison: str, advice: str, actor: str, at: datetime
    ) -> None:
        guard_text(PlanningError, standard=standard)
        guard_text(PlanningError, multiline=True, comparison=comparison)
        if advice not in ADVICE:
            raise PlanningError("invalid", f"Unknown advice {advice!r}.", "advice")
        if not self.portfolio.evidence:
            raise PlanningError(
                "portfolio-empty", "Compare a portfolio with a standard once it holds evidence."
            )
        self._change(
            self.PortfolioAssessed,
            at,
            standard=standard,
            comparison=comparison,
            advice=advice,
            actor=actor,
        )

    # -- the portfolio against a standard, item by item ----------------------------------
    def choose_portfolio_standard(
        self,
        *,
        standard_id: str,
        title: str,
        items: list[dict[str, Any]],
        actor: str,
        at: datetime,
    ) -> None:
        """Compare the portfolio with an imported standard (its items as they are now)."""
        if not CODE.match(standard_id):
            raise PlanningError("invalid", "A standard's code.", "standard_id")
        if not items:
            raise PlanningError("invalid", "The standard holds no item.", "standard_id")
        self._change(
            self.PortfolioStandardChosen,
            at,
            standard_id=standard_id,
            title=title,
            items=[
                {"item_id": i["item_id"], "title": i["title"], "esco_uris": list(i["esco_uris"])}
                for i in items
            ],
            actor=actor,
        )

    def link_evidence(
        self,
        *,
        evidence_id: uuid.UUID,
        items: list[str],
        esco_uris: list[str],
        actor: str,
        at: datetime,
    ) -> None:
        """Name the items of the standard an evidence proves and the ESCO skills it shows."""
        if not any(e.evidence_id == evidence_id for e in self.portfolio.evidence):
            raise PlanningError(
                "not-found", f"No evidence {evidence_id} in this portfolio.", "evidence_id"
            )
        known = self._standard_items()
        for n, item in enumerate(items):
            if item not in known:
                raise PlanningError(
                    "invalid", f"No item {item!r} in the portfolio's standard.", f"items.{n}"
                )
        for n, uri in enumerate(esco_uris):
            if _kind(uri) != "skill":
                raise PlanningError(
                    "invalid",
                    "An ESCO skill URI (http://data.europa.eu/esco/skill/…).",
                    f"esco_uris.{n}",
                )
        self._change(
            self.EvidenceLinked,
            at,
            evidence_id=evidence_id,
            items=list(dict.fromkeys(items)),
            esco_uris=list(dict.fromkeys(esco_uris)),
            actor=actor,
        )

    def judge_portfolio_item(
        self, *, item_id: str, judgement: str, comment: str | None, actor: str, at: datetime
    ) -> None:
        """The counsellor's judgement of one item: proven, partly or not yet."""
        if item_id not in self._standard_items():
            raise PlanningError(
                "not-found", f"No item {item_id!r} in the portfolio's standard.", "item_id"
            )
        if judgement not in JUDGEMENTS:
            raise PlanningError("invalid", f"Unknown judgement {judgement!r}.", "judgement")
        guard_text(PlanningError, multiline=True, comment=comment)
        self._change(
            self.PortfolioItemJudged,
            at,
            item_id=item_id,
            judgement=judgement,
            comment=comment,
            actor=actor,
        )

    def gaps_to_training_needs(self, *, actor: str, at: datetime) -> int:
        """Turn the items judged partly or not yet proven into training needs of the
        competence analysis (an item already a training need is not added twice; without
        an analysis, one is started with the standard as its career target). Answers how
        many were added."""
        gaps = self.portfolio.gaps()
        standard = self.portfolio.standard
        if standard is None or not gaps:
            raise PlanningError(
                "no-gaps", "No item of the standard is judged partly or not yet proven."
            )
        analysis = self.competence_analysis

        def listed(items: Any) -> list[dict[str, Any]]:
            if isinstance(items, tuple):
                return [dict(i) for i in items]
            return [{"text": str(items)}] if items else []

        needs = listed(analysis.training_needs) if analysis is not None else []
        have = {n.get("text") for n in needs}
        added = 0
        for item in gaps:
            text = f"{item.title} ({standard.title}, {item.item_id})"
            if text in have:
                continue
            need: dict[str, Any] = {"text": text}
            if item.esco_uris:
                need["esco_uri"] = item.esco_uris[0]
            needs.append(need)
            added += 1
        if not added:
            return 0
        self.record_competence_analysis(
            career_target=analysis.career_target if analysis is not None else standard.title,
            career_target_uri=analysis.career_target_uri if analysis is not None else None,
            strengths=listed(analysis.strengths) if analysis is not None else [],
            weaknesses=listed(analysis.weaknesses) if analysis is not None else [],
            training_needs=needs,
            actor=actor,
            at=at,
        )
        return added

    def _standard_items(self) -> set[str]:
        standard = self.portfolio.standard
        if standard is None:
            raise PlanningError(
                "no-standard", "Choose the standard the portfolio is compared with first."
            )
        return {i.item_id for i in standard.items}


def _kind(uri: str) -> str | None:
    """`skill` or `occupation` for an ESCO URI, None for anything else."""
    matched = ESCO_URI.match(uri)
    return None if matched is None else matched.group(1)


def _check_item(item: dict[str, Any], where: str) -> None:
    """An item of the analysis: its text, its ESCO code (a skill's or an occupation's) and
    the levels (1-4, seed 000's proficiency levels: self-assessed and as the counsellor
    assesses it), which only a skill has."""
    guard_field(PlanningError, f"{where}.text", item.get("text"), multiline=True)
    uri = item.get("esco_uri")
    guard_field(PlanningError, f"{where}.esco_uri", uri)
    if uri is not None and _kind(uri) is None:
        raise PlanningError(
            "invalid",
            "An ESCO code is a skill or occupation URI "
            "(http://data.europa.eu/esco/skill/… or …/occupation/…).",
            f"{where}.esco_uri",
        )
    for level in LEVEL_FIELDS:
        value = item.get(level)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value not in PROFICIENCY:
            raise PlanningError(
                "invalid",
                "A level is 1, 2, 3 or 4 (seed 000's proficiency levels).",
                f"{where}.{level}",
            )
        if uri is not None and _kind(uri) == "occupation":
            raise PlanningError(
                "invalid",
                "A level is given for a skill, not for an occupation.",
                f"{where}.{level}",
            )

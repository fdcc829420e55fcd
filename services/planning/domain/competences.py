"""A plan's competence analysis and EVC portfolio: recording the analysis, adding
evidence and comparing the portfolio with a standard (mixed into `Plan`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.planning.domain.errors import PlanningError
from services.planning.domain.rules import (
    ADVICE,
    ESCO_URI,
    EVIDENCE_KINDS,
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

"""The SMART check of a goal: specific, measurable, achievable, relevant, time-bound."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

SMART = ("specific", "measurable", "achievable", "relevant", "time_bound")


@dataclass(frozen=True)
class SmartPolicy:
    """The configurable limits of the SMART check."""

    max_open_goals: int = 5
    horizon_days: int = 548  # about 18 months
    min_lead_days: int = 7  # a target date leaves at least this much time for actions
    min_specific_words: int = 4


_VAGUE = {"better", "more", "improve", "improved", "good", "some", "beter", "meer", "goed"}


def smart_failures(
    *,
    title: str,
    specific: str,
    measure: str,
    target_date: date,
    competences: list[str],
    open_goals: int,
    today: date,
    policy: SmartPolicy,
) -> dict[str, str]:
    """Every SMART criterion a goal fails, each with a sentence for the counsellor."""
    failures: dict[str, str] = {}
    words = specific.split()
    if len(words) < policy.min_specific_words or _norm(specific) == _norm(title):
        failures["specific"] = (
            f"Describe concretely what the client will do or reach, in at least "
            f"{policy.min_specific_words} words, not only the title again."
        )
    measure_words = [w.lower().strip(".,;:") for w in measure.split()]
    has_number = any(ch.isdigit() for ch in measure)
    if not measure.strip() or (
        not has_number and (len(measure_words) < 3 or set(measure_words) <= _VAGUE)
    ):
        failures["measurable"] = (
            "Name an observable result (a number, a document, an event) that shows "
            "the goal is reached."
        )
    if open_goals >= policy.max_open_goals:
        failures["achievable"] = (
            f"The plan already has {open_goals} open goals; at most "
            f"{policy.max_open_goals} are achievable at once."
        )
    elif target_date < today + timedelta(days=policy.min_lead_days):
        failures["achievable"] = (
            f"The target date leaves less than {policy.min_lead_days} days for the actions."
        )
    if not competences:
        failures["relevant"] = "Link the goal to at least one career competence."
    if target_date <= today:
        failures["time_bound"] = "The target date must lie in the future."
    elif target_date > today + timedelta(days=policy.horizon_days):
        failures["time_bound"] = (
            f"The target date lies beyond the plan's horizon of {policy.horizon_days} days."
        )
    return failures


def _norm(text: str) -> str:
    return " ".join(text.lower().split())

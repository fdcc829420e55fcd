"""What changed between two agreed versions of a plan: goals and actions matched by their
ids, each added, removed, or changed field by field; the plan's type; the career question
and the support needs field by field; insights and choices or decisions (which do not
change once written) matched by their ids, added or removed. A version agreed before the
plan had these parts has none of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GOAL_FIELDS = ("title", "specific", "measure", "target_date", "competences", "priority")
ACTION_FIELDS = ("description", "owner", "due_date", "status")
SUPPORT_FIELDS = ("kinds", "notes")


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    """One goal or action (or the plan's type) that differs between the versions."""

    kind: str  # "added" | "removed" | "changed"
    # "goal" | "action" | "plan_type" | "career_question" | "insight" | "decision" |
    # "support_needs"
    what: str
    label: str  # the goal's title, the action's description, the type, the text
    goal: str | None = None  # an action's goal's title
    fields: list[FieldChange] = field(default_factory=list)


def _actions(goals: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], str]]:
    return {
        str(a["action_id"]): (a, str(g.get("title", "")))
        for g in goals
        for a in g.get("actions", [])
    }


def _fields(old: dict[str, Any], new: dict[str, Any], names: tuple[str, ...]) -> list[FieldChange]:
    changed = []
    for name in names:
        a, b = old.get(name), new.get(name)
        if isinstance(a, list) and isinstance(b, list):
            same = sorted(map(str, a)) == sorted(map(str, b))
        else:
            same = str(a) == str(b)
        if not same:
            changed.append(FieldChange(name, a, b))
    return changed


def _by_id(items: Any, key: str) -> dict[str, dict[str, Any]]:
    return {str(i[key]): i for i in items} if isinstance(items, list) else {}


def _written(old: dict[str, Any], new: dict[str, Any], part: str, key: str) -> list[Change]:
    """Insights or decisions added and removed between the versions, by their ids."""
    what = part.rstrip("s")
    before, after = _by_id(old.get(part), key), _by_id(new.get(part), key)
    added = [Change("added", what, str(i["text"])) for k, i in after.items() if k not in before]
    gone = [Change("removed", what, str(i["text"])) for k, i in before.items() if k not in after]
    return added + gone


def _reflection(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The career question, the insights, the decisions and the support needs."""
    changes: list[Change] = []
    if old.get("career_question") != new.get("career_question"):
        question = FieldChange(
            "career_question", old.get("career_question"), new.get("career_question")
        )
        changes.append(
            Change(
                "changed",
                "career_question",
                str(new.get("career_question") or ""),
                fields=[question],
            )
        )
    changes += _written(old, new, "insights", "insight_id")
    changes += _written(old, new, "decisions", "decision_id")
    needs_old, needs_new = old.get("support_needs") or {}, new.get("support_needs") or {}
    if fields := _fields(needs_old, needs_new, SUPPORT_FIELDS):
        changes.append(Change("changed", "support_needs", "", fields=fields))
    return changes


def plan_diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The changes from `old` to `new` (two versions' `content`): the type first, the
    career question, insights, decisions and support needs, then goals in the new
    version's order (removed ones last), then actions likewise."""
    changes: list[Change] = []
    if old.get("plan_type") != new.get("plan_type"):
        changes.append(
            Change(
                "changed",
                "plan_type",
                str(new.get("plan_type") or ""),
                fields=[FieldChange("plan_type", old.get("plan_type"), new.get("plan_type"))],
            )
        )
    changes += _reflection(old, new)
    old_goals = {str(g["goal_id"]): g for g in old.get("goals", [])}
    new_goals = {str(g["goal_id"]): g for g in new.get("goals", [])}
    for goal_id, goal in new_goals.items():
        before = old_goals.get(goal_id)
        if before is None:
            changes.append(Change("added", "goal", str(goal.get("title", ""))))
        elif fields := _fields(before, goal, GOAL_FIELDS):
            changes.append(Change("changed", "goal", str(goal.get("title", "")), fields=fields))
    for goal_id, goal in old_goals.items():
        if goal_id not in new_goals:
            changes.append(Change("removed", "goal", str(goal.get("title", ""))))
    old_actions = _actions(list(old_goals.values()))
    new_actions = _actions(list(new_goals.values()))
    for action_id, (action, goal_title) in new_actions.items():
        label = str(action.get("description", ""))
        previous = old_actions.get(action_id)
        if previous is None:
            changes.append(Change("added", "action", label, goal=goal_title))
        elif fields := _fields(previous[0], action, ACTION_FIELDS):
            changes.append(Change("changed", "action", label, goal=goal_title, fields=fields))
    for action_id, (action, goal_title) in old_actions.items():
        if action_id not in new_actions:
            label = str(action.get("description", ""))
            changes.append(Change("removed", "action", label, goal=goal_title))
    return changes

"""Planning's bad requests: a table of bad requests for every planning path, each to answer
problem+json and change nothing (the plan's state, ETag and events as they were).

The rows share one world (`Worlds`: built once, rebuilt after a row that fails): an accepted
case's plan in an organisation of its own, at version 10, another organisation's plan and a
bare plan.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.bad_requests import (
    Bad,
    Worlds,
    bad_request,
    caller,
    command_rows,
    read_rows,
    without,
)
from tests.scenarios import (
    ESCO_OCCUPATION,
    ESCO_SKILL,
    a_draft_plan,
    a_goal,
    an_action,
    an_imported_standard,
    days,
    get_plan,
    plan_events,
    send,
)
from tests.scenarios import PLANNING as BASE
from tests.support import INVALID, assert_problem, bearer, new_org

P_PLANS = "/plans"
P_PLAN = "/plans/{plan}"
P_VERSION = "/plans/{plan}/versions/1"
P_DOC = "/plans/{plan}/document"
P_TYPE = "/plans/{plan}/type"
P_GOALS = "/plans/{plan}/goals"
P_PRIO = "/plans/{plan}/priorities"
P_ACTIONS = "/plans/{plan}/goals/{goal}/actions"
P_COMPLETE = "/plans/{plan}/actions/{action}/complete"
P_CANCEL = "/plans/{plan}/actions/{action}/cancel"
P_ANALYSIS = "/plans/{plan}/competence-analysis"
P_EVIDENCE = "/plans/{plan}/portfolio/evidence"
P_ASSESS = "/plans/{plan}/portfolio/assessment"
P_AGREE = "/plans/{plan}/agreement"
P_QUESTION = "/plans/{plan}/career-question"
P_INSIGHTS = "/plans/{plan}/insights"
P_DECISIONS = "/plans/{plan}/decisions"
P_SUPPORT = "/plans/{plan}/support-needs"
P_PRODUCTS = "/plans/{plan}/actions/{action}/products"
P_STATUS = "/plans/{plan}/products/{application}/status"
P_INSTRUMENTS = "/plans/{plan}/instruments"
P_INTERPRET = "/plans/{plan}/instruments/{use}/interpretation"
P_STANDARD = "/plans/{plan}/portfolio/standard"
P_LINK = "/plans/{plan}/portfolio/evidence/{missing}/items"
P_WITHDRAW = "/plans/{plan}/portfolio/evidence/{missing}/withdrawal"
P_JUDGE = "/plans/{plan}/portfolio/items/{item}/judgement"
P_GAPS = "/plans/{plan}/portfolio/gaps/training-needs"
TYPE = {"plan_type": "reflection"}
ORDER = {"order": ["{goal2}", "{goal}"]}
ANALYSIS = {"career_target": "Teacher", "strengths": [{"text": "Coaching"}]}
EVIDENCE = {"title": "Forklift certificate", "kind": "certificate", "date": "2019-03-01"}
ASSESSMENT = {"standard": "Teacher profile", "comparison": "Partly covered", "advice": "stop"}
AGREE = {"party": "client"}
QUESTION = {"question": "Which work suits me?"}
INSIGHT = {"text": "I like helping people", "date": "2024-05-01"}
DECISION = {"kind": "choice", "text": "Care work", "reasons": "The trial went well"}
SUPPORT = {"kinds": ["language"], "notes": "Dutch at B1"}
PRODUCT = {"kind": "skills_cv", "title": "Skills-based CV", "date": "2024-05-01"}
APPLICATION = {
    "kind": "application",
    "title": "Application",
    "date": "2024-05-01",
    "employer": "De Linde",
    "position": "Care assistant",
}
STATUS = {"status": "interview", "on": days(0), "answer": "Thursday at ten"}
INSTRUMENT = {"instrument": "riasec", "used_on": "2024-05-01", "result": "S-I-A"}
INTERPRETATION = {"interpretation": "Care work fits"}
STANDARD = {"standard_id": "mbo2-care"}
LINK = {"items": ["B1-K1-W1"]}
WITHDRAW = {"reason": "Added by mistake."}
JUDGE = {"judgement": "partly", "comment": "No certificate yet"}


def item(**overrides: Any) -> dict[str, Any]:
    return {"career_target": "Teacher", "strengths": [{"text": "Coaching", **overrides}]}


def plan_command_rows(
    name: str, method: str, path: str, body: Any, *, other: str, missing: str
) -> dict[str, Bad]:
    """A command on the world's plan (at version 10): the rows every command shares."""
    return command_rows(
        name,
        method,
        path,
        body,
        stale='"4"',
        absent={"unknown-plan": missing, "other-org": other},
        refused=("auditor", "partner", "team_lead"),
    )


def plan_read_rows(name: str, path: str, *, other: str, missing: str) -> dict[str, Bad]:
    return read_rows(
        name,
        path,
        absent={"unknown-plan": missing, "other-org": other},
        refused=("auditor", "partner"),
    )


BAD: dict[str, Bad] = {
    # GET /plans
    "plans/no-token": Bad("GET", P_PLANS, 401, "unauthorized", who="none"),
    "plans/auditor": Bad("GET", P_PLANS, 403, "forbidden", who="auditor"),
    "plans/partner": Bad("GET", "/plans?case_id={case}", 403, "forbidden", who="partner"),
    "plans/case-not-a-uuid": Bad("GET", "/plans?case_id=42", 422, INVALID, fields=("case_id",)),
    "plans/unknown-status": Bad("GET", "/plans?status=lost", 422, INVALID, fields=("status",)),
    "plans/limit-0": Bad("GET", "/plans?limit=0", 422, INVALID, fields=("limit",)),
    "plans/limit-too-big": Bad("GET", "/plans?limit=1000", 422, INVALID, fields=("limit",)),
    "plans/negative-offset": Bad("GET", "/plans?offset=-1", 422, INVALID, fields=("offset",)),
    # GET /esco/search, /esco/concepts (ESCO: any staff member, no organisation's data)
    "esco/no-token": Bad("GET", "/esco/search?q=aid", 401, "unauthorized", who="none"),
    "esco/partner": Bad("GET", "/esco/search?q=aid", 403, "forbidden", who="partner"),
    "esco/no-words": Bad("GET", "/esco/search", 422, INVALID, fields=("q",)),
    "esco/one-letter": Bad("GET", "/esco/search?q=a", 422, INVALID, fields=("q",)),
    "esco/unknown-kind": Bad(
        "GET", "/esco/search?q=aid&kind=competence", 422, INVALID, fields=("kind",)
    ),
    "esco/language-name": Bad(
        "GET", "/esco/search?q=aid&lang=english", 422, INVALID, fields=("lang",)
    ),
    "esco/limit-too-big": Bad(
        "GET", "/esco/search?q=aid&limit=51", 422, INVALID, fields=("limit",)
    ),
    "esco/control-character": Bad("GET", "/esco/search?q=first%00aid", 422, INVALID, fields=("q",)),
    "esco/concepts-control-character": Bad(
        "GET", "/esco/concepts?uri=a%00b", 422, INVALID, fields=("uri",)
    ),
    "esco/concepts-no-uri": Bad("GET", "/esco/concepts", 422, INVALID, fields=("uri",)),
    "esco/concepts-partner": Bad("GET", "/esco/concepts?uri=x", 403, "forbidden", who="partner"),
    # GET /standards, /standards/{id} (EVC standards: reference data, any staff member)
    "standards/no-token": Bad("GET", "/standards", 401, "unauthorized", who="none"),
    "standards/partner": Bad("GET", "/standards", 403, "forbidden", who="partner"),
    "standard-read/unknown": Bad("GET", "/standards/no-such-standard", 404, "not-found"),
    "standard-read/bad-code": Bad("GET", "/standards/a%20b", 422, INVALID, fields=("standard_id",)),
    "standard-read/partner": Bad("GET", "/standards/{standard}", 403, "forbidden", who="partner"),
    # GET /plans/{id}
    **plan_read_rows("plan", P_PLAN, other="/plans/{other_plan}", missing="/plans/{missing}"),
    "plan/a-case-id": Bad("GET", "/plans/{case}", 404, "not-found"),
    "plan/not-a-uuid": Bad("GET", "/plans/my-plan", 422, INVALID, fields=("plan_id",)),
    # GET /plans/{id}/versions
    **plan_read_rows(
        "versions",
        "/plans/{plan}/versions",
        other="/plans/{other_plan}/versions",
        missing="/plans/{missing}/versions",
    ),
    "versions/not-a-uuid": Bad("GET", "/plans/my-plan/versions", 422, INVALID, fields=("plan_id",)),
    # GET /plans/{id}/versions/{n}
    **plan_read_rows(
        "version",
        P_VERSION,
        other="/plans/{other_plan}/versions/1",
        missing="/plans/{missing}/versions/1",
    ),
    "version/never-agreed": Bad("GET", P_VERSION, 404, "not-found"),
    "version/not-a-number": Bad(
        "GET", "/plans/{plan}/versions/first", 422, INVALID, fields=("version",)
    ),
    "version/zero": Bad("GET", "/plans/{plan}/versions/0", 422, INVALID, fields=("version",)),
    # GET /plans/{id}/document
    **plan_read_rows(
        "document", P_DOC, other="/plans/{other_plan}/document", missing="/plans/{missing}/document"
    ),
    "document/unknown-language": Bad(
        "GET", "/plans/{plan}/document?lang=de", 422, INVALID, fields=("lang",)
    ),
    # PUT /plans/{id}/type
    "type/no-body": Bad("PUT", P_TYPE, 422, INVALID),
    "type/empty": Bad("PUT", P_TYPE, 422, INVALID, body={}, fields=("plan_type",)),
    "type/unknown-type": Bad(
        "PUT", P_TYPE, 422, INVALID, body={"plan_type": "mixed"}, fields=("plan_type",)
    ),
    "type/not-a-string": Bad(
        "PUT", P_TYPE, 422, INVALID, body={"plan_type": 2}, fields=("plan_type",)
    ),
    "type/unknown-field": Bad(
        "PUT", P_TYPE, 422, INVALID, body={**TYPE, "goals": []}, fields=("goals",)
    ),
    "type/invalid-json": Bad("PUT", P_TYPE, 422, INVALID, raw='{"plan_type": action}'),
    "type/json-array": Bad("PUT", P_TYPE, 422, INVALID, body=[TYPE]),
    **plan_command_rows(
        "type",
        "PUT",
        P_TYPE,
        TYPE,
        other="/plans/{other_plan}/type",
        missing="/plans/{missing}/type",
    ),
    # POST /plans/{id}/goals
    "goal/empty": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body={},
        fields=("title", "specific", "measure", "target_date", "competences", "priority"),
    ),
    "goal/missing-target-date": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=without(a_goal(), "target_date"),
        fields=("target_date",),
    ),
    "goal/unknown-field": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(owner="client"), fields=("owner",)
    ),
    "goal/title-not-a-string": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title=7), fields=("title",)
    ),
    "goal/empty-title": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title=""), fields=("title",)
    ),
    "goal/blank-title": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title="   "), fields=("title",)
    ),
    "goal/title-too-long": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(title="x" * 201), fields=("title",)
    ),
    "goal/empty-measure": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(measure=""), fields=("measure",)
    ),
    "goal/bad-date": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(target_date="next summer"),
        fields=("target_date",),
    ),
    "goal/unknown-competence": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(competences=["networking", "happiness"]),
        fields=("competences.1",),
    ),
    "goal/competences-not-a-list": Bad(
        "POST",
        P_GOALS,
        422,
        INVALID,
        body=a_goal(competences="networking"),
        fields=("competences",),
    ),
    "goal/priority-0": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=0), fields=("priority",)
    ),
    "goal/priority-negative": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=-1), fields=("priority",)
    ),
    "goal/priority-beyond-the-ranking": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=4), fields=("priority",)
    ),
    "goal/priority-too-big": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=101), fields=("priority",)
    ),
    "goal/priority-as-string": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority="1"), fields=("priority",)
    ),
    "goal/priority-fractional": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=1.5), fields=("priority",)
    ),
    "goal/priority-as-boolean": Bad(
        "POST", P_GOALS, 422, INVALID, body=a_goal(priority=True), fields=("priority",)
    ),
    "goal/not-smart": Bad(
        "POST", P_GOALS, 422, "not-smart", body=a_goal(measure="more"), fields=("measurable",)
    ),
    "goal/invalid-json": Bad("POST", P_GOALS, 422, INVALID, raw='{"title": "x",'),
    **plan_command_rows(
        "goal",
        "POST",
        P_GOALS,
        a_goal(priority=2),
        other="/plans/{other_plan}/goals",
        missing="/plans/{missing}/goals",
    ),
    # PUT /plans/{id}/priorities
    "priorities/empty": Bad("PUT", P_PRIO, 422, INVALID, body={}, fields=("order",)),
    "priorities/empty-order": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": []}, fields=("order",)
    ),
    "priorities/missing-a-goal": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}"]}, fields=("order",)
    ),
    "priorities/a-goal-twice": Bad(
        "PUT",
        P_PRIO,
        422,
        INVALID,
        body={"order": ["{goal}", "{goal2}", "{goal}"]},
        fields=("order",),
    ),
    "priorities/unknown-goal": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}", "{missing}"]}, fields=("order",)
    ),
    "priorities/not-a-uuid": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": ["{goal}", "second"]}, fields=("order.1",)
    ),
    "priorities/not-a-list": Bad(
        "PUT", P_PRIO, 422, INVALID, body={"order": "{goal}"}, fields=("order",)
    ),
    "priorities/unknown-field": Bad(
        "PUT", P_PRIO, 422, INVALID, body={**ORDER, "priority": 1}, fields=("priority",)
    ),
    "priorities/invalid-json": Bad("PUT", P_PRIO, 422, INVALID, raw="order=1,2"),
    **plan_command_rows(
        "priorities",
        "PUT",
        P_PRIO,
        ORDER,
        other="/plans/{other_plan}/priorities",
        missing="/plans/{missing}/priorities",
    ),
    # POST /plans/{id}/goals/{goal_id}/actions
    "action/empty": Bad(
        "POST", P_ACTIONS, 422, INVALID, body={}, fields=("description", "owner", "due_date")
    ),
    "action/unknown-owner": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(owner="mother"), fields=("owner",)
    ),
    "action/owner-not-a-string": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(owner=["client"]), fields=("owner",)
    ),
    "action/due-after-the-goal": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date=days(91)), fields=("due_date",)
    ),
    "action/due-in-the-past": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date=days(-1)), fields=("due_date",)
    ),
    "action/bad-date": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(due_date="soon"), fields=("due_date",)
    ),
    "action/description-not-a-string": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=5), fields=("description",)
    ),
    "action/empty-description": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=""), fields=("description",)
    ),
    "action/blank-description": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(description=" \n "), fields=("description",)
    ),
    "action/unknown-field": Bad(
        "POST", P_ACTIONS, 422, INVALID, body=an_action(status="open"), fields=("status",)
    ),
    "action/invalid-json": Bad("POST", P_ACTIONS, 422, INVALID, raw="{description: 1}"),
    "action/unknown-goal": Bad(
        "POST", "/plans/{plan}/goals/{missing}/actions", 404, "not-found", body=an_action()
    ),
    "action/goal-not-a-uuid": Bad(
        "POST",
        "/plans/{plan}/goals/first/actions",
        422,
        INVALID,
        body=an_action(),
        fields=("goal_id",),
    ),
    "action/an-action-id-as-goal": Bad(
        "POST", "/plans/{plan}/goals/{action}/actions", 404, "not-found", body=an_action()
    ),
    **plan_command_rows(
        "action",
        "POST",
        P_ACTIONS,
        an_action(),
        other="/plans/{other_plan}/goals/{goal}/actions",
        missing="/plans/{missing}/goals/{goal}/actions",
    ),
    # POST /plans/{id}/actions/{action_id}/complete
    "complete/unknown-action": Bad(
        "POST", "/plans/{plan}/actions/{missing}/complete", 404, "not-found"
    ),
    "complete/a-goal-id": Bad("POST", "/plans/{plan}/actions/{goal}/complete", 404, "not-found"),
    "complete/not-a-uuid": Bad(
        "POST", "/plans/{plan}/actions/7/complete", 422, INVALID, fields=("action_id",)
    ),
    "complete/already-completed": Bad(
        "POST", "/plans/{plan}/actions/{done}/complete", 409, "action-closed"
    ),
    **plan_command_rows(
        "complete",
        "POST",
        P_COMPLETE,
        None,
        other="/plans/{other_plan}/actions/{action}/complete",
        missing="/plans/{missing}/actions/{action}/complete",
    ),
    # POST /plans/{id}/actions/{action_id}/cancel
    "cancel/unknown-action": Bad(
        "POST", "/plans/{plan}/actions/{missing}/cancel", 404, "not-found", body={}
    ),
    "cancel/already-completed": Bad(
        "POST", "/plans/{plan}/actions/{done}/cancel", 409, "action-closed", body={"reason": "x"}
    ),
    "cancel/reason-not-a-string": Bad(
        "POST", P_CANCEL, 422, INVALID, body={"reason": ["busy"]}, fields=("reason",)
    ),
    "cancel/unknown-field": Bad(
        "POST", P_CANCEL, 422, INVALID, body={"why": "busy"}, fields=("why",)
    ),
    "cancel/invalid-json": Bad("POST", P_CANCEL, 422, INVALID, raw='{"reason": "busy"'),
    **plan_command_rows(
        "cancel",
        "POST",
        P_CANCEL,
        {"reason": "Not needed"},
        other="/plans/{other_plan}/actions/{action}/cancel",
        missing="/plans/{missing}/actions/{action}/cancel",
    ),
    # POST /plans/{id}/close
    "close/reason-not-a-string": Bad(
        "POST", "/plans/{plan}/close", 422, INVALID, body={"reason": 3}, fields=("reason",)
    ),
    "close/unknown-field": Bad(
        "POST", "/plans/{plan}/close", 422, INVALID, body={"why": "x"}, fields=("why",)
    ),
    **plan_command_rows(
        "close",
        "POST",
        "/plans/{plan}/close",
        {"reason": "Guidance ended"},
        other="/plans/{other_plan}/close",
        missing="/plans/{missing}/close",
    ),
    # PUT /plans/{id}/competence-analysis
    "analysis/empty": Bad("PUT", P_ANALYSIS, 422, INVALID, body={}, fields=("career_target",)),
    "analysis/bad-esco-uri": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri="esco:skill/1234"),
        fields=("strengths.0.esco_uri",),
    ),
    "analysis/esco-uri-of-another-kind": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri="http://data.europa.eu/esco/isco/C2330"),
        fields=("strengths.0.esco_uri",),
    ),
    "analysis/item-without-text": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body={"career_target": "Teacher", "weaknesses": [{"esco_uri": ESCO_SKILL}]},
        fields=("weaknesses.0.text",),
    ),
    "analysis/item-unknown-field": Bad(
        "PUT", P_ANALYSIS, 422, INVALID, body=item(level=3), fields=("strengths.0.level",)
    ),
    "analysis/level-out-of-range": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri=ESCO_SKILL, self_level=5),
        fields=("strengths.0.self_level",),
    ),
    "analysis/level-as-text": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(counsellor_level="3"),
        fields=("strengths.0.counsellor_level",),
    ),
    "analysis/level-of-an-occupation": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body=item(esco_uri=ESCO_OCCUPATION, counsellor_level=2),
        fields=("strengths.0.counsellor_level",),
    ),
    "analysis/target-uri-of-a-skill": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body={"career_target": "Teacher", "career_target_uri": ESCO_SKILL},
        fields=("career_target_uri",),
    ),
    "analysis/items-as-strings": Bad(
        "PUT",
        P_ANALYSIS,
        422,
        INVALID,
        body={"career_target": "Teacher", "training_needs": ["didactics"]},
        fields=("training_needs.0",),
    ),
    "analysis/unknown-field": Bad(
        "PUT", P_ANALYSIS, 422, INVALID, body={**ANALYSIS, "threats": []}, fields=("threats",)
    ),
    "analysis/invalid-json": Bad("PUT", P_ANALYSIS, 422, INVALID, raw="[1, 2"),
    **plan_command_rows(
        "analysis",
        "PUT",
        P_ANALYSIS,
        ANALYSIS,
        other="/plans/{other_plan}/competence-analysis",
        missing="/plans/{missing}/competence-analysis",
    ),
    # POST /plans/{id}/portfolio/evidence
    "evidence/empty": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={}, fields=("title", "kind", "date")
    ),
    "evidence/unknown-kind": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "kind": "hunch"}, fields=("kind",)
    ),
    "evidence/dated-ahead": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "date": days(5)}, fields=("date",)
    ),
    "evidence/bad-hash": Bad(
        "POST",
        P_EVIDENCE,
        422,
        INVALID,
        body={**EVIDENCE, "document_hash": "md5:abc"},
        fields=("document_hash",),
    ),
    "evidence/unknown-field": Bad(
        "POST", P_EVIDENCE, 422, INVALID, body={**EVIDENCE, "file": "x.pdf"}, fields=("file",)
    ),
    "evidence/invalid-json": Bad("POST", P_EVIDENCE, 422, INVALID, raw="title: x"),
    **plan_command_rows(
        "evidence",
        "POST",
        P_EVIDENCE,
        EVIDENCE,
        other="/plans/{other_plan}/portfolio/evidence",
        missing="/plans/{missing}/portfolio/evidence",
    ),
    # PUT /plans/{id}/portfolio/assessment
    "assessment/empty": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={}, fields=("standard", "comparison", "advice")
    ),
    "assessment/unknown-advice": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "advice": "maybe"}, fields=("advice",)
    ),
    "assessment/unknown-field": Bad(
        "PUT", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "score": 7}, fields=("score",)
    ),
    "assessment/without-evidence": Bad("PUT", P_ASSESS, 409, "portfolio-empty", body=ASSESSMENT),
    **plan_command_rows(
        "assessment",
        "PUT",
        P_ASSESS,
        ASSESSMENT,
        other="/plans/{other_plan}/portfolio/assessment",
        missing="/plans/{missing}/portfolio/assessment",
    ),
    # PUT /plans/{id}/portfolio/standard
    "standard/empty": Bad("PUT", P_STANDARD, 422, INVALID, body={}, fields=("standard_id",)),
    "standard/not-a-code": Bad(
        "PUT", P_STANDARD, 422, INVALID, body={"standard_id": "a b"}, fields=("standard_id",)
    ),
    "standard/not-imported": Bad(
        "PUT", P_STANDARD, 422, INVALID, body={"standard_id": "nope"}, fields=("standard_id",)
    ),
    **plan_command_rows(
        "standard",
        "PUT",
        P_STANDARD,
        STANDARD,
        other="/plans/{other_plan}/portfolio/standard",
        missing="/plans/{missing}/portfolio/standard",
    ),
    # PUT /plans/{id}/portfolio/evidence/{evidence_id}/items
    "link/unknown-evidence": Bad("PUT", P_LINK, 404, "not-found", body=LINK),
    "link/items-not-a-list": Bad(
        "PUT", P_LINK, 422, INVALID, body={"items": "B1-K1-W1"}, fields=("items",)
    ),
    "link/bad-item-code": Bad(
        "PUT", P_LINK, 422, INVALID, body={"items": ["a b"]}, fields=("items.0",)
    ),
    "link/evidence-not-a-uuid": Bad(
        "PUT",
        "/plans/{plan}/portfolio/evidence/42/items",
        422,
        INVALID,
        body=LINK,
        fields=("evidence_id",),
    ),
    **plan_command_rows(
        "link",
        "PUT",
        P_LINK,
        LINK,
        other="/plans/{other_plan}/portfolio/evidence/{missing}/items",
        missing="/plans/{missing}/portfolio/evidence/{missing}/items",
    ),
    # POST /plans/{id}/portfolio/evidence/{evidence_id}/withdrawal
    "withdraw/unknown-evidence": Bad("POST", P_WITHDRAW, 404, "not-found", body=WITHDRAW),
    "withdraw/no-body": Bad("POST", P_WITHDRAW, 422, INVALID),
    "withdraw/empty": Bad("POST", P_WITHDRAW, 422, INVALID, body={}, fields=("reason",)),
    "withdraw/empty-reason": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={"reason": ""}, fields=("reason",)
    ),
    "withdraw/blank-reason": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={"reason": " \n "}, fields=("reason",)
    ),
    "withdraw/reason-too-long": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={"reason": "x" * 2001}, fields=("reason",)
    ),
    "withdraw/control-character": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={"reason": "a\u0007b"}, fields=("reason",)
    ),
    "withdraw/reason-not-a-string": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={"reason": 3}, fields=("reason",)
    ),
    "withdraw/unknown-field": Bad(
        "POST", P_WITHDRAW, 422, INVALID, body={**WITHDRAW, "by": "x"}, fields=("by",)
    ),
    "withdraw/invalid-json": Bad("POST", P_WITHDRAW, 422, INVALID, raw="reason: x"),
    "withdraw/evidence-not-a-uuid": Bad(
        "POST",
        "/plans/{plan}/portfolio/evidence/42/withdrawal",
        422,
        INVALID,
        body=WITHDRAW,
        fields=("evidence_id",),
    ),
    **plan_command_rows(
        "withdraw",
        "POST",
        P_WITHDRAW,
        WITHDRAW,
        other="/plans/{other_plan}/portfolio/evidence/{missing}/withdrawal",
        missing="/plans/{missing}/portfolio/evidence/{missing}/withdrawal",
    ),
    # PUT /plans/{id}/portfolio/items/{item_id}/judgement
    "judge/empty": Bad("PUT", P_JUDGE, 422, INVALID, body={}, fields=("judgement",)),
    "judge/unknown-judgement": Bad(
        "PUT", P_JUDGE, 422, INVALID, body={"judgement": "maybe"}, fields=("judgement",)
    ),
    "judge/comment-too-long": Bad(
        "PUT", P_JUDGE, 422, INVALID, body={**JUDGE, "comment": "x" * 2001}, fields=("comment",)
    ),
    "judge/bad-item-code": Bad(
        "PUT",
        "/plans/{plan}/portfolio/items/a%20b/judgement",
        422,
        INVALID,
        body=JUDGE,
        fields=("item_id",),
    ),
    "judge/without-standard": Bad("PUT", P_JUDGE, 409, "no-standard", body=JUDGE),
    **plan_command_rows(
        "judge",
        "PUT",
        P_JUDGE,
        JUDGE,
        other="/plans/{other_plan}/portfolio/items/{item}/judgement",
        missing="/plans/{missing}/portfolio/items/{item}/judgement",
    ),
    # POST /plans/{id}/portfolio/gaps/training-needs
    "gaps/without-standard": Bad("POST", P_GAPS, 409, "no-gaps"),
    **plan_command_rows(
        "gaps",
        "POST",
        P_GAPS,
        None,
        other="/plans/{other_plan}/portfolio/gaps/training-needs",
        missing="/plans/{missing}/portfolio/gaps/training-needs",
    ),
    # PUT /plans/{id}/career-question
    "question/empty": Bad("PUT", P_QUESTION, 422, INVALID, body={}, fields=("question",)),
    "question/empty-text": Bad(
        "PUT", P_QUESTION, 422, INVALID, body={"question": ""}, fields=("question",)
    ),
    "question/blank": Bad(
        "PUT", P_QUESTION, 422, INVALID, body={"question": " \n "}, fields=("question",)
    ),
    "question/too-long": Bad(
        "PUT", P_QUESTION, 422, INVALID, body={"question": "x" * 2001}, fields=("question",)
    ),
    "question/control-character": Bad(
        "PUT", P_QUESTION, 422, INVALID, body={"question": "a\u0007b"}, fields=("question",)
    ),
    "question/unknown-field": Bad(
        "PUT", P_QUESTION, 422, INVALID, body={**QUESTION, "by": "x"}, fields=("by",)
    ),
    "question/invalid-json": Bad("PUT", P_QUESTION, 422, INVALID, raw="question: x"),
    **plan_command_rows(
        "question",
        "PUT",
        P_QUESTION,
        QUESTION,
        other="/plans/{other_plan}/career-question",
        missing="/plans/{missing}/career-question",
    ),
    # POST /plans/{id}/insights
    "insight/empty": Bad("POST", P_INSIGHTS, 422, INVALID, body={}, fields=("text", "date")),
    "insight/dated-ahead": Bad(
        "POST", P_INSIGHTS, 422, INVALID, body={**INSIGHT, "date": days(2)}, fields=("date",)
    ),
    "insight/bad-date": Bad(
        "POST", P_INSIGHTS, 422, INVALID, body={**INSIGHT, "date": "May"}, fields=("date",)
    ),
    "insight/blank-text": Bad(
        "POST", P_INSIGHTS, 422, INVALID, body={**INSIGHT, "text": "  "}, fields=("text",)
    ),
    "insight/text-not-a-string": Bad(
        "POST", P_INSIGHTS, 422, INVALID, body={**INSIGHT, "text": 3}, fields=("text",)
    ),
    "insight/unknown-field": Bad(
        "POST", P_INSIGHTS, 422, INVALID, body={**INSIGHT, "mood": "ok"}, fields=("mood",)
    ),
    "insight/invalid-json": Bad("POST", P_INSIGHTS, 422, INVALID, raw="{text: 1}"),
    **plan_command_rows(
        "insight",
        "POST",
        P_INSIGHTS,
        INSIGHT,
        other="/plans/{other_plan}/insights",
        missing="/plans/{missing}/insights",
    ),
    # POST /plans/{id}/decisions
    "plan-decision/empty": Bad(
        "POST", P_DECISIONS, 422, INVALID, body={}, fields=("kind", "text", "reasons")
    ),
    "plan-decision/unknown-kind": Bad(
        "POST", P_DECISIONS, 422, INVALID, body={**DECISION, "kind": "wish"}, fields=("kind",)
    ),
    "plan-decision/without-reasons": Bad(
        "POST", P_DECISIONS, 422, INVALID, body=without(DECISION, "reasons"), fields=("reasons",)
    ),
    "plan-decision/blank-reasons": Bad(
        "POST", P_DECISIONS, 422, INVALID, body={**DECISION, "reasons": " "}, fields=("reasons",)
    ),
    "plan-decision/unknown-field": Bad(
        "POST", P_DECISIONS, 422, INVALID, body={**DECISION, "by": "x"}, fields=("by",)
    ),
    "plan-decision/invalid-json": Bad("POST", P_DECISIONS, 422, INVALID, raw="kind=choice"),
    **plan_command_rows(
        "plan-decision",
        "POST",
        P_DECISIONS,
        DECISION,
        other="/plans/{other_plan}/decisions",
        missing="/plans/{missing}/decisions",
    ),
    # PUT /plans/{id}/support-needs
    "support/empty": Bad("PUT", P_SUPPORT, 422, INVALID, body={}, fields=("kinds",)),
    "support/unknown-kind": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={"kinds": ["language", "luck"]}, fields=("kinds.1",)
    ),
    "support/a-kind-twice": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={"kinds": ["mobility", "mobility"]}, fields=("kinds",)
    ),
    "support/other-unsaid": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={"kinds": ["other"]}, fields=("notes",)
    ),
    "support/kinds-not-a-list": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={"kinds": "language"}, fields=("kinds",)
    ),
    "support/notes-too-long": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={**SUPPORT, "notes": "x" * 2001}, fields=("notes",)
    ),
    "support/unknown-field": Bad(
        "PUT", P_SUPPORT, 422, INVALID, body={**SUPPORT, "urgent": True}, fields=("urgent",)
    ),
    "support/invalid-json": Bad("PUT", P_SUPPORT, 422, INVALID, raw="[language"),
    **plan_command_rows(
        "support",
        "PUT",
        P_SUPPORT,
        SUPPORT,
        other="/plans/{other_plan}/support-needs",
        missing="/plans/{missing}/support-needs",
    ),
    # POST /plans/{id}/actions/{action_id}/products
    "product/empty": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={}, fields=("kind", "title", "date")
    ),
    "product/unknown-kind": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={**PRODUCT, "kind": "poem"}, fields=("kind",)
    ),
    "product/dated-ahead": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={**PRODUCT, "date": days(2)}, fields=("date",)
    ),
    "product/title-too-long": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={**PRODUCT, "title": "x" * 201}, fields=("title",)
    ),
    "product/employer-of-a-cv": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={**PRODUCT, "employer": "X"}, fields=("employer",)
    ),
    "product/application-to-nobody": Bad(
        "POST",
        P_PRODUCTS,
        422,
        INVALID,
        body=without(APPLICATION, "employer"),
        fields=("employer",),
    ),
    "product/application-sent-ahead": Bad(
        "POST",
        P_PRODUCTS,
        422,
        INVALID,
        body={**APPLICATION, "sent_on": days(2)},
        fields=("sent_on",),
    ),
    "product/bad-hash": Bad(
        "POST",
        P_PRODUCTS,
        422,
        INVALID,
        body={**PRODUCT, "document_hash": "md5:1"},
        fields=("document_hash",),
    ),
    "product/unknown-field": Bad(
        "POST", P_PRODUCTS, 422, INVALID, body={**PRODUCT, "pages": 2}, fields=("pages",)
    ),
    "product/invalid-json": Bad("POST", P_PRODUCTS, 422, INVALID, raw="kind: cv"),
    "product/unknown-action": Bad(
        "POST", "/plans/{plan}/actions/{missing}/products", 404, "not-found", body=PRODUCT
    ),
    "product/action-not-a-uuid": Bad(
        "POST",
        "/plans/{plan}/actions/7/products",
        422,
        INVALID,
        body=PRODUCT,
        fields=("action_id",),
    ),
    **plan_command_rows(
        "product",
        "POST",
        P_PRODUCTS,
        PRODUCT,
        other="/plans/{other_plan}/actions/{action}/products",
        missing="/plans/{missing}/actions/{action}/products",
    ),
    # PUT /plans/{id}/products/{product_id}/status
    "status/empty": Bad("PUT", P_STATUS, 422, INVALID, body={}, fields=("status", "on")),
    "status/unknown-status": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "status": "hired"}, fields=("status",)
    ),
    "status/back-to-draft": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "status": "draft"}, fields=("status",)
    ),
    "status/sent-again": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "status": "sent"}, fields=("status",)
    ),
    "status/ahead": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "on": days(2)}, fields=("on",)
    ),
    "status/before-it-was-sent": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "on": days(-9)}, fields=("on",)
    ),
    "status/answer-too-long": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "answer": "x" * 2001}, fields=("answer",)
    ),
    "status/of-a-cv": Bad(
        "PUT",
        "/plans/{plan}/products/{cv}/status",
        422,
        INVALID,
        body=STATUS,
        fields=("product_id",),
    ),
    "status/unknown-product": Bad(
        "PUT", "/plans/{plan}/products/{missing}/status", 404, "not-found", body=STATUS
    ),
    "status/product-not-a-uuid": Bad(
        "PUT", "/plans/{plan}/products/7/status", 422, INVALID, body=STATUS, fields=("product_id",)
    ),
    "status/unknown-field": Bad(
        "PUT", P_STATUS, 422, INVALID, body={**STATUS, "salary": 1}, fields=("salary",)
    ),
    "status/invalid-json": Bad("PUT", P_STATUS, 422, INVALID, raw="status=offer"),
    **plan_command_rows(
        "status",
        "PUT",
        P_STATUS,
        STATUS,
        other="/plans/{other_plan}/products/{application}/status",
        missing="/plans/{missing}/products/{application}/status",
    ),
    # GET /instruments
    "instruments/no-token": Bad("GET", "/instruments", 401, "unauthorized", who="none"),
    "instruments/partner": Bad("GET", "/instruments", 403, "forbidden", who="partner"),
    # POST /plans/{id}/instruments
    "instrument/empty": Bad(
        "POST", P_INSTRUMENTS, 422, INVALID, body={}, fields=("instrument", "used_on")
    ),
    "instrument/unknown": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "instrument": "tarot"},
        fields=("instrument",),
    ),
    "instrument/used-ahead": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "used_on": days(2)},
        fields=("used_on",),
    ),
    "instrument/no-result": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body=without(INSTRUMENT, "result"),
        fields=("result",),
    ),
    "instrument/score-not-a-number": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "scores": {"S": "high"}},
        fields=("scores.S",),
    ),
    "instrument/unknown-goal": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "goal_ids": ["{missing}"]},
        fields=("goal_ids",),
    ),
    "instrument/unknown-competence": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "competences": ["luck"]},
        fields=("competences.0",),
    ),
    "instrument/result-too-long": Bad(
        "POST",
        P_INSTRUMENTS,
        422,
        INVALID,
        body={**INSTRUMENT, "result": "x" * 4001},
        fields=("result",),
    ),
    "instrument/unknown-field": Bad(
        "POST", P_INSTRUMENTS, 422, INVALID, body={**INSTRUMENT, "norm": "x"}, fields=("norm",)
    ),
    "instrument/invalid-json": Bad("POST", P_INSTRUMENTS, 422, INVALID, raw="riasec"),
    **plan_command_rows(
        "instrument",
        "POST",
        P_INSTRUMENTS,
        INSTRUMENT,
        other="/plans/{other_plan}/instruments",
        missing="/plans/{missing}/instruments",
    ),
    # PUT /plans/{id}/instruments/{use_id}/interpretation
    "interpretation/empty": Bad(
        "PUT", P_INTERPRET, 422, INVALID, body={}, fields=("interpretation",)
    ),
    "interpretation/blank": Bad(
        "PUT", P_INTERPRET, 422, INVALID, body={"interpretation": "  "}, fields=("interpretation",)
    ),
    "interpretation/unknown-use": Bad(
        "PUT",
        "/plans/{plan}/instruments/{missing}/interpretation",
        404,
        "not-found",
        body=INTERPRETATION,
    ),
    "interpretation/use-not-a-uuid": Bad(
        "PUT",
        "/plans/{plan}/instruments/7/interpretation",
        422,
        INVALID,
        body=INTERPRETATION,
        fields=("use_id",),
    ),
    "interpretation/unknown-field": Bad(
        "PUT", P_INTERPRET, 422, INVALID, body={**INTERPRETATION, "x": 1}, fields=("x",)
    ),
    **plan_command_rows(
        "interpretation",
        "PUT",
        P_INTERPRET,
        INTERPRETATION,
        other="/plans/{other_plan}/instruments/{use}/interpretation",
        missing="/plans/{missing}/instruments/{use}/interpretation",
    ),
    # POST /plans/{id}/agreement
    "agree/empty": Bad("POST", P_AGREE, 422, INVALID, body={}, fields=("party",)),
    "agree/unknown-party": Bad(
        "POST", P_AGREE, 422, INVALID, body={"party": "partner"}, fields=("party",)
    ),
    "agree/party-as-list": Bad(
        "POST", P_AGREE, 422, INVALID, body={"party": ["client"]}, fields=("party",)
    ),
    "agree/unknown-field": Bad(
        "POST", P_AGREE, 422, INVALID, body={**AGREE, "version": 3}, fields=("version",)
    ),
    "agree/invalid-json": Bad("POST", P_AGREE, 422, INVALID, raw='{"party": "client"'),
    "agree/without-goals": Bad(
        "POST", "/plans/{bare_plan}/agreement", 409, "plan-incomplete", body=AGREE
    ),
    **plan_command_rows(
        "agree",
        "POST",
        P_AGREE,
        AGREE,
        other="/plans/{other_plan}/agreement",
        missing="/plans/{missing}/agreement",
    ),
}


@dataclass
class World:
    """One organisation's plan at version 10 (type chosen; goals `goal` and `goal2`; an open
    `action` and a completed `done` under `goal`; the `cv` and the `application` (sent five
    days ago) that `done` produced; an instrument's `use`), another organisation's plan and a bare
    plan of the same organisation."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(api: httpx.AsyncClient, planning_api: httpx.AsyncClient, token: Any) -> World:
    org = new_org()
    h = bearer(token("counsellor", org=org))
    plan = await a_draft_plan(api, planning_api, h)
    p = plan["plan_id"]
    await send(planning_api, "PUT", f"/plans/{p}/type", h, {"plan_type": "action"})
    goal = (await send(planning_api, "POST", f"/plans/{p}/goals", h, a_goal(), 201))["goal_id"]
    goal2 = (
        await send(
            planning_api,
            "POST",
            f"/plans/{p}/goals",
            h,
            a_goal(title="A second goal", priority=2),
            201,
        )
    )["goal_id"]
    action = (
        await send(planning_api, "POST", f"/plans/{p}/goals/{goal}/actions", h, an_action(), 201)
    )["action_id"]
    done = (
        await send(planning_api, "POST", f"/plans/{p}/goals/{goal}/actions", h, an_action(), 201)
    )["action_id"]
    await send(planning_api, "POST", f"/plans/{p}/actions/{done}/complete", h)
    products = f"/plans/{p}/actions/{done}/products"
    cv = (await send(planning_api, "POST", products, h, PRODUCT, 201))["product_id"]
    sent = {**APPLICATION, "sent_on": days(-5)}
    application = (await send(planning_api, "POST", products, h, sent, 201))["product_id"]
    used = await send(planning_api, "POST", f"/plans/{p}/instruments", h, INSTRUMENT, 201)
    ids = {
        "plan": p,
        "case": plan["case_id"],
        "goal": goal,
        "goal2": goal2,
        "action": action,
        "done": done,
        "cv": cv,
        "application": application,
        "use": used["use_id"],
        "missing": str(uuid.uuid4()),
        "item": "B1-K1-W1",
        "standard": "mbo2-care",
    }
    other = bearer(token("counsellor", org=new_org()))
    ids["other_plan"] = (await a_draft_plan(api, planning_api, other))["plan_id"]
    ids["bare_plan"] = (await a_draft_plan(api, planning_api, h))["plan_id"]
    return World(org, h, ids)


async def snapshot(planning_api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed request must leave as it was."""
    state: dict[str, Any] = {}
    for name in ("plan", "bare_plan"):
        if name in world.ids:
            r = await get_plan(planning_api, world.ids[name], world.headers)
            state[name] = r.json()
            state[f"etag:{name}"] = r.headers["etag"]
            state[f"events:{name}"] = await plan_events(app, world.ids[name])
    if "other_plan" in world.ids:
        state["events:other_plan"] = await plan_events(app, world.ids["other_plan"])
    return state


@pytest.fixture(scope="module")
def worlds() -> Worlds[World]:
    return Worlds()


@pytest.fixture(scope="module")
def standard(settings: Settings) -> str:
    """The EVC standard the portfolio rows choose, imported once."""
    return an_imported_standard(settings.pg.dsn())


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad,
    worlds: Worlds[World],
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    planning_app: Any,
    token: Any,
    standard: str,
) -> None:
    async with worlds.use("plan", lambda: build_world(api, planning_api, token)) as world:
        before = await snapshot(planning_api, planning_app, world)
        assert before["plan"]["version"] == 10 and before["etag:plan"] == '"10"'
        assert before["events:plan"] == 10

        r = await bad_request(
            planning_api,
            BASE,
            bad,
            caller(bad.who, "counsellor", world.headers, world.org, token),
            world.ids,
        )

        body = assert_problem(r, bad.status, bad.code, bad.fields)
        for secret in ("Anna", "Peeters", "Build a network", "former colleagues"):
            assert secret not in body["detail"]
        assert await snapshot(planning_api, planning_app, world) == before


async def test_an_unknown_path_under_a_plan_is_a_problem_too(
    planning_api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    r = await planning_api.get(f"{BASE}/plans/{uuid.uuid4()}/nonsense", headers=counsellor)
    assert_problem(r, 404, "not-found")
    r = await planning_api.delete(f"{BASE}/plans/{uuid.uuid4()}/type", headers=counsellor)
    assert_problem(r, 405, "method-not-allowed")


def test_the_bad_request_table_covers_every_planning_path() -> None:
    from services.planning.api import ROUTERS

    def shape(path: str) -> str:
        path = path.split("?")[0]
        path = re.sub(r"/versions/1$", "/versions/{}", path)
        return re.sub(
            r"\{[a-z_0-9]+\}|(?<=/plans/)my-plan|(?<=/actions/)7|(?<=/products/)7|(?<=/instruments/)7",
            "{}",
            path,
        )

    routes = {
        (method, shape(getattr(route, "path", "")))
        for router in ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    rows = {(bad.method, shape(bad.path)) for bad in BAD.values()}
    assert routes <= rows, routes - rows

"""Erasure end to end, looked for everywhere: a client whose every personal field holds
a unique marker is taken through intake, planning, follow-up and referral (a packet read
by the partner, an export), then erased. Afterwards no marker (nor the client's birth
date as ISO text) is left in any row of any table of any schema of the database, in any
message (data or headers) of any JetStream stream, or in any log record; every aggregate
of the client still loads in each service with its personal fields reading ERASED; each
service's hash chain verifies; the auditor's view of the case lists the same events in
the same order with ERASED personal data; the client and the export are absent.

Before erasure the same markers are shown to be findable (through the APIs, and by the
database scan itself in intake's `clients_view`), and two non-personal canaries (the
partner's name, a portfolio's standard) are found by the scans before and after: the
scans look where the markers would be.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from eventsourcing.utils import get_topic
from fastapi import FastAPI
from nats.js.errors import NotFoundError
from psycopg import sql

from services.followup.domain import followup_id_for
from services.intake.domain import ClientErasure
from services.planning.domain import plan_id_for
from services.referral.domain import ConsentReferrals
from services.referral.queries import case_info
from shared.audit.access import DataAccess
from shared.audit.queries import events_table
from shared.privacy import ERASED
from shared.privacy.erasure import ErasureConfirmation
from shared.settings import Settings
from tests.scenarios import (
    CLIENT_SCORES,
    COUNSELLOR_SCORES,
    ESCO_OCCUPATION,
    ESCO_SKILL,
    a_partner,
    a_service,
    an_imported_standard,
    an_open_case,
    days,
    send,
    wait_consent,
    wait_for_plan,
)
from tests.support import assert_problem, bearer, eventually, new_org

INTAKE = "/intake/v1"
PLANNING = "/planning/v1"
FU = "/followup/v1"
REFERRAL = "/referral/v1"
SERVICES = ("intake", "planning", "followup", "referral")
PREFIXES = {s: f"/{s}/v1" for s in SERVICES}
CATEGORIES = ["identity", "contact", "career_question", "assessments", "plan"]
ACCESS_TOPIC = get_topic(DataAccess.Recorded)
# A birth date no other test uses, and whose ISO text no timestamp of this run can hold.
BIRTH_DATE = "1936-02-29"
WAIT_SECONDS = 30.0

# Every sealed field of every service (see each application's `personal_data`), each
# with its own marker. Some fields take several (three cases, three referrals).
MARKED = (
    # intake: Client.Registered, Case.Opened/EntryChecked/Accepted/Declined/ReferredOut
    "given_name",
    "family_name",
    "email",
    "phone",
    "career_question",
    "entry_notes",
    "accept_reason",
    "declined_case_question",
    "decline_reason",
    "referred_case_question",
    "refer_out_reason",
    # intake: Case.SessionNotesRecorded, Case.ReportDrafted (the accepted case)
    "notes_discussed",
    "notes_insights",
    "notes_agreements",
    "notes_homework",
    "report_question",
    "report_insight",
    "report_conclusions",
    "report_action",
    # intake: Case.FileClosed (the referred-out case's file), Case.Reassigned (the
    # accepted case handed to another counsellor)
    "closing_summary",
    "reassign_reason",
    # intake: Case.AppointmentCancelled (the accepted case)
    "appointment_cancel_reason",
    # intake: Case.Accepted's budget (other hours than the default, with why), Case.BudgetExtended
    # (a team lead's extra hours, with why)
    "budget_reason",
    "extra_hours_reason",
    # intake: Case.SessionNotesRecorded of a group session (the accepted case's own notes;
    # the other participant's stay)
    "group_notes",
    # intake: Complaint.Registered (about the accepted case), Complaint.Answered
    "complaint_subject",
    "complaint_answer",
    # planning: GoalAdded, ActionAdded, ActionCancelled, CompetenceAnalysisRecorded,
    # EvidenceAdded, EvidenceWithdrawn (a second evidence, withdrawn), PortfolioAssessed,
    # PortfolioItemJudged, CareerQuestionStated, InsightRecorded, DecisionRecorded,
    # SupportNeedsRecorded, Agreed (content: all of these), Closed
    "goal_title",
    "goal_specific",
    "goal_measure",
    "action_description",
    "cancelled_action_description",
    "cancel_reason",
    "career_target",
    "strength",
    "weakness",
    "training_need",
    "evidence_title",
    "evidence_description",
    "withdrawn_evidence_title",
    "evidence_withdrawal_reason",
    "portfolio_comparison",
    "item_judgement_comment",
    "plan_question",
    "insight_text",
    "decision_text",
    "decision_reasons",
    "support_notes",
    "product_title",
    "product_notes",
    "application_employer",
    "application_position",
    "application_answer",
    "instrument_result",
    "instrument_score",
    "instrument_interpretation",
    "plan_close_reason",
    # follow-up: ContactRecorded, ActionChecked + BottleneckDetected, ToDoAgreed (and
    # planning's ActionAdded made of it), FeedbackGiven, FollowUpClosed
    "contact_notes",
    "bottleneck",
    "todo_description",
    "feedback_comments",
    "followup_close_reason",
    # referral: Proposed, OutcomeReported, Closed, ResumptionRecorded, Declined, Withdrawn
    "referral_reason",
    "outcome_notes",
    "closing_note",
    "resumption_note",
    "declined_referral_reason",
    "partner_decline_reason",
    "withdrawn_referral_reason",
    "withdrawal_reason",
)


def make_markers() -> dict[str, str]:
    """A fresh, unique marker per field (letters and digits only: no JSON escaping, no
    word splitting); the phone's marker is its digits, the birth date its ISO text."""
    out = {}
    for field in MARKED:
        camel = "".join(part.title() for part in field.split("_"))
        out[field] = f"Zq{camel}{secrets.token_hex(6)}"
    out["phone"] = "9" + "".join(secrets.choice("0123456789") for _ in range(13))
    out["birth_date"] = BIRTH_DATE
    return out


def found_in(text: str, needles: dict[str, str]) -> set[str]:
    """The names of the needles in `text` (case-insensitive)."""
    low = text.lower()
    return {name for name, needle in needles.items() if needle.lower() in low}


async def ok(client: httpx.AsyncClient, method: str, path: str, headers: Any, **kw: Any) -> Any:
    r = await client.request(method, path, headers=headers, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json()


# -- the scans ----------------------------------------------------------------------------------
def scan_database(dsn: str, needles: dict[str, str]) -> tuple[dict[str, set[str]], list[str]]:
    """Every base table of every schema (outside the catalogs), each row cast to text and
    each bytea column decoded as UTF-8: needle name -> {"schema.table[.column]"}; and the
    tables scanned."""
    hits: dict[str, set[str]] = {}
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            name = sql.Identifier(schema, table)
            where = f"{schema}.{table}"
            with conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT t::text FROM {} t").format(name))
                for (text,) in cur:
                    for hit in found_in(text or "", needles):
                        hits.setdefault(hit, set()).add(where)
            columns = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s AND data_type = 'bytea'",
                (schema, table),
            ).fetchall()
            for (column,) in columns:
                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL("SELECT {} FROM {} WHERE {} IS NOT NULL").format(
                            sql.Identifier(column), name, sql.Identifier(column)
                        )
                    )
                    for (blob,) in cur:
                        text = bytes(blob).decode("utf-8", errors="ignore")
                        for hit in found_in(text, needles):
                            hits.setdefault(hit, set()).add(f"{where}.{column}")
    return hits, [f"{s}.{t}" for s, t in tables]


async def scan_streams(js: Any, needles: dict[str, str]) -> tuple[dict[str, set[str]], int]:
    """Every message of every JetStream stream (subject, headers and data): needle name
    -> {"STREAM#seq"}; and how many messages were read."""
    hits: dict[str, set[str]] = {}
    read = 0
    for info in await js.streams_info():
        stream, state = info.config.name, info.state
        if not state.messages:
            continue
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue  # deleted (a purge, a limit)
            read += 1
            headers = "".join(f"{k}: {v}\n" for k, v in (msg.headers or {}).items())
            text = f"{msg.subject}\n{headers}\n" + (msg.data or b"").decode(
                "utf-8", errors="ignore"
            )
            for hit in found_in(text, needles):
                hits.setdefault(hit, set()).add(f"{stream}#{seq}")
    return hits, read


def log_hits(records: Iterable[logging.LogRecord], needles: dict[str, str]) -> dict[str, list[str]]:
    """Needle name -> the log lines that hold it (message, args, exception, extras)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    hits: dict[str, list[str]] = {}
    for record in records:
        try:
            line = formatter.format(record)
        except Exception:  # a record whose args do not fit its message
            line = f"{record.name} {record.msg!r} {record.args!r}"
        text = f"{line}\n{vars(record)!r}"
        for hit in found_in(text, needles):
            hits.setdefault(hit, []).append(line[:300])
    return hits


# -- waiting for the services to settle ----------------------------------------------------------
def apps_of(*apps: FastAPI) -> dict[str, FastAPI]:
    return dict(zip(SERVICES, apps, strict=True))


def store_of(app: FastAPI, service: str) -> Any:
    """The service's application (the lifespan of `shared/service.py` keeps it there)."""
    return app.state.application


async def settled(apps: dict[str, FastAPI]) -> None:
    """Each service's relay, projection and audit chain have handled its whole log, and
    no service stored anything new for a while."""

    async def heads() -> dict[str, int]:
        out = {}
        for service, app in apps.items():
            schema, table = events_table(store_of(app, service))
            out[service] = int(
                await app.state.runtime.pool.fetchval(
                    f'SELECT coalesce(max(notification_id), 0) FROM "{schema}"."{table}"'
                )
            )
        return out

    stable, last = 0, None
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while stable < 4:
        now = await heads()
        behind = [
            f"{s}.{f}"
            for s, app in apps.items()
            for f, follower in (
                ("relay", app.state.relay),
                ("projection", app.state.projection),
                ("audit", app.state.audit.trail),
            )
            if follower.position < now[s]
        ]
        stable = stable + 1 if now == last and not behind else 0
        last = now
        assert asyncio.get_running_loop().time() < deadline, f"not settled: {behind} {now}"
        await asyncio.sleep(0.25)


# -- the client, taken through the four services --------------------------------------------------
async def seed(
    m: dict[str, str],
    canaries: dict[str, str],
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    referral_pool: Any,
    admin: dict[str, str],
    token: Any,
) -> dict[str, Any]:
    org = new_org()
    headers = bearer(token("counsellor", org=org, sub="counsellor-e2e"))
    w: dict[str, Any] = {"org": org, "headers": headers}

    # Intake: the client, three cases (accepted, declined, referred out).
    client = {
        "given_name": m["given_name"],
        "family_name": m["family_name"],
        "birth_date": BIRTH_DATE,
        "email": f"{m['email']}@example.org",
        "phone": f"+{m['phone']}",
        "preferred_language": "en",
    }
    client_id = (await ok(api, "POST", f"{INTAKE}/clients", headers, json=client))["client_id"]
    w["client_id"] = client_id
    await ok(
        api,
        "POST",
        f"{INTAKE}/clients/{client_id}/consents",
        headers,
        json={"purpose": "guidance", "granted": True},
    )

    async def open_case(question: str) -> str:
        body = {"client_id": client_id, "career_question": f"Client asks: {question} now?"}
        return str((await ok(api, "POST", f"{INTAKE}/cases", headers, json=body))["case_id"])

    case_id = await open_case(m["career_question"])
    case = f"{INTAKE}/cases/{case_id}"
    await ok(
        api,
        "POST",
        f"{case}/entry-check",
        headers,
        json={"eligible": True, "notes": f"Eligible; {m['entry_notes']} noted"},
    )
    for assessor, scores in (("client", CLIENT_SCORES), ("counsellor", COUNSELLOR_SCORES)):
        await ok(
            api,
            "POST",
            f"{case}/assessments",
            headers,
            json={"assessor": assessor, "scores": scores},
        )
    held_at = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    await ok(
        api,
        "POST",
        f"{case}/sessions",
        headers,
        json={
            "kind": "intake",
            "held_at": held_at,
            "minutes": 50,
            "notes": {
                "discussed": f"Discussed {m['notes_discussed']}",
                "insights": f"Insight {m['notes_insights']}",
                "agreements": f"Agreed {m['notes_agreements']}",
                "homework": f"Homework {m['notes_homework']}",
            },
        },
    )
    await ok(
        api,
        "POST",
        f"{case}/decision",
        headers,
        json={
            "decision": "accept",
            "reason": f"Accepted because {m['accept_reason']}",
            "hours_budget": 15,
            "budget_reason": f"Budget: {m['budget_reason']}",
        },
    )
    await ok(
        api,
        "POST",
        f"{case}/report",
        headers,
        json={
            "starting_question": f"Asks {m['report_question']}",
            "insights": [f"Sees {m['report_insight']}"],
            "conclusions": f"Concluded {m['report_conclusions']}",
            "actions": [f"Will {m['report_action']}"],
        },
    )
    appointment = await ok(
        api,
        "POST",
        f"{case}/appointments",
        headers,
        json={
            "kind": "deepening",
            "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "channel": "phone",
        },
    )
    await ok(
        api,
        "POST",
        f"{case}/appointments/{appointment['appointment_id']}/cancellation",
        headers,
        json={"by": "client", "reason": f"Cannot come: {m['appointment_cancel_reason']}"},
    )
    # A group session of the accepted case with another client's case: each one's notes
    # on their own case; the group (case ids, topic) and the other's notes outlive the
    # erasure.
    other_case = await an_open_case(api, headers)
    group = await ok(
        api,
        "POST",
        f"{INTAKE}/groups",
        headers,
        json={
            "topic": "Networking",
            "starts_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "minutes": 60,
            "case_ids": [case_id, other_case],
        },
    )
    await ok(
        api,
        "POST",
        f"{INTAKE}/groups/{group['group_id']}/held",
        headers,
        json={
            "attendance": [
                {"case_id": case_id, "present": True, "insights": f"Sees {m['group_notes']}"},
                {"case_id": other_case, "present": True, "insights": canaries["group_other"]},
            ]
        },
    )
    w["group_id"], w["other_case"] = group["group_id"], other_case
    declined = await open_case(m["declined_case_question"])
    await ok(
        api,
        "POST",
        f"{INTAKE}/cases/{declined}/decision",
        headers,
        json={"decision": "decline", "reason": f"Declined because {m['decline_reason']}"},
    )
    referred_out = await open_case(m["referred_case_question"])
    await ok(
        api,
        "POST",
        f"{INTAKE}/cases/{referred_out}/decision",
        headers,
        json={"decision": "refer_out", "reason": f"Referred out: {m['refer_out_reason']}"},
    )
    await ok(
        api,
        "POST",
        f"{INTAKE}/cases/{referred_out}/closure",
        headers,
        json={"reason": "referred_out", "summary": f"Closed: {m['closing_summary']}"},
    )
    await ok(
        api,
        "POST",
        f"{case}/reassignment",
        bearer(token("team_lead", org=org, sub="lead-e2e")),
        json={"counsellor": "counsellor-e2e2", "reason": f"Handed: {m['reassign_reason']}"},
    )
    await ok(
        api,
        "POST",
        f"{case}/budget/approvals",
        bearer(token("team_lead", org=org, sub="lead-e2e")),
        json={"extra_hours": 2, "reason": f"Extra: {m['extra_hours_reason']}"},
    )
    w["case_id"], w["cases"] = case_id, [case_id, declined, referred_out]
    # A complaint about the accepted case, answered; the client informed of their rights.
    complaint = await ok(
        api,
        "POST",
        f"{INTAKE}/clients/{client_id}/complaints",
        headers,
        json={"subject": f"Complains: {m['complaint_subject']}", "case_id": case_id},
    )
    w["complaint_id"] = complaint["complaint_id"]
    await ok(
        api,
        "POST",
        f"{INTAKE}/complaints/{w['complaint_id']}/answer",
        headers,
        json={"answer": f"Answered: {m['complaint_answer']}"},
    )
    await ok(
        api,
        "POST",
        f"{INTAKE}/clients/{client_id}/rights-information",
        headers,
        json={"version": "2026-01", "language": "en"},
    )

    # Planning: type, a goal, two actions (one cancelled), the analysis, the portfolio
    # and its assessment, agreed by both.
    plan_id = (await wait_for_plan(planning_api, headers, case_id))["plan_id"]
    w["plan_id"] = plan_id
    await send(planning_api, "PUT", f"/plans/{plan_id}/type", headers, {"plan_type": "combined"})
    goal = {
        "title": f"Goal {m['goal_title']}",
        "specific": f"Talk with five teachers about {m['goal_specific']} and the way in",
        "measure": f"5 conversations written up in {m['goal_measure']}",
        "target_date": days(90),
        "competences": ["networking"],
        "priority": 1,
    }
    goal_id = (await send(planning_api, "POST", f"/plans/{plan_id}/goals", headers, goal, 201))[
        "goal_id"
    ]
    w["goal_id"] = goal_id

    async def action(description: str) -> str:
        body = {"description": description, "owner": "client", "due_date": days(30)}
        out = await send(
            planning_api, "POST", f"/plans/{plan_id}/goals/{goal_id}/actions", headers, body, 201
        )
        return str(out["action_id"])

    action_id = await action(f"Ask about {m['action_description']} soon")
    cancelled = await action(f"Visit {m['cancelled_action_description']} school")
    w["action_id"], w["cancelled_action_id"] = action_id, cancelled
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{cancelled}/cancel",
        headers,
        {"reason": f"Cancelled: {m['cancel_reason']}"},
    )
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/competence-analysis",
        headers,
        {
            "career_target": f"Teacher of {m['career_target']}",
            "career_target_uri": ESCO_OCCUPATION,
            "strengths": [
                {
                    "text": f"Strong in {m['strength']}",
                    "esco_uri": ESCO_SKILL,
                    "self_level": 3,
                    "counsellor_level": 2,
                }
            ],
            "weaknesses": [{"text": f"Weak in {m['weakness']}"}],
            "training_needs": [{"text": f"Needs {m['training_need']}"}],
        },
    )
    evidence = {
        "title": f"Diploma {m['evidence_title']}",
        "kind": "diploma",
        "description": f"Earned at {m['evidence_description']}",
        "date": (datetime.now(UTC).date() - timedelta(days=400)).isoformat(),
    }
    evidence_id = (
        await send(
            planning_api, "POST", f"/plans/{plan_id}/portfolio/evidence", headers, evidence, 201
        )
    )["evidence_id"]
    # A second evidence, added by mistake and withdrawn with why.
    mistaken = (
        await send(
            planning_api,
            "POST",
            f"/plans/{plan_id}/portfolio/evidence",
            headers,
            {**evidence, "title": f"Diploma {m['withdrawn_evidence_title']}", "description": None},
            201,
        )
    )["evidence_id"]
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/portfolio/evidence/{mistaken}/withdrawal",
        headers,
        {"reason": f"Withdrawn: {m['evidence_withdrawal_reason']}"},
    )
    # The portfolio against an EVC standard (imported by the test): a link, a judgement.
    portfolio = f"/plans/{plan_id}/portfolio"
    await send(planning_api, "PUT", f"{portfolio}/standard", headers, {"standard_id": "mbo2-care"})
    await send(
        planning_api,
        "PUT",
        f"{portfolio}/evidence/{evidence_id}/items",
        headers,
        {"items": ["B1-K1-W2"]},
    )
    await send(
        planning_api,
        "PUT",
        f"{portfolio}/items/B1-K1-W2/judgement",
        headers,
        {"judgement": "partly", "comment": f"Partly: {m['item_judgement_comment']}"},
    )
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/portfolio/assessment",
        headers,
        {
            "standard": canaries["standard"],
            "comparison": f"Compared: {m['portfolio_comparison']}",
            "advice": "continue",
        },
    )
    # The richer POP: the plan's question, an insight, a decision, the support needs.
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/career-question",
        headers,
        {"question": f"Can I teach {m['plan_question']}?"},
    )
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/insights",
        headers,
        {"text": f"I found {m['insight_text']}", "date": days(0)},
        201,
    )
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/decisions",
        headers,
        {
            "kind": "decision",
            "text": f"Decided {m['decision_text']}",
            "reasons": f"Because {m['decision_reasons']}",
        },
        201,
    )
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/support-needs",
        headers,
        {"kinds": ["language", "other"], "notes": f"Needs {m['support_notes']}"},
    )
    # What an action produced: a job application, and the employer's answer to it.
    product = await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/actions/{action_id}/products",
        headers,
        {
            "kind": "application",
            "title": f"Application {m['product_title']}",
            "date": days(0),
            "notes": f"Wrote {m['product_notes']}",
            "employer": f"School {m['application_employer']}",
            "position": f"Teacher {m['application_position']}",
            "sent_on": days(0),
        },
        201,
    )
    w["product_id"] = product["product_id"]
    # An instrument's result (words and a score's name) and its interpretation.
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/instruments",
        headers,
        {
            "instrument": "riasec",
            "used_on": days(0),
            "result": f"Social {m['instrument_result']}",
            "scores": {f"S{m['instrument_score']}": 38},
            "interpretation": f"Fits {m['instrument_interpretation']}",
            "goal_ids": [goal_id],
        },
        201,
    )
    await send(
        planning_api,
        "PUT",
        f"/plans/{plan_id}/products/{product['product_id']}/status",
        headers,
        {"status": "interview", "on": days(0), "answer": f"Come {m['application_answer']}"},
    )
    for party in ("client", "counsellor"):
        agreed = await send(
            planning_api, "POST", f"/plans/{plan_id}/agreement", headers, {"party": party}
        )
    assert agreed["status"] == "agreed", agreed
    w["agreed_revision"] = agreed["revision"]

    # Follow-up: a contact, an action check with a bottleneck, a to-do (planning adds
    # it), an outcome, an early close, aftercare (reopens), feedback (closes it again).
    async def the_followup() -> Any:
        r = await followup_api.get(f"{FU}/followups", params={"case_id": case_id}, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    [followup] = await eventually(the_followup, "the follow-up", WAIT_SECONDS)
    followup_id = followup["followup_id"]
    w["followup_id"] = followup_id
    fu = f"{FU}/followups/{followup_id}"

    async def action_known() -> bool:
        r = await followup_api.get(fu, headers=headers)
        return r.status_code == 200 and action_id in {a["action_id"] for a in r.json()["actions"]}

    await eventually(action_known, "the plan's actions in the follow-up", WAIT_SECONDS)
    await ok(
        followup_api,
        "POST",
        f"{fu}/contacts",
        headers,
        json={"channel": "phone", "reached": True, "notes": f"Called: {m['contact_notes']}"},
    )
    await ok(
        followup_api,
        "POST",
        f"{fu}/action-checks",
        headers,
        json={
            "action_id": action_id,
            "status": "partly",
            "bottleneck": f"Stuck on {m['bottleneck']}",
        },
    )
    todo = await ok(
        followup_api,
        "POST",
        f"{fu}/todos",
        headers,
        json={
            "goal_id": goal_id,
            "description": f"To do: {m['todo_description']}",
            "owner": "client",
            "due_date": days(20),
        },
    )
    w["todo_id"] = todo["id"]

    async def todo_in_plan() -> bool:
        r = await planning_api.get(f"{PLANNING}/plans/{plan_id}", headers=headers)
        assert r.status_code == 200, r.text
        texts = [a["description"] for g in r.json()["goals"] for a in g["actions"]]
        return any(m["todo_description"] in t for t in texts)

    await eventually(todo_in_plan, "the to-do in the plan", WAIT_SECONDS)
    today = datetime.now(UTC).date().isoformat()
    await ok(
        followup_api, "POST", f"{fu}/outcome", headers, json={"outcome": "education", "on": today}
    )
    await ok(
        followup_api,
        "POST",
        f"{fu}/close",
        headers,
        json={"reason": "other", "notes": f"Closed early: {m['followup_close_reason']}"},
    )
    await ok(followup_api, "POST", f"{fu}/aftercare-requests", headers, json={"due_on": days(10)})
    closed = await ok(
        followup_api,
        "POST",
        f"{fu}/feedback",
        headers,
        json={
            "satisfaction": 4,
            "self_knowledge_improved": True,
            "confidence_improved": False,
            "comments": f"Feedback: {m['feedback_comments']}",
        },
    )
    assert closed["status"] == "closed", closed
    await send(
        planning_api,
        "POST",
        f"/plans/{plan_id}/close",
        headers,
        {"reason": f"Plan closed: {m['plan_close_reason']}"},
    )

    # Referral: a partner, a consent, and three referrals (closed loop with outcome,
    # closing note and resumption; declined; withdrawn); the partner reads the packet.
    partner_id = (
        await ok(
            referral_api,
            "POST",
            f"{REFERRAL}/partners",
            admin,
            json=a_partner(
                name=canaries["partner"],
                services=[a_service(area=f"area-{secrets.token_hex(4)}")],
                accepted_categories=CATEGORIES,
                capacity=10,
            ),
        )
    )["partner_id"]
    w["partner_id"] = partner_id
    await ok(
        api,
        "POST",
        f"{INTAKE}/clients/{client_id}/consents",
        headers,
        json={
            "purpose": "referral",
            "partner_id": partner_id,
            "data_categories": CATEGORIES,
            "granted": True,
        },
    )
    await wait_consent(referral_pool, client_id, partner_id, True)
    await eventually(
        lambda: case_info(referral_pool, uuid.UUID(case_id)), "the case in referral", WAIT_SECONDS
    )
    partner = bearer(token("partner", org="partner-org", sub="p-e2e", partner_id=partner_id))
    w["partner"] = partner

    async def propose(reason: str) -> str:
        body = {
            "case_id": case_id,
            "partner_id": partner_id,
            "reason": f"Referred for {reason}",
            "data_categories": CATEGORIES,
        }
        return str(
            (await ok(referral_api, "POST", f"{REFERRAL}/referrals", headers, json=body))[
                "referral_id"
            ]
        )

    looped = await propose(m["referral_reason"])
    ref = f"{REFERRAL}/referrals/{looped}"
    await ok(referral_api, "POST", f"{ref}/send", headers)
    w["packet"] = await ok(referral_api, "GET", f"{ref}/packet", partner)
    await ok(referral_api, "POST", f"{ref}/acknowledge", partner)
    await ok(referral_api, "POST", f"{ref}/accept", partner)
    await ok(
        referral_api,
        "POST",
        f"{ref}/outcome",
        partner,
        json={"outcome": "completed", "notes": f"Outcome: {m['outcome_notes']}"},
    )
    await ok(
        referral_api, "POST", f"{ref}/close", headers, json={"note": f"Note {m['closing_note']}"}
    )
    await ok(
        referral_api,
        "POST",
        f"{ref}/resumption",
        headers,
        json={
            "resumes": True,
            "resume_on": days(14),
            "note": f"Resumes: {m['resumption_note']}",
        },
    )
    declined_ref = await propose(m["declined_referral_reason"])
    await ok(referral_api, "POST", f"{REFERRAL}/referrals/{declined_ref}/send", headers)
    await ok(
        referral_api,
        "POST",
        f"{REFERRAL}/referrals/{declined_ref}/decline",
        partner,
        json={"reason": f"No: {m['partner_decline_reason']}"},
    )
    withdrawn_ref = await propose(m["withdrawn_referral_reason"])
    await ok(
        referral_api,
        "POST",
        f"{REFERRAL}/referrals/{withdrawn_ref}/withdraw",
        headers,
        json={"reason": f"Withdrawn: {m['withdrawal_reason']}"},
    )
    w["referrals"] = [looped, declined_ref, withdrawn_ref]

    async def resumption_in_intake() -> bool:
        r = await api.get(f"{INTAKE}/cases/{case_id}", headers=headers)
        return r.status_code == 200 and r.json()["resumed"] is True

    await eventually(resumption_in_intake, "the resumption in intake", WAIT_SECONDS)
    return w


async def api_texts(
    w: dict[str, Any],
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
) -> dict[str, tuple[int, str]]:
    """What the APIs show of the client (counsellor, partner, export): path -> (status,
    body); an exception the app raised (a 500 in production) as (500, the exception)."""
    h = w["headers"]
    gets: list[tuple[httpx.AsyncClient, str, dict[str, str]]] = [
        (api, f"{INTAKE}/clients/{w['client_id']}", h),
        *[(api, f"{INTAKE}/cases/{c}", h) for c in w["cases"]],
        (api, f"{INTAKE}/clients/{w['client_id']}/export", h),
        (api, f"{INTAKE}/complaints/{w['complaint_id']}", h),
        (api, f"{INTAKE}/groups/{w['group_id']}", h),
        (api, f"{INTAKE}/cases/{w['case_id']}/notes", h),
        (api, f"{INTAKE}/cases/{w['case_id']}/appointments", h),
        (api, f"{INTAKE}/cases/{w['case_id']}/report", h),
        (api, f"{INTAKE}/cases/{w['case_id']}/report/document", h),
        (planning_api, f"{PLANNING}/plans/{w['plan_id']}", h),
        (planning_api, f"{PLANNING}/plans/{w['plan_id']}/versions/1", h),
        (planning_api, f"{PLANNING}/plans/{w['plan_id']}/versions", h),
        (planning_api, f"{PLANNING}/plans/{w['plan_id']}/document", h),
        (followup_api, f"{FU}/followups/{w['followup_id']}", h),
        *[(referral_api, f"{REFERRAL}/referrals/{r}", h) for r in w["referrals"]],
        # Served only while the referral is open (it is closed by now): asked anyway.
        (referral_api, f"{REFERRAL}/referrals/{w['referrals'][0]}/packet", w["partner"]),
    ]
    out = {}
    for client, path, headers in gets:
        try:
            r = await client.get(path, headers=headers)
        except Exception as e:  # raised through the ASGI transport
            out[path] = (500, f"{type(e).__name__}: {e}")
        else:
            out[path] = (r.status_code, r.text)
    return out


async def audit_events(
    client: httpx.AsyncClient, service: str, case_id: str, auditor: dict[str, str]
) -> list[dict[str, Any]]:
    r = await client.get(f"{PREFIXES[service]}/audit/cases/{case_id}/events", headers=auditor)
    assert r.status_code == 200, (service, r.text)
    return list(r.json())


async def test_an_erased_client_is_nowhere_in_the_database_the_streams_or_the_logs(
    api: httpx.AsyncClient,
    planning_api: httpx.AsyncClient,
    followup_api: httpx.AsyncClient,
    referral_api: httpx.AsyncClient,
    intake_app: FastAPI,
    planning_app: FastAPI,
    followup_app: FastAPI,
    referral_app: FastAPI,
    admin: dict[str, str],
    token: Any,
    settings: Settings,
    js: Any,
    caplog: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    m = make_markers()
    canaries = {
        "partner": f"CanaryPartner{secrets.token_hex(6)}",
        "standard": f"CanaryStandard{secrets.token_hex(6)}",
        "group_other": f"CanaryGroup{secrets.token_hex(6)}",
    }
    apps = apps_of(intake_app, planning_app, followup_app, referral_app)
    clients = dict(zip(SERVICES, (api, planning_api, followup_api, referral_api), strict=True))
    auditor = bearer(token("auditor", org="org-audit", sub="auditor-e2e", audit_scope="*"))
    dsn = settings.pg.dsn()
    an_imported_standard(dsn)

    w = await seed(
        m,
        canaries,
        api,
        planning_api,
        followup_api,
        referral_api,
        referral_app.state.runtime.pool,
        admin,
        token,
    )
    client_id, case_id = w["client_id"], w["case_id"]
    await settled(apps)

    # -- before: every marker is findable through the APIs ---------------------------------
    shown = await api_texts(w, api, planning_api, followup_api, referral_api)
    for path, (status, text) in shown.items():
        assert status == 200 or path.endswith("/packet"), (path, status, text)
    packet = w["packet"]  # as the partner read it while the referral was open
    texts = [text for _, text in shown.values()] + [json.dumps(packet)]
    seen = found_in("\n".join(texts), m)
    assert seen == set(m), f"markers the APIs never showed: {sorted(set(m) - seen)}"
    assert packet["identity"]["given_name"] == m["given_name"]
    assert packet["identity"]["birth_date"] == BIRTH_DATE
    assert packet["contact"]["phone"] == f"+{m['phone']}"
    assert m["career_question"] in packet["career_question"]
    export = json.loads(shown[f"{INTAKE}/clients/{client_id}/export"][1])
    assert set(export["services"]) == set(SERVICES)

    # ... and the scans see them where they are plain: intake's read model of clients;
    # the canaries (not personal) in the event stores (bytea), read models and streams.
    needles = {**m, **{f"canary:{k}": v for k, v in canaries.items()}}
    db_before, tables = await asyncio.to_thread(scan_database, dsn, needles)
    for field in ("given_name", "family_name", "email", "phone", "birth_date"):
        assert "intake.clients_view" in db_before.get(field, set()), (field, db_before)
    assert "planning.planning_events.state" in db_before["canary:standard"], db_before
    assert "referral.referral_events.state" in db_before["canary:partner"], db_before
    assert "referral.partners_view" in db_before["canary:partner"], db_before
    for table in (
        "intake.intake_events",
        "intake.clients_view",
        "planning.planning_events",
        "followup.followup_events",
        "referral.referral_events",
        "referral.sealed_copies",
        "vault.client_keys",
    ):
        assert table in tables, (table, tables)
    # Nothing else holds a marker in plain text: everything else is sealed.
    plain = {k: v for k, v in db_before.items() if not k.startswith("canary:")}
    assert {where for places in plain.values() for where in places} == {"intake.clients_view"}, (
        plain
    )
    nats_before, read_before = await scan_streams(js, needles)
    assert read_before > 0
    assert any(s.startswith("GUIDANCE_REFERRAL#") for s in nats_before["canary:partner"])
    assert not {k for k in nats_before if not k.startswith("canary:")}, nats_before

    # The auditor's view of the case in each service, personal fields opened.
    views_before = {
        (service, case): await audit_events(clients[service], service, case, auditor)
        for service in SERVICES
        for case in ([case_id] if service != "intake" else w["cases"])
    }
    # (The client's own fields are in Client events, which name no case; a complaint's
    # answer is in an event that names none either.)
    of_cases = set(MARKED) - {"given_name", "family_name", "email", "phone", "complaint_answer"}
    opened_before = found_in("\n".join(repr(v) for v in views_before.values()), m)
    assert opened_before == of_cases, sorted(of_cases ^ opened_before)

    # The report's read models keep rows by the client's id (the session held, the
    # bottleneck raised, the referral sent): dropped by the erasure.
    pool = referral_app.state.runtime.pool
    for table in REPORT_ROWS:
        assert await client_rows(pool, table, client_id) > 0, table

    # -- the erasure -------------------------------------------------------------------------
    r = await api.post(
        f"{INTAKE}/clients/{client_id}/erasure",
        json={"reason": "The client asked for erasure (request E2E-1)."},
        headers=w["headers"],
    )
    assert r.status_code == 202, r.text

    async def completed() -> dict[str, Any] | None:
        r = await api.get(f"{INTAKE}/clients/{client_id}/erasure", headers=w["headers"])
        assert r.status_code == 200, r.text
        receipt: dict[str, Any] = r.json()
        return receipt if receipt["status"] == "completed" else None

    receipt = await eventually(completed, "the erasure completed", WAIT_SECONDS)
    assert receipt["services"] == dict.fromkeys(SERVICES, True), receipt
    await settled(apps)

    # -- after: the client and its export are absent ------------------------------------------
    for table in REPORT_ROWS:
        assert await client_rows(pool, table, client_id) == 0, table
    assert_problem(
        await api.get(f"{INTAKE}/clients/{client_id}", headers=w["headers"]), 404, "not-found"
    )
    assert_problem(
        await api.get(f"{INTAKE}/clients/{client_id}/export", headers=w["headers"]),
        404,
        "not-found",
    )
    # Whatever the APIs still answer, no marker is in it (and no read fails: checked
    # last, so that every other check has its say first).
    shown_after = await api_texts(w, api, planning_api, followup_api, referral_api)
    leaked = {p: sorted(found_in(t, m)) for p, (_, t) in shown_after.items() if found_in(t, m)}
    assert not leaked, f"the APIs still show markers after the erasure: {leaked}"
    broken = {p: f"{s}: {t[:300]}" for p, (s, t) in shown_after.items() if s >= 500}

    # The group session and the other participant's part are as they were.
    group = (await api.get(f"{INTAKE}/groups/{w['group_id']}", headers=w["headers"])).json()
    assert group["status"] == "held", group
    assert [p["case_id"] for p in group["cases"]] == [case_id, w["other_case"]]
    r = await api.get(f"{INTAKE}/cases/{w['other_case']}/notes", headers=w["headers"])
    assert canaries["group_other"] in r.text, r.text

    # -- no marker in any table of any schema -----------------------------------------------
    db_after, tables_after = await asyncio.to_thread(scan_database, dsn, needles)
    assert set(tables) <= set(tables_after)
    left = {k: sorted(v) for k, v in db_after.items() if not k.startswith("canary:")}
    assert not left, f"markers left in the database after the erasure: {left}"
    assert "planning.planning_events.state" in db_after["canary:standard"]
    assert "referral.referral_events.state" in db_after["canary:partner"]

    # -- no marker in any message of any stream ----------------------------------------------
    nats_after, read_after = await scan_streams(js, needles)
    assert read_after >= read_before
    left = {k: sorted(v) for k, v in nats_after.items() if not k.startswith("canary:")}
    assert not left, f"markers left in JetStream after the erasure: {left}"
    assert any(s.startswith("GUIDANCE_REFERRAL#") for s in nats_after["canary:partner"])

    # -- every aggregate of the client still loads, its personal fields ERASED ------------------
    erased = await asyncio.to_thread(check_aggregates, apps, w, m, canaries)
    assert erased >= 40, erased

    # -- each service's chain verifies; the auditor's view lists the same events ------------------
    for service, client in clients.items():
        r = await client.get(f"{PREFIXES[service]}/audit/verify", headers=auditor)
        assert r.status_code == 200, (service, r.text)
        assert r.json()["ok"] is True, (service, r.json())
    for (service, case), before in views_before.items():
        after = await audit_events(clients[service], service, case, auditor)
        check_audit_view(service, before, after, m)

    # -- no marker in any log record of the whole test ---------------------------------------------
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "no log record captured at all"
    logged = log_hits(records, m)
    assert not logged, f"markers in log records: {logged}"

    # -- the erased client's remaining objects still read (as ERASED, or absent) ------------------
    assert not broken, f"reads that fail once the client is erased: {broken}"


REPORT_ROWS = (
    "intake.sessions_view",
    "intake.appointments_view",
    "intake.complaints_view",
    "followup.bottlenecks_view",
    "referral.referrals_view",
)


async def client_rows(pool: Any, table: str, client_id: str) -> int:
    n: int = await pool.fetchval(
        f"SELECT count(*) FROM {table} WHERE client_id = $1", uuid.UUID(client_id)
    )
    return n


def check_audit_view(
    service: str, before: list[dict[str, Any]], after: list[dict[str, Any]], m: dict[str, str]
) -> None:
    """The same events in the same order (position, hash, type); every personal field that
    was opened before reads ERASED now; no marker anywhere in the view."""

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (e["position"], e["hash"], e["type"], e["originator_id"], e["originator_version"])

    assert [key(e) for e in after[: len(before)]] == [key(e) for e in before], service
    positions = [e["position"] for e in after]
    assert positions == sorted(positions) and len(set(positions)) == len(positions), service
    for old, new in zip(before, after, strict=False):
        for field in old.get("personal_fields", []):
            if old["data"][field] is not None:
                assert new["data"][field] == ERASED, (service, new["type"], field, new["data"])
    personal = [e for e in after if e.get("personal_fields")]
    assert personal, f"{service}: no event with personal fields in the view"
    assert not found_in(repr(after), m), (service, sorted(found_in(repr(after), m)))


def check_aggregates(
    apps: dict[str, FastAPI], w: dict[str, Any], m: dict[str, str], canaries: dict[str, str]
) -> int:
    """Load every aggregate of the client in each service (named, and every originator
    the service's audit chain links to the client or its cases): each loads, holds no
    marker, and its personal fields read ERASED. How many ERASED fields were seen."""
    client_id = uuid.UUID(w["client_id"])
    cases = [uuid.UUID(c) for c in w["cases"]]
    named: dict[str, set[uuid.UUID]] = {
        "intake": {
            client_id,
            *cases,
            ClientErasure.id_for(client_id),
            uuid.UUID(w["complaint_id"]),
        },
        "planning": {plan_id_for(uuid.UUID(w["case_id"]))},
        "followup": {followup_id_for(uuid.UUID(w["case_id"]))},
        "referral": {
            *(uuid.UUID(r) for r in w["referrals"]),
            ConsentReferrals.id_for(client_id, uuid.UUID(w["partner_id"])),
        },
    }
    loaded: dict[str, dict[uuid.UUID, Any]] = {}
    for service, app in apps.items():
        store = store_of(app, service)
        schema, _ = events_table(store)
        with psycopg.connect(store.settings.pg.dsn()) as conn:
            linked = {
                row[0]
                for row in conn.execute(
                    sql.SQL(
                        "SELECT DISTINCT originator_id FROM {}.audit_chain "
                        "WHERE client_id = %s OR case_id = ANY(%s)"
                    ).format(sql.Identifier(schema)),
                    (client_id, cases),
                )
            }
        ids = named[service] | linked
        assert named[service] <= linked, (service, named[service] - linked)
        loaded[service] = {i: store.repository.get(i) for i in ids}
        for aggregate_id, aggregate in loaded[service].items():
            state = repr(vars(aggregate))
            assert not found_in(state, m), (service, type(aggregate).__name__, aggregate_id)
        kinds = {type(a).__name__ for a in loaded[service].values()}
        assert "ErasureConfirmation" in kinds, (service, kinds)
        assert "DataAccess" in kinds, (service, kinds)

    count = 0

    def erased(*values: Any) -> None:
        nonlocal count
        for value in values:
            assert value == ERASED, value
            count += 1

    intake = loaded["intake"]
    client = intake[client_id]
    erased(client.given_name, client.family_name, client.email, client.phone, client.birth_date)
    assert client.preferred_language == "en"
    for case_id in cases:
        case = intake[case_id]
        erased(case.career_question, case.decision.reason)
    erased(intake[cases[0]].entry_check.notes)
    notes, group_notes = intake[cases[0]].session_notes.values()
    erased(notes[0].discussed, notes[0].insights, notes[0].agreements, notes[0].homework)
    [appointment] = intake[cases[0]].appointments.values()
    erased(appointment.cancel_reason)
    erased(group_notes[0].insights)
    assert [g.topic for g in intake[cases[0]].group_sessions] == ["Networking"]
    report = intake[cases[0]].report
    erased(report.starting_question, report.conclusions, *report.insights, *report.actions)
    erased(intake[cases[0]].reassignments[0].reason, intake[cases[2]].closure.summary)
    erased(intake[cases[0]].budget_reason, intake[cases[0]].budget_extensions[0].reason)
    assert intake[cases[0]].resumed is True
    complaint = intake[uuid.UUID(w["complaint_id"])]
    assert complaint.answer is not None and complaint.status == "answered"
    erased(complaint.subject, complaint.answer.text)

    plan = loaded["planning"][plan_id_for(cases[0])]
    [goal] = plan.goals.values()
    erased(goal.title, goal.specific, goal.measure)
    assert len(plan.actions) == 3, plan.actions
    erased(*(a.description for a in plan.actions.values()))
    erased(plan.actions[uuid.UUID(w["cancelled_action_id"])].cancel_reason)
    analysis = plan.competence_analysis
    erased(
        analysis.career_target,
        analysis.career_target_uri,
        analysis.strengths,
        analysis.weaknesses,
        analysis.training_needs,
    )
    [evidence] = plan.portfolio.evidence
    erased(evidence.title, evidence.description)
    erased(plan.portfolio.assessment.comparison)
    assert plan.portfolio.assessment.standard == canaries["standard"]
    [insight] = plan.insights
    [decision] = plan.decisions
    assert decision.kind == "decision"
    erased(plan.career_question, insight.text, decision.text, decision.reasons)
    erased(plan.support_needs.kinds, plan.support_needs.notes)
    [product] = plan.products.values()
    assert (product.kind, product.status) == ("application", "interview")
    erased(product.title, product.notes, product.employer, product.position)
    erased(product.steps[-1].answer)
    [instrument] = plan.instrument_uses.values()
    assert instrument.instrument == "riasec"
    erased(instrument.result, instrument.scores, instrument.interpretation)
    erased(*(v.content for v in plan.agreed_versions.values()))
    erased(plan.closed.reason)

    followup = loaded["followup"][followup_id_for(cases[0])]
    erased(*(c.notes for c in followup.contacts))
    erased(*(c.bottleneck for c in followup.action_checks.values()))
    erased(*(b.description for b in followup.bottlenecks.values()))
    erased(*(t["description"] for t in followup.todos.values()))
    erased(followup.feedback["comments"])
    early = [c for c in followup.closures if c["rule"] == "early"]
    assert early, followup.closures
    erased(*(c["reason"] for c in early), *(c["notes"] for c in early))

    referral = loaded["referral"]
    looped, declined, withdrawn = (referral[uuid.UUID(r)] for r in w["referrals"])
    erased(looped.reason, looped.outcome.notes, looped.closing_note, looped.resumption.note)
    erased(declined.reason, declined.decline_reason)
    erased(withdrawn.reason, withdrawn.withdrawal_reason)
    assert (looped.status, declined.status, withdrawn.status) == (
        "closed",
        "declined",
        "withdrawn",
    )
    for service in SERVICES:
        confirmations = [a for a in loaded[service].values() if isinstance(a, ErasureConfirmation)]
        assert [c.service for c in confirmations] == [service], service
    return count

"""Intake's bad requests: a table of bad requests for every intake path, each to answer
problem+json and change nothing.

The service is shared by the whole session, so the table works in an organisation of its own
(a fresh `org-…` id) with clients of its own; its rows share that world (`Worlds`: built once,
rebuilt after a row that fails).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.bad_requests import Bad, Worlds, bad_request, caller, with_, without
from tests.scenarios import (
    ALL_THREES,
    PAST_SESSION,
    a_client_body,
    a_guidance_consent,
    a_registered_client,
    an_open_case,
    intake_events,
    intake_get,
    post_case,
)
from tests.scenarios import INTAKE as BASE
from tests.support import INVALID, assert_problem, bearer, new_org


def client_with(**overrides: Any) -> dict[str, Any]:
    return a_client_body(**overrides)


SESSION = {"kind": "intake", "held_at": PAST_SESSION, "minutes": 60}
ASSESSMENT = {"assessor": "client", "scores": ALL_THREES}
FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
P_CLIENTS = "/clients"
P_CLIENT = "/clients/{client}"
P_CONSENTS = "/clients/{client}/consents"
P_HISTORY = "/clients/{client}/consents/history"
P_CASES = "/cases"
P_CASE = "/cases/{case}"
P_ENTRY = "/cases/{case}/entry-check"
P_ASSESS = "/cases/{case}/assessments"
P_SESSION = "/cases/{case}/sessions"
P_DECIDE = "/cases/{case}/decision"
P_NOTES = "/cases/{case}/sessions/{missing}/notes"
P_REPORT = "/cases/{case}/report"
P_APPT = "/cases/{case}/appointments"
P_ONE_APPT = "/cases/{case}/appointments/{missing}"
APPT = {"kind": "deepening", "starts_at": FUTURE, "channel": "phone"}
NOTES = {"discussed": "Values."}
REPORT = {"starting_question": "What next?", "insights": [], "conclusions": "", "actions": []}
P_CASELOAD = "/reports/caseload?from=2026-01-01&to=2026-01-31"
P_FUNDER = "/reports/funder?from=2026-01-01&to=2026-01-31"
P_OBJECTIVES = "/objectives"
P_WITHDRAW = "/objectives/{missing}/withdrawal"
OBJECTIVE = {
    "metric": "job_or_study_outcome",
    "target": 50,
    "starts_on": "2026-01-01",
    "ends_on": "2026-12-31",
}
P_CLOSE = "/cases/{case}/closure"
P_REASSIGN = "/cases/{case}/reassignment"
P_HANDOVER = "/reassignments"
P_EXTRA = "/cases/{case}/budget/approvals"
EXTRA = {"extra_hours": 2, "reason": "Two more sessions."}
CLOSE = {"reason": "client_withdrew", "summary": "Moved abroad."}
REASSIGN = {"counsellor": "c-2", "reason": "Leave."}
HANDOVER = {"from_counsellor": "c-1", "to_counsellor": "c-2", "reason": "Leave."}
OPEN_CASE = {"client_id": "{client}", "career_question": "What next?"}
P_GROUPS = "/groups"
P_GROUP_ADD = "/groups/{group}/participants"
P_GROUP_HELD = "/groups/{group}/held"
GROUP = {"topic": "Networking", "starts_at": PAST_SESSION, "minutes": 90}

BAD: dict[str, Bad] = {
    # POST /clients
    "register/no-body": Bad("POST", P_CLIENTS, 422, INVALID),
    "register/empty": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body={},
        fields=("given_name", "family_name", "birth_date", "email"),
    ),
    "register/missing-email": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=without(a_client_body(), "email"), fields=("email",)
    ),
    "register/unknown-field": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(nickname="Ann"), fields=("nickname",)
    ),
    "register/name-not-a-string": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(given_name=42), fields=("given_name",)
    ),
    "register/blank-name": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(family_name="   "),
        fields=("family_name",),
    ),
    "register/bad-date": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(birth_date="17/05/1990"),
        fields=("birth_date",),
    ),
    "register/unborn": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(birth_date=TOMORROW),
        fields=("birth_date",),
    ),
    "register/bad-email": Bad(
        "POST", P_CLIENTS, 422, INVALID, body=client_with(email="anna-at-home"), fields=("email",)
    ),
    "register/bad-language": Bad(
        "POST",
        P_CLIENTS,
        422,
        INVALID,
        body=client_with(preferred_language="Dutch"),
        fields=("preferred_language",),
    ),
    "register/invalid-json": Bad(
        "POST", P_CLIENTS, 422, INVALID, raw='{"given_name": "Anna", "family_name": '
    ),
    "register/json-array": Bad("POST", P_CLIENTS, 422, INVALID, body=[a_client_body()]),
    "register/no-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="none"
    ),
    "register/garbage-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="garbage"
    ),
    "register/expired-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="expired"
    ),
    "register/forged-token": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="forged"
    ),
    "register/basic-auth": Bad(
        "POST", P_CLIENTS, 401, "unauthorized", body=a_client_body(), who="basic"
    ),
    "register/auditor": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="auditor"
    ),
    "register/partner": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="partner"
    ),
    "register/team-lead": Bad(
        "POST", P_CLIENTS, 403, "forbidden", body=a_client_body(), who="team_lead"
    ),
    # GET /clients/{id}
    "client/no-token": Bad("GET", P_CLIENT, 401, "unauthorized", who="none"),
    "client/auditor": Bad("GET", P_CLIENT, 403, "forbidden", who="auditor"),
    "client/partner": Bad("GET", P_CLIENT, 403, "forbidden", who="partner"),
    "client/unknown": Bad("GET", "/clients/{missing}", 404, "not-found"),
    "client/a-case-id": Bad("GET", "/clients/{case}", 404, "not-found"),
    "client/other-org": Bad("GET", "/clients/{other_client}", 404, "not-found"),
    "client/not-a-uuid": Bad("GET", "/clients/anna", 422, INVALID, fields=("client_id",)),
    # POST /clients/{id}/consents
    "consent/empty": Bad("POST", P_CONSENTS, 422, INVALID, body={}, fields=("purpose", "granted")),
    "consent/unknown-field": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "guidance", "granted": True, "until": "2030-01-01"},
        fields=("until",),
    ),
    "consent/unknown-purpose": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "marketing", "granted": True},
        fields=("purpose",),
    ),
    "consent/granted-as-string": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": "yes"},
        fields=("granted",),
    ),
    "consent/granted-as-number": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": 1},
        fields=("granted",),
    ),
    "consent/referral-without-partner": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "referral", "granted": True, "data_categories": ["identity"]},
        fields=("partner_id",),
    ),
    "consent/referral-without-categories": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "referral", "granted": True, "partner_id": str(uuid.uuid4())},
        fields=("data_categories",),
    ),
    "consent/referral-unknown-category": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={
            "purpose": "referral",
            "granted": True,
            "partner_id": str(uuid.uuid4()),
            "data_categories": ["identity", "salary"],
        },
        fields=("data_categories",),
    ),
    "consent/partner-not-a-uuid": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={
            "purpose": "referral",
            "granted": True,
            "partner_id": "vdab",
            "data_categories": ["identity"],
        },
        fields=("partner_id",),
    ),
    "consent/guidance-with-partner": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "guidance", "granted": True, "partner_id": str(uuid.uuid4())},
        fields=("partner_id",),
    ),
    "consent/statistics-with-categories": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": True, "data_categories": ["contact"]},
        fields=("data_categories",),
    ),
    "consent/invalid-json": Bad("POST", P_CONSENTS, 422, INVALID, raw="purpose=guidance"),
    "consent/stale-if-match": Bad(
        "POST",
        P_CONSENTS,
        409,
        "version-conflict",
        body={"purpose": "statistics", "granted": True},
        if_match='"1"',
    ),
    "consent/future-if-match": Bad(
        "POST",
        P_CONSENTS,
        409,
        "version-conflict",
        body={"purpose": "statistics", "granted": True},
        if_match='"3"',
    ),
    "consent/malformed-if-match": Bad(
        "POST",
        P_CONSENTS,
        422,
        INVALID,
        body={"purpose": "statistics", "granted": True},
        if_match="version two",
        fields=("If-Match",),
    ),
    "consent/unknown-client": Bad(
        "POST",
        "/clients/{missing}/consents",
        404,
        "not-found",
        body={"purpose": "guidance", "granted": True},
    ),
    "consent/other-org": Bad(
        "POST",
        "/clients/{other_client}/consents",
        404,
        "not-found",
        body={"purpose": "statistics", "granted": True},
    ),
    "consent/no-token": Bad(
        "POST",
        P_CONSENTS,
        401,
        "unauthorized",
        body={"purpose": "guidance", "granted": False},
        who="none",
    ),
    "consent/team-lead": Bad(
        "POST",
        P_CONSENTS,
        403,
        "forbidden",
        body={"purpose": "guidance", "granted": False},
        who="team_lead",
    ),
    "consent/partner": Bad(
        "POST",
        P_CONSENTS,
        403,
        "forbidden",
        body={"purpose": "guidance", "granted": False},
        who="partner",
    ),
    # GET consents and their history
    "consents/no-token": Bad("GET", P_CONSENTS, 401, "unauthorized", who="none"),
    "consents/auditor": Bad("GET", P_CONSENTS, 403, "forbidden", who="auditor"),
    "consents/unknown": Bad("GET", "/clients/{missing}/consents", 404, "not-found"),
    "consents/other-org": Bad("GET", "/clients/{other_client}/consents", 404, "not-found"),
    "history/no-token": Bad("GET", P_HISTORY, 401, "unauthorized", who="none"),
    "history/partner": Bad("GET", P_HISTORY, 403, "forbidden", who="partner"),
    "history/unknown": Bad("GET", "/clients/{missing}/consents/history", 404, "not-found"),
    "history/other-org": Bad("GET", "/clients/{other_client}/consents/history", 404, "not-found"),
    # POST /cases
    "open/empty": Bad(
        "POST", P_CASES, 422, INVALID, body={}, fields=("client_id", "career_question")
    ),
    "open/missing-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}"},
        fields=("career_question",),
    ),
    "open/unknown-field": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={**OPEN_CASE, "hours_budget": 100},
        fields=("hours_budget",),
    ),
    "open/client-not-a-uuid": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "anna", "career_question": "What next?"},
        fields=("client_id",),
    ),
    "open/question-not-a-string": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": ["what", "next"]},
        fields=("career_question",),
    ),
    "open/empty-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": ""},
        fields=("career_question",),
    ),
    "open/blank-question": Bad(
        "POST",
        P_CASES,
        422,
        INVALID,
        body={"client_id": "{client}", "career_question": "  \n "},
        fields=("career_question",),
    ),
    "open/invalid-json": Bad("POST", P_CASES, 422, INVALID, raw="{'client_id': 1}"),
    "open/without-consent": Bad(
        "POST",
        P_CASES,
        409,
        "consent-required",
        body={"client_id": "{bare}", "career_question": "What next?"},
    ),
    "open/unknown-client": Bad(
        "POST",
        P_CASES,
        404,
        "not-found",
        body={"client_id": "{missing}", "career_question": "What next?"},
    ),
    "open/other-org-client": Bad(
        "POST",
        P_CASES,
        404,
        "not-found",
        body={"client_id": "{other_client}", "career_question": "What next?"},
    ),
    "open/no-token": Bad("POST", P_CASES, 401, "unauthorized", body=OPEN_CASE, who="none"),
    "open/auditor": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="auditor"),
    "open/partner": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="partner"),
    "open/team-lead": Bad("POST", P_CASES, 403, "forbidden", body=OPEN_CASE, who="team_lead"),
    # GET /cases/{id} and /cases
    "case/no-token": Bad("GET", P_CASE, 401, "unauthorized", who="none"),
    "case/auditor": Bad("GET", P_CASE, 403, "forbidden", who="auditor"),
    "case/partner": Bad("GET", P_CASE, 403, "forbidden", who="partner"),
    "case/unknown": Bad("GET", "/cases/{missing}", 404, "not-found"),
    "case/a-client-id": Bad("GET", "/cases/{client}", 404, "not-found"),
    "case/other-org": Bad("GET", "/cases/{other_case}", 404, "not-found"),
    "case/not-a-uuid": Bad("GET", "/cases/42", 422, INVALID, fields=("case_id",)),
    "cases/no-token": Bad("GET", P_CASES, 401, "unauthorized", who="none"),
    "cases/auditor": Bad("GET", P_CASES, 403, "forbidden", who="auditor"),
    "cases/unknown-status": Bad("GET", "/cases?status=lost", 422, INVALID, fields=("status",)),
    "cases/limit-0": Bad("GET", "/cases?limit=0", 422, INVALID, fields=("limit",)),
    "cases/limit-too-big": Bad("GET", "/cases?limit=1000", 422, INVALID, fields=("limit",)),
    "cases/negative-offset": Bad("GET", "/cases?offset=-1", 422, INVALID, fields=("offset",)),
    "cases/limit-not-a-number": Bad("GET", "/cases?limit=all", 422, INVALID, fields=("limit",)),
    # POST /cases/{id}/entry-check
    "entry/empty": Bad("POST", P_ENTRY, 422, INVALID, body={}, fields=("eligible",)),
    "entry/unknown-field": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": True, "score": 3}, fields=("score",)
    ),
    "entry/eligible-as-string": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": "true"}, fields=("eligible",)
    ),
    "entry/eligible-maybe": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": "maybe"}, fields=("eligible",)
    ),
    "entry/notes-not-a-string": Bad(
        "POST", P_ENTRY, 422, INVALID, body={"eligible": True, "notes": 5}, fields=("notes",)
    ),
    "entry/invalid-json": Bad("POST", P_ENTRY, 422, INVALID, raw='{"eligible": tru}'),
    "entry/stale-if-match": Bad(
        "POST", P_ENTRY, 409, "version-conflict", body={"eligible": True}, if_match='"1"'
    ),
    "entry/unknown-case": Bad(
        "POST", "/cases/{missing}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/a-client-id": Bad(
        "POST", "/cases/{client}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/other-org": Bad(
        "POST", "/cases/{other_case}/entry-check", 404, "not-found", body={"eligible": True}
    ),
    "entry/no-token": Bad(
        "POST", P_ENTRY, 401, "unauthorized", body={"eligible": True}, who="none"
    ),
    "entry/team-lead": Bad(
        "POST", P_ENTRY, 403, "forbidden", body={"eligible": True}, who="team_lead"
    ),
    "entry/auditor": Bad("POST", P_ENTRY, 403, "forbidden", body={"eligible": True}, who="auditor"),
    # POST /cases/{id}/assessments
    "assess/empty": Bad("POST", P_ASSESS, 422, INVALID, body={}, fields=("assessor", "scores")),
    "assess/unknown-assessor": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "mother", "scores": ALL_THREES},
        fields=("assessor",),
    ),
    "assess/missing-competence": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": without(ALL_THREES, "networking")},
        fields=("scores.networking",),
    ),
    "assess/unknown-competence": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "happiness": 4}},
        fields=("scores.happiness",),
    ),
    "assess/score-0": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "career_steering": 0}},
        fields=("scores.career_steering",),
    ),
    "assess/score-5": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "counsellor", "scores": {**ALL_THREES, "work_exploration": 5}},
        fields=("scores.work_exploration",),
    ),
    "assess/two-scores-out-of-range": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={
            "assessor": "client",
            "scores": {**ALL_THREES, "networking": -1, "motive_reflection": 9},
        },
        fields=("scores.networking", "scores.motive_reflection"),
    ),
    "assess/score-as-string": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "quality_reflection": "3"}},
        fields=("scores.quality_reflection",),
    ),
    "assess/score-as-boolean": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "networking": True}},
        fields=("scores.networking",),
    ),
    "assess/score-fractional": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": {**ALL_THREES, "networking": 2.5}},
        fields=("scores.networking",),
    ),
    "assess/scores-as-list": Bad(
        "POST",
        P_ASSESS,
        422,
        INVALID,
        body={"assessor": "client", "scores": [3, 3, 3, 3, 3]},
        fields=("scores",),
    ),
    "assess/unknown-field": Bad(
        "POST", P_ASSESS, 422, INVALID, body={**ASSESSMENT, "date": PAST_SESSION}, fields=("date",)
    ),
    "assess/invalid-json": Bad("POST", P_ASSESS, 422, INVALID, raw='{"assessor": "client",}'),
    "assess/stale-if-match": Bad(
        "POST", P_ASSESS, 409, "version-conflict", body=ASSESSMENT, if_match='W/"1"'
    ),
    "assess/unknown-case": Bad(
        "POST", "/cases/{missing}/assessments", 404, "not-found", body=ASSESSMENT
    ),
    "assess/other-org": Bad(
        "POST", "/cases/{other_case}/assessments", 404, "not-found", body=ASSESSMENT
    ),
    "assess/no-token": Bad("POST", P_ASSESS, 401, "unauthorized", body=ASSESSMENT, who="none"),
    "assess/partner": Bad("POST", P_ASSESS, 403, "forbidden", body=ASSESSMENT, who="partner"),
    # POST /cases/{id}/sessions
    "session/empty": Bad(
        "POST", P_SESSION, 422, INVALID, body={}, fields=("kind", "held_at", "minutes")
    ),
    "session/unknown-kind": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "kind": "coffee"}, fields=("kind",)
    ),
    "session/0-minutes": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 0}, fields=("minutes",)
    ),
    "session/601-minutes": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 601}, fields=("minutes",)
    ),
    "session/minutes-as-text": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": "sixty"}, fields=("minutes",)
    ),
    "session/minutes-as-string": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": "60"}, fields=("minutes",)
    ),
    "session/minutes-fractional": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "minutes": 45.5}, fields=("minutes",)
    ),
    "session/held-at-without-zone": Bad(
        "POST",
        P_SESSION,
        422,
        INVALID,
        body={**SESSION, "held_at": "2025-01-06T10:00:00"},
        fields=("held_at",),
    ),
    "session/held-at-not-a-time": Bad(
        "POST",
        P_SESSION,
        422,
        INVALID,
        body={**SESSION, "held_at": "yesterday"},
        fields=("held_at",),
    ),
    "session/held-in-the-future": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "held_at": FUTURE}, fields=("held_at",)
    ),
    "session/unknown-field": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "room": "B12"}, fields=("room",)
    ),
    "session/invalid-json": Bad("POST", P_SESSION, 422, INVALID, raw="minutes: 60"),
    "session/stale-if-match": Bad(
        "POST", P_SESSION, 409, "version-conflict", body=SESSION, if_match='"1"'
    ),
    "session/unknown-case": Bad(
        "POST", "/cases/{missing}/sessions", 404, "not-found", body=SESSION
    ),
    "session/other-org": Bad(
        "POST", "/cases/{other_case}/sessions", 404, "not-found", body=SESSION
    ),
    "session/no-token": Bad("POST", P_SESSION, 401, "unauthorized", body=SESSION, who="none"),
    "session/auditor": Bad("POST", P_SESSION, 403, "forbidden", body=SESSION, who="auditor"),
    "session/notes-blank": Bad(
        "POST", P_SESSION, 422, INVALID, body={**SESSION, "notes": {}}, fields=("notes.discussed",)
    ),
    "session/notes-too-long": Bad(
        "POST",
        P_SESSION,
        422,
        INVALID,
        body={**SESSION, "notes": {"homework": "x" * 4001}},
        fields=("notes.homework",),
    ),
    # POST /cases/{id}/sessions/{session}/notes
    "notes/unknown-session": Bad("POST", P_NOTES, 404, "not-found", body=NOTES),
    "notes/other-org": Bad(
        "POST", "/cases/{other_case}/sessions/{missing}/notes", 404, "not-found", body=NOTES
    ),
    "notes/too-long": Bad(
        "POST", P_NOTES, 422, INVALID, body={"insights": "x" * 4001}, fields=("insights",)
    ),
    "notes/unknown-field": Bad(
        "POST", P_NOTES, 422, INVALID, body={"mood": "fine"}, fields=("mood",)
    ),
    "notes/session-not-an-id": Bad(
        "POST", "/cases/{case}/sessions/nope/notes", 422, INVALID, body=NOTES
    ),
    "notes/no-token": Bad("POST", P_NOTES, 401, "unauthorized", body=NOTES, who="none"),
    "notes/auditor": Bad("POST", P_NOTES, 403, "forbidden", body=NOTES, who="auditor"),
    # POST, PUT /cases/{id}/report, POST /cases/{id}/report/agreement
    "report/not-accepted": Bad("POST", P_REPORT, 409, "case-not-accepted", body={}),
    "report/insights-not-a-list": Bad(
        "POST", P_REPORT, 422, INVALID, body={"insights": "x"}, fields=("insights",)
    ),
    "report/blank-action": Bad(
        "POST", P_REPORT, 422, INVALID, body={"actions": [""]}, fields=("actions",)
    ),
    "report/other-org": Bad("POST", "/cases/{other_case}/report", 404, "not-found", body={}),
    "report/team-lead": Bad("POST", P_REPORT, 403, "forbidden", body={}, who="team_lead"),
    "report-revise/empty": Bad(
        "PUT",
        P_REPORT,
        422,
        INVALID,
        body={},
        fields=("starting_question", "insights", "conclusions", "actions"),
    ),
    "report-revise/not-accepted": Bad("PUT", P_REPORT, 409, "case-not-accepted", body=REPORT),
    "report-revise/auditor": Bad("PUT", P_REPORT, 403, "forbidden", body=REPORT, who="auditor"),
    "report-agree/empty": Bad(
        "POST", f"{P_REPORT}/agreement", 422, INVALID, body={}, fields=("revision",)
    ),
    "report-agree/revision-as-text": Bad(
        "POST",
        f"{P_REPORT}/agreement",
        422,
        INVALID,
        body={"revision": "1"},
        fields=("revision",),
    ),
    "report-agree/not-accepted": Bad(
        "POST", f"{P_REPORT}/agreement", 409, "case-not-accepted", body={"revision": 1}
    ),
    # POST /cases/{id}/appointments, PUT /cases/{id}/appointments/{a}, its cancellation,
    # no-show and holding
    "appointment/in-person-without-place": Bad(
        "POST", P_APPT, 422, INVALID, body={**APPT, "channel": "in_person"}, fields=("place",)
    ),
    "appointment/in-the-past": Bad(
        "POST",
        P_APPT,
        422,
        INVALID,
        body={**APPT, "starts_at": PAST_SESSION},
        fields=("starts_at",),
    ),
    "appointment/naive-start": Bad(
        "POST",
        P_APPT,
        422,
        INVALID,
        body={**APPT, "starts_at": "2030-03-02T10:00:00"},
        fields=("starts_at",),
    ),
    "appointment/unknown-channel": Bad(
        "POST", P_APPT, 422, INVALID, body={**APPT, "channel": "fax"}, fields=("channel",)
    ),
    "appointment/no-minutes": Bad(
        "POST", P_APPT, 422, INVALID, body={**APPT, "minutes": 0}, fields=("minutes",)
    ),
    "appointment/place-on-two-lines": Bad(
        "POST", P_APPT, 422, INVALID, body={**APPT, "place": "a\nb"}, fields=("place",)
    ),
    "appointment/other-org": Bad(
        "POST", "/cases/{other_case}/appointments", 404, "not-found", body=APPT
    ),
    "appointment/team-lead": Bad("POST", P_APPT, 403, "forbidden", body=APPT, who="team_lead"),
    "appointment/auditor": Bad("POST", P_APPT, 403, "forbidden", body=APPT, who="auditor"),
    "reschedule/unknown": Bad("PUT", P_ONE_APPT, 404, "not-found", body={"starts_at": FUTURE}),
    "reschedule/empty": Bad("PUT", P_ONE_APPT, 422, INVALID, body={}, fields=("starts_at",)),
    "cancel/blank-reason": Bad(
        "POST",
        f"{P_ONE_APPT}/cancellation",
        422,
        INVALID,
        body={"by": "client", "reason": ""},
        fields=("reason",),
    ),
    "cancel/unknown-canceller": Bad(
        "POST",
        f"{P_ONE_APPT}/cancellation",
        422,
        INVALID,
        body={"by": "weather", "reason": "Snow."},
        fields=("by",),
    ),
    "no-show/unknown": Bad("POST", f"{P_ONE_APPT}/no-show", 404, "not-found", body={}),
    "held/too-long": Bad(
        "POST", f"{P_ONE_APPT}/held", 422, INVALID, body={"minutes": 601}, fields=("minutes",)
    ),
    # POST /cases/{id}/decision
    "decide/empty": Bad("POST", P_DECIDE, 422, INVALID, body={}, fields=("decision",)),
    "decide/unknown-decision": Bad(
        "POST", P_DECIDE, 422, INVALID, body={"decision": "postpone"}, fields=("decision",)
    ),
    "decide/reason-not-a-string": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "decline", "reason": {"why": "no"}},
        fields=("reason",),
    ),
    "decide/unknown-field": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "decline", "partner": "x"},
        fields=("partner",),
    ),
    "decide/invalid-json": Bad("POST", P_DECIDE, 422, INVALID, raw='"accept'),
    "decide/accept-without-entry-check": Bad(
        "POST", P_DECIDE, 409, "case-not-ready", body={"decision": "accept"}
    ),
    "decide/stale-if-match": Bad(
        "POST",
        P_DECIDE,
        409,
        "version-conflict",
        body={"decision": "decline"},
        if_match='"1"',
    ),
    "decide/unknown-case": Bad(
        "POST", "/cases/{missing}/decision", 404, "not-found", body={"decision": "decline"}
    ),
    "decide/other-org": Bad(
        "POST", "/cases/{other_case}/decision", 404, "not-found", body={"decision": "decline"}
    ),
    "decide/no-token": Bad(
        "POST", P_DECIDE, 401, "unauthorized", body={"decision": "decline"}, who="none"
    ),
    "decide/team-lead": Bad(
        "POST", P_DECIDE, 403, "forbidden", body={"decision": "decline"}, who="team_lead"
    ),
    "decide/partner": Bad(
        "POST", P_DECIDE, 403, "forbidden", body={"decision": "decline"}, who="partner"
    ),
    # POST /cases/{id}/closure (staff)
    "close/empty": Bad("POST", P_CLOSE, 422, INVALID, body={}, fields=("reason", "summary")),
    "close/unknown-reason": Bad(
        "POST", P_CLOSE, 422, INVALID, body=with_(CLOSE, reason="done"), fields=("reason",)
    ),
    "close/reason-its-status-refuses": Bad(
        "POST", P_CLOSE, 422, INVALID, body=with_(CLOSE, reason="declined"), fields=("reason",)
    ),
    "close/blank-summary": Bad(
        "POST", P_CLOSE, 422, INVALID, body=with_(CLOSE, summary=" \n "), fields=("summary",)
    ),
    "close/long-summary": Bad(
        "POST", P_CLOSE, 422, INVALID, body=with_(CLOSE, summary="x" * 4001), fields=("summary",)
    ),
    "close/control-character": Bad(
        "POST", P_CLOSE, 422, INVALID, body=with_(CLOSE, summary="a\u0000b"), fields=("summary",)
    ),
    "close/other-org": Bad("POST", "/cases/{other_case}/closure", 404, "not-found", body=CLOSE),
    "close/no-token": Bad("POST", P_CLOSE, 401, "unauthorized", body=CLOSE, who="none"),
    "close/auditor": Bad("POST", P_CLOSE, 403, "forbidden", body=CLOSE, who="auditor"),
    "close/partner": Bad("POST", P_CLOSE, 403, "forbidden", body=CLOSE, who="partner"),
    # POST /cases/{id}/reassignment (team lead)
    "reassign/counsellor": Bad("POST", P_REASSIGN, 403, "forbidden", body=REASSIGN),
    "reassign/empty": Bad(
        "POST", P_REASSIGN, 422, INVALID, body={}, fields=("counsellor", "reason"), who="team_lead"
    ),
    "reassign/two-lines": Bad(
        "POST",
        P_REASSIGN,
        422,
        INVALID,
        body=with_(REASSIGN, counsellor="c\n2"),
        fields=("counsellor",),
        who="team_lead",
    ),
    "reassign/blank-reason": Bad(
        "POST",
        P_REASSIGN,
        422,
        INVALID,
        body=with_(REASSIGN, reason="  "),
        fields=("reason",),
        who="team_lead",
    ),
    "reassign/other-org": Bad(
        "POST", "/cases/{other_case}/reassignment", 404, "not-found", body=REASSIGN, who="team_lead"
    ),
    "reassign/auditor": Bad("POST", P_REASSIGN, 403, "forbidden", body=REASSIGN, who="auditor"),
    # POST /cases/{id}/budget/approvals (team lead)
    "extra-hours/counsellor": Bad("POST", P_EXTRA, 403, "forbidden", body=EXTRA),
    "extra-hours/empty": Bad(
        "POST", P_EXTRA, 422, INVALID, body={}, fields=("extra_hours", "reason"), who="team_lead"
    ),
    "extra-hours/zero": Bad(
        "POST",
        P_EXTRA,
        422,
        INVALID,
        body=with_(EXTRA, extra_hours=0),
        fields=("extra_hours",),
        who="team_lead",
    ),
    "extra-hours/blank-reason": Bad(
        "POST",
        P_EXTRA,
        422,
        INVALID,
        body=with_(EXTRA, reason="  "),
        fields=("reason",),
        who="team_lead",
    ),
    "extra-hours/other-org": Bad(
        "POST",
        "/cases/{other_case}/budget/approvals",
        404,
        "not-found",
        body=EXTRA,
        who="team_lead",
    ),
    "extra-hours/auditor": Bad("POST", P_EXTRA, 403, "forbidden", body=EXTRA, who="auditor"),
    # POST /cases/{id}/decision: the budget set at acceptance
    "decide/unknown-programme": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "accept", "programme": "nope"},
        fields=("programme",),
    ),
    "decide/budget-without-reason": Bad(
        "POST",
        P_DECIDE,
        422,
        INVALID,
        body={"decision": "accept", "hours_budget": 3},
        fields=("budget_reason",),
    ),
    # POST /reassignments (team lead)
    "handover/counsellor": Bad("POST", P_HANDOVER, 403, "forbidden", body=HANDOVER),
    "handover/empty": Bad(
        "POST",
        P_HANDOVER,
        422,
        INVALID,
        body={},
        fields=("from_counsellor", "to_counsellor", "reason"),
        who="team_lead",
    ),
    "handover/blank-reason": Bad(
        "POST",
        P_HANDOVER,
        422,
        INVALID,
        body=with_(HANDOVER, reason=" "),
        fields=("reason",),
        who="team_lead",
    ),
    "handover/no-token": Bad("POST", P_HANDOVER, 401, "unauthorized", body=HANDOVER, who="none"),
    # GET /reports/caseload?from=&to= (team lead)
    "caseload/no-token": Bad("GET", P_CASELOAD, 401, "unauthorized", who="none"),
    "caseload/counsellor": Bad("GET", P_CASELOAD, 403, "forbidden"),
    "caseload/auditor": Bad("GET", P_CASELOAD, 403, "forbidden", who="auditor"),
    "caseload/partner": Bad("GET", P_CASELOAD, 403, "forbidden", who="partner"),
    "caseload/from-without-offset": Bad(
        "GET",
        "/reports/caseload?from=2026-01-01T00:00:00",
        422,
        INVALID,
        fields=("from",),
        who="team_lead",
    ),
    "caseload/to-not-a-date": Bad(
        "GET", "/reports/caseload?to=today", 422, INVALID, fields=("to",), who="team_lead"
    ),
    "caseload/to-before-from": Bad(
        "GET",
        "/reports/caseload?from=2026-03-01&to=2026-01-01",
        422,
        INVALID,
        fields=("from",),
        who="team_lead",
    ),
    # GET /reports/funder?from=&to=&programme= (team lead)
    "funder/no-token": Bad("GET", P_FUNDER, 401, "unauthorized", who="none"),
    "funder/counsellor": Bad("GET", P_FUNDER, 403, "forbidden"),
    "funder/auditor": Bad("GET", P_FUNDER, 403, "forbidden", who="auditor"),
    "funder/unknown-programme": Bad(
        "GET", P_FUNDER + "&programme=nope", 422, INVALID, fields=("programme",), who="team_lead"
    ),
    "funder/to-before-from": Bad(
        "GET",
        "/reports/funder?from=2026-03-01&to=2026-01-01",
        422,
        INVALID,
        fields=("from",),
        who="team_lead",
    ),
    # GET and POST /objectives, POST /objectives/{id}/withdrawal (team lead)
    "objectives/read-counsellor": Bad("GET", P_OBJECTIVES, 403, "forbidden"),
    "objectives/no-token": Bad(
        "POST", P_OBJECTIVES, 401, "unauthorized", body=OBJECTIVE, who="none"
    ),
    "objectives/counsellor": Bad("POST", P_OBJECTIVES, 403, "forbidden", body=OBJECTIVE),
    "objectives/auditor": Bad(
        "POST", P_OBJECTIVES, 403, "forbidden", body=OBJECTIVE, who="auditor"
    ),
    "objectives/empty": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body={},
        fields=("metric", "target", "starts_on", "ends_on"),
        who="team_lead",
    ),
    "objectives/unknown-metric": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, metric="happiness"),
        fields=("metric",),
        who="team_lead",
    ),
    "objectives/target-as-text": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, target="50"),
        fields=("target",),
        who="team_lead",
    ),
    "objectives/share-over-100": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, target=120),
        fields=("target",),
        who="team_lead",
    ),
    "objectives/ends-before-start": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, ends_on="2025-12-31"),
        fields=("ends_on",),
        who="team_lead",
    ),
    "objectives/unknown-programme": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, programme="nope"),
        fields=("programme",),
        who="team_lead",
    ),
    "objectives/unknown-field": Bad(
        "POST",
        P_OBJECTIVES,
        422,
        INVALID,
        body=with_(OBJECTIVE, client_id="x"),
        fields=("client_id",),
        who="team_lead",
    ),
    "objectives/withdraw-missing": Bad(
        "POST", P_WITHDRAW, 404, "not-found", body={}, who="team_lead"
    ),
    "objectives/withdraw-counsellor": Bad("POST", P_WITHDRAW, 403, "forbidden", body={}),
    "objectives/withdraw-bad-id": Bad(
        "POST",
        "/objectives/not-an-id/withdrawal",
        422,
        INVALID,
        body={},
        fields=("objective_id",),
        who="team_lead",
    ),
    # POST /groups, /groups/{id}/participants, /groups/{id}/held
    "groups/empty": Bad(
        "POST", P_GROUPS, 422, INVALID, body={}, fields=("topic", "starts_at", "minutes")
    ),
    "groups/blank-topic": Bad(
        "POST", P_GROUPS, 422, INVALID, body=with_(GROUP, topic=" "), fields=("topic",)
    ),
    "groups/naive-start": Bad(
        "POST",
        P_GROUPS,
        422,
        INVALID,
        body=with_(GROUP, starts_at="2026-12-01T10:00:00"),
        fields=("starts_at",),
    ),
    "groups/too-long": Bad(
        "POST", P_GROUPS, 422, INVALID, body=with_(GROUP, minutes=601), fields=("minutes",)
    ),
    "groups/another-orgs-case": Bad(
        "POST",
        P_GROUPS,
        422,
        INVALID,
        body=with_(GROUP, case_ids=["{other_case}"]),
        fields=("case_id",),
    ),
    "groups/team-lead": Bad("POST", P_GROUPS, 403, "forbidden", body=GROUP, who="team_lead"),
    "groups/auditor": Bad("POST", P_GROUPS, 403, "forbidden", body=GROUP, who="auditor"),
    "groups/add-missing-group": Bad(
        "POST", "/groups/{missing}/participants", 404, "not-found", body={"case_id": "{case}"}
    ),
    "groups/add-missing-case": Bad(
        "POST", P_GROUP_ADD, 422, INVALID, body={"case_id": "{missing}"}, fields=("case_id",)
    ),
    "groups/add-a-client": Bad(
        "POST", P_GROUP_ADD, 422, INVALID, body={"case_id": "{client}"}, fields=("case_id",)
    ),
    "groups/held-no-attendance": Bad(
        "POST", P_GROUP_HELD, 422, INVALID, body={}, fields=("attendance",)
    ),
    "groups/held-a-stranger": Bad(
        "POST",
        P_GROUP_HELD,
        422,
        INVALID,
        body={"attendance": [{"case_id": "{other_case}", "present": True}]},
        fields=("attendance",),
    ),
    "groups/held-named-twice": Bad(
        "POST",
        P_GROUP_HELD,
        422,
        INVALID,
        body={"attendance": [{"case_id": "{case}", "present": True}] * 2},
        fields=("attendance.1",),
    ),
    "groups/held-present-not-a-bool": Bad(
        "POST",
        P_GROUP_HELD,
        422,
        INVALID,
        body={"attendance": [{"case_id": "{case}", "present": "yes"}]},
        fields=("attendance.0.present",),
    ),
    "groups/held-ahead": Bad(
        "POST",
        P_GROUP_HELD,
        422,
        INVALID,
        body={"held_at": FUTURE, "attendance": [{"case_id": "{case}", "present": True}]},
        fields=("held_at",),
    ),
}


@dataclass
class World:
    """One organisation's client (v2: registered, guidance consent) and its case (v2:
    opened, one assessment, no entry check), a client without consent and another
    organisation's client and case."""

    org: str
    headers: dict[str, str]
    ids: dict[str, str]


async def build_world(api: httpx.AsyncClient, token: Any) -> World:
    org = new_org()
    headers = bearer(token("counsellor", org=org))
    client = await a_registered_client(api, headers)
    await a_guidance_consent(api, headers, client)
    case = await an_open_case(api, headers, client)
    await post_case(api, headers, case, "assessments", ASSESSMENT, 201)
    ids = {"client": client, "case": case, "missing": str(uuid.uuid4())}
    ids["bare"] = await a_registered_client(api, headers, given_name="Bare")
    other = bearer(token("counsellor", org=new_org()))
    ids["other_case"] = await an_open_case(api, other)
    ids["other_client"] = (await intake_get(api, f"/cases/{ids['other_case']}", other)).json()[
        "client_id"
    ]
    r = await api.post(f"{BASE}/groups", json={**GROUP, "case_ids": [case]}, headers=headers)
    assert r.status_code == 201, r.text
    ids["group"] = str(r.json()["group_id"])
    return World(org, headers, ids)


def intake_caller(who: str, world: World, token: Any, settings: Any) -> dict[str, str]:
    """The table's callers, and intake's own broken ones: basic auth, an expired token, a
    token signed with another key."""
    if who == "basic":
        return {"Authorization": "Basic Y291bnNlbGxvcjpzZWNyZXQ="}
    if who == "expired":
        return bearer(token("counsellor", org=world.org, ttl_seconds=-120))
    if who == "forged":
        now = int(datetime.now(UTC).timestamp())
        claims = {
            "iss": "guidance-dev",
            "aud": "guidance",
            "sub": "mallory",
            "org": world.org,
            "roles": ["counsellor", "admin"],
            "iat": now,
            "exp": now + 600,
        }
        assert settings.jwt_secret != "not-the-secret-at-all-not-the-secret"
        return bearer(jwt.encode(claims, "not-the-secret-at-all-not-the-secret", "HS256"))
    return caller(who, "counsellor", world.headers, world.org, token)


async def snapshot(api: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    """Everything a failed command must leave as it was."""
    h = world.headers
    client = await intake_get(api, f"/clients/{world.ids['client']}", h)
    case = await intake_get(api, f"/cases/{world.ids['case']}", h)
    cases = await intake_get(api, "/cases", h)
    state: dict[str, Any] = {
        "client": client.json(),
        "client_etag": client.headers["etag"],
        "consents": (await intake_get(api, f"/clients/{world.ids['client']}/consents", h)).json(),
        "case": case.json(),
        "case_etag": case.headers["etag"],
        "cases": cases.json(),
        "cases_total": cases.headers["x-total-count"],
        "events": await intake_events(app),
    }
    for name in ("client", "case", "bare", "other_client", "other_case"):
        if name in world.ids:
            state[f"events:{name}"] = await intake_events(app, world.ids[name])
    return state


@pytest.fixture(scope="module")
def worlds() -> Worlds[World]:
    return Worlds()


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
async def test_a_bad_request_answers_a_problem_and_changes_nothing(
    bad: Bad,
    worlds: Worlds[World],
    api: httpx.AsyncClient,
    intake_app: Any,
    token: Any,
    settings: Any,
) -> None:
    async with worlds.use("intake", lambda: build_world(api, token)) as world:
        before = await snapshot(api, intake_app, world)
        assert before["client"]["version"] == 2 and before["client_etag"] == '"2"'
        assert before["case"]["version"] == 2 and before["case_etag"] == '"2"'
        assert before["events:client"] == 2 and before["events:case"] == 2

        caller_headers = intake_caller(bad.who, world, token, settings)
        r = await bad_request(api, BASE, bad, caller_headers, world.ids)

        body = assert_problem(r, bad.status, bad.code, bad.fields)
        for secret in ("Anna", "Peeters", "anna.peeters@example.org", "logistics"):
            assert secret not in body["detail"]
        assert await snapshot(api, intake_app, world) == before


async def test_an_invalid_json_body_is_reported_under_body(
    api: httpx.AsyncClient, counsellor: dict[str, str]
) -> None:
    r = await api.post(
        f"{BASE}/clients",
        content=b'{"given_name": "Anna", "family_name": ',
        headers={**counsellor, "Content-Type": "application/json"},
    )
    body = assert_problem(r, 422, INVALID)
    assert [e["field"] for e in body["errors"]] == ["body"]

"""The workload: concurrent client journeys through all four services over HTTP, every
command's answers recorded in a ledger for the checker.

A journey (its own organisation): register a client, grant the guidance consent, open a
case, the entry check, two assessments, accept; the plan planning creates on
`CaseAccepted` gets a type, a goal and an action and is agreed by client and counsellor;
the follow-up opened on `PlanAgreed` gets a contact; an admin registers a partner, the
client consents to a referral to it, the counsellor proposes and sends it, the partner
acknowledges, accepts and reports an outcome; some clients are then erased.

A command is retried after a transport error or a 5xx with the same `Idempotency-Key`
(so that a server that honours it answers the first attempt's result again); a 404/409
that says "not yet" (an event not arrived in the other service) is a refusal that
stored nothing, and the journey asks again later as a new command.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.faults.system import System

INTAKE, PLANNING, FOLLOWUP, REFERRAL = "/intake/v1", "/planning/v1", "/followup/v1", "/referral/v1"
SCORES = dict.fromkeys(
    ("quality_reflection", "motive_reflection", "work_exploration", "career_steering"), 3
)
CATEGORIES = ["identity", "contact", "career_question"]
RETRY_PAUSE = 0.25
# How long one command is retried (transport errors, 5xx) before it counts as failed.
COMMAND_SECONDS = 45.0
# How long a journey waits for another service to see an event (a plan, a follow-up).
EFFECT_SECONDS = 90.0


def days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


@dataclass
class Command:
    """One logical command: every attempt's status (0: no answer) and the outcome."""

    scenario: str
    name: str
    service: str
    method: str
    path: str
    # The events the command stores on its aggregate (topic suffixes, `Class.Event`).
    events: tuple[str, ...]
    aggregate: str | None = None
    statuses: list[int] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0

    @property
    def status(self) -> int:
        return self.statuses[-1] if self.statuses else 0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def maybe(self) -> bool:
        """Not acknowledged, but an attempt may have been stored (no answer, or a 5xx)."""
        return not self.ok and any(s == 0 or s >= 500 for s in self.statuses)


@dataclass
class Journey:
    org: str
    scenario: str
    client_id: str | None = None
    case_id: str | None = None
    plan_id: str | None = None
    agreed: bool = False
    followup_id: str | None = None
    partner_id: str | None = None
    referral_id: str | None = None
    referral_consented: bool = False
    erasure_id: str | None = None
    stopped_at: str | None = None
    done: bool = False


@dataclass
class Ledger:
    commands: list[Command] = field(default_factory=list)
    journeys: list[Journey] = field(default_factory=list)


def _key_in_use(r: httpx.Response) -> bool:
    return str(r.json().get("type", "")).endswith("/idempotency-key-in-use")


def created(answer: dict[str, Any], name: str) -> str:
    """The id a creating command answered; after a process died between the commit and
    its answer, the retry's answer names the ids the request made instead (see
    shared/idempotency.py): each of these commands makes one. An id derived from the
    request rather than made (an erasure's, from its client's) is not among them: the
    retry's answer names it as the one aggregate the command wrote."""
    if name in answer:
        return str(answer[name])
    if answer.get("created"):
        [made] = answer["created"]
        return str(made)
    [written] = {str(c["aggregate_id"]) for c in answer["committed"]}
    return written


class Driver:
    """Sends the workload's commands to one system and records them."""

    def __init__(self, system: System, ledger: Ledger, http: httpx.AsyncClient) -> None:
        self.system = system
        self.ledger = ledger
        self.http = http
        self.scenario = "-"
        self.admin = {"Authorization": f"Bearer {system.token('admin', org='platform')}"}

    def staff(self, org: str) -> dict[str, str]:
        token = self.system.token("counsellor", org=org, sub="counsellor-1")
        return {"Authorization": f"Bearer {token}"}

    async def command(
        self,
        name: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        *,
        events: tuple[str, ...],
        aggregate: str | None = None,
        creates: str | None = None,
    ) -> Command:
        service = path.split("/")[1]
        cmd = Command(self.scenario, name, service, method, path, events, aggregate)
        self.ledger.commands.append(cmd)
        key = str(uuid.uuid4())
        cmd.started = time.monotonic()
        deadline = cmd.started + COMMAND_SECONDS
        while True:
            try:
                r = await self.http.request(
                    method, path, json=body, headers={**headers, "Idempotency-Key": key}
                )
            except httpx.TransportError:
                cmd.statuses.append(0)
            else:
                cmd.statuses.append(r.status_code)
                if r.status_code == 409 and _key_in_use(r):
                    # The first attempt still holds the key (or its process died and the
                    # lease has not run out): ask again with the same key, never a new one.
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                if r.status_code < 500:
                    if r.headers.get("content-type", "").endswith("json"):
                        answer = r.json()
                        cmd.answer = answer if isinstance(answer, dict) else {"items": answer}
                    break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(RETRY_PAUSE)
        cmd.ended = time.monotonic()
        if cmd.ok and creates is not None:
            cmd.aggregate = created(cmd.answer, creates)
        return cmd

    async def until(self, attempt: Callable[[], Any], seconds: float = EFFECT_SECONDS) -> Any:
        """Ask again (a new command each time) while the answer says "not yet"."""
        deadline = time.monotonic() + seconds
        while True:
            cmd = await attempt()
            if cmd.ok or cmd.status not in (404, 409) or time.monotonic() > deadline:
                return cmd
            await asyncio.sleep(0.3)

    async def find(self, path: str, headers: dict[str, str], key: str, **params: str) -> str | None:
        """The id `key` of the one item a list answers (polled until there is one)."""
        deadline = time.monotonic() + EFFECT_SECONDS
        while time.monotonic() < deadline:
            try:
                r = await self.http.get(path, params=params, headers=headers)
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code == 200 and r.json():
                return str(r.json()[0][key])
            await asyncio.sleep(0.3)
        return None

    # -- a journey ---------------------------------------------------------------------
    async def journey(self, number: int, *, refer: bool, erase: bool) -> Journey:
        j = Journey(org=f"org-faults-{uuid.uuid4().hex[:10]}", scenario=self.scenario)
        self.ledger.journeys.append(j)
        h = self.staff(j.org)

        async def step(name: str, cmd: Command) -> bool:
            if not cmd.ok:
                j.stopped_at = f"{name}: {cmd.statuses[-3:]}"
            return cmd.ok

        c = await self.command(
            "register client",
            "POST",
            f"{INTAKE}/clients",
            h,
            {
                "given_name": "Fault",
                "family_name": f"Tester{number}",
                "birth_date": "1988-04-12",
                "email": f"fault{number}@example.org",
            },
            events=("Client.Registered",),
            creates="client_id",
        )
        if not await step("register", c):
            return j
        j.client_id = c.aggregate
        cid = j.client_id
        c = await self.command(
            "guidance consent",
            "POST",
            f"{INTAKE}/clients/{cid}/consents",
            h,
            {"purpose": "guidance", "granted": True},
            events=("Client.ConsentGranted",),
            aggregate=cid,
        )
        if not await step("consent", c):
            return j
        c = await self.command(
            "open case",
            "POST",
            f"{INTAKE}/cases",
            h,
            {"client_id": cid, "career_question": "Do I move from logistics to teaching?"},
            events=("Case.Opened",),
            creates="case_id",
        )
        if not await step("open case", c):
            return j
        j.case_id = case = str(c.aggregate)
        for name, what, body, event in (
            ("entry check", "entry-check", {"eligible": True}, "Case.EntryChecked"),
            (
                "client assessment",
                "assessments",
                {"assessor": "client", "scores": {**SCORES, "networking": 2}},
                "Case.AssessmentRecorded",
            ),
            (
                "counsellor assessment",
                "assessments",
                {"assessor": "counsellor", "scores": {**SCORES, "networking": 3}},
                "Case.AssessmentRecorded",
            ),
            ("accept", "decision", {"decision": "accept"}, "Case.Accepted"),
        ):
            c = await self.command(
                name,
                "POST",
                f"{INTAKE}/cases/{case}/{what}",
                h,
                body,
                events=(event,),
                aggregate=case,
            )
            if not await step(name, c):
                return j
        j.plan_id = await self.find(f"{PLANNING}/plans", h, "plan_id", case_id=case)
        if j.plan_id is None:
            j.stopped_at = "no plan"
            return j
        plan = j.plan_id
        c = await self.command(
            "plan type",
            "PUT",
            f"{PLANNING}/plans/{plan}/type",
            h,
            {"plan_type": "action"},
            events=("Plan.TypeChosen",),
            aggregate=plan,
        )
        if not await step("plan type", c):
            return j
        c = await self.command(
            "add goal",
            "POST",
            f"{PLANNING}/plans/{plan}/goals",
            h,
            {
                "title": "Build a network in secondary education",
                "specific": "Talk with five teachers about their daily work and the way in",
                "measure": "5 conversations held and written up in the portfolio",
                "target_date": days(90),
                "competences": ["networking"],
                "priority": 1,
            },
            events=("Plan.GoalAdded",),
            aggregate=plan,
        )
        if not await step("add goal", c):
            return j
        goal = created(c.answer, "goal_id")
        c = await self.command(
            "add action",
            "POST",
            f"{PLANNING}/plans/{plan}/goals/{goal}/actions",
            h,
            {
                "description": "Ask two colleagues for an introduction",
                "owner": "client",
                "due_date": days(30),
            },
            events=("Plan.ActionAdded",),
            aggregate=plan,
        )
        if not await step("add action", c):
            return j
        for party, events in (
            ("client", ("Plan.PartyAgreed",)),
            ("counsellor", ("Plan.PartyAgreed", "Plan.Agreed")),
        ):
            c = await self.command(
                f"{party} agrees",
                "POST",
                f"{PLANNING}/plans/{plan}/agreement",
                h,
                {"party": party},
                events=events,
                aggregate=plan,
            )
            if not await step(f"{party} agrees", c):
                return j
        j.agreed = True
        j.followup_id = await self.find(f"{FOLLOWUP}/followups", h, "followup_id", case_id=case)
        if j.followup_id is None:
            j.stopped_at = "no follow-up"
            return j
        c = await self.command(
            "record contact",
            "POST",
            f"{FOLLOWUP}/followups/{j.followup_id}/contacts",
            h,
            {"channel": "phone", "reached": True, "notes": "Doing well"},
            events=("FollowUp.ContactRecorded",),
            aggregate=j.followup_id,
        )
        if not await step("contact", c):
            return j
        if refer and not await self.referral(j, h):
            return j
        if erase:
            c = await self.command(
                "erase client",
                "POST",
                f"{INTAKE}/clients/{cid}/erasure",
                h,
                {"reason": "The client asked to be forgotten"},
                events=("ClientErasure.Requested",),
                creates="erasure_id",
            )
            if not await step("erase", c):
                return j
            j.erasure_id = c.aggregate
        j.done = True
        return j

    async def referral(self, j: Journey, h: dict[str, str]) -> bool:
        area = uuid.uuid4().hex[:8]
        c = await self.command(
            "register partner",
            "POST",
            f"{REFERRAL}/partners",
            self.admin,
            {
                "name": f"Partner {area}",
                "description": "General welfare work",
                "services": [
                    {
                        "name": "Budget coaching",
                        "category": "debt",
                        "languages": ["nl", "fr"],
                        "area": f"area-{area}",
                        "eligibility": "Residents with debts",
                    }
                ],
                "accepted_categories": CATEGORIES,
                "contact_email": "referrals@partner.example.org",
                "capacity": 5,
            },
            events=("Partner.Registered",),
            creates="partner_id",
        )
        if not c.ok:
            j.stopped_at = f"partner: {c.statuses[-3:]}"
            return False
        j.partner_id = partner = str(c.aggregate)
        c = await self.command(
            "referral consent",
            "POST",
            f"{INTAKE}/clients/{j.client_id}/consents",
            h,
            {
                "purpose": "referral",
                "partner_id": partner,
                "data_categories": CATEGORIES,
                "granted": True,
            },
            events=("Client.ConsentGranted",),
            aggregate=j.client_id,
        )
        if not c.ok:
            j.stopped_at = f"referral consent: {c.statuses[-3:]}"
            return False
        j.referral_consented = True
        body = {
            "case_id": j.case_id,
            "partner_id": partner,
            "reason": "Debts stand in the way of any training plan.",
            "data_categories": CATEGORIES,
        }

        async def propose() -> Command:
            return await self.command(
                "propose referral",
                "POST",
                f"{REFERRAL}/referrals",
                h,
                body,
                events=("Referral.Proposed",),
                creates="referral_id",
            )

        # Referral learns the case and the consent from intake's events: 409/404 until then.
        c = await self.until(propose)
        if not c.ok:
            j.stopped_at = f"propose: {c.statuses[-3:]}"
            return False
        j.referral_id = rid = str(c.aggregate)
        token = self.system.token("partner", org="partner-org", sub="p-1", partner_id=partner)
        p = {"Authorization": f"Bearer {token}"}
        for name, who, what, payload, event in (
            ("send referral", h, "send", None, "Referral.Sent"),
            ("partner acknowledges", p, "acknowledge", None, "Referral.Acknowledged"),
            ("partner accepts", p, "accept", None, "Referral.Accepted"),
            (
                "partner reports outcome",
                p,
                "outcome",
                {"outcome": "completed", "notes": "Debt plan in place."},
                "Referral.OutcomeReported",
            ),
        ):
            c = await self.command(
                name,
                "POST",
                f"{REFERRAL}/referrals/{rid}/{what}",
                who,
                payload,
                events=(event,),
                aggregate=rid,
            )
            if not c.ok:
                j.stopped_at = f"{name}: {c.statuses[-3:]}"
                return False
        return True

    # -- a probe -----------------------------------------------------------------------
    async def probe(self) -> Command:
        """One cheap command (a client registered in the probe organisation)."""
        return await self.command(
            "probe",
            "POST",
            f"{INTAKE}/clients",
            self.staff("org-faults-probe"),
            {
                "given_name": "Probe",
                "family_name": "Probe",
                "birth_date": "1970-01-01",
                "email": "probe@example.org",
            },
            events=("Client.Registered",),
            creates="client_id",
        )


async def run_journeys(driver: Driver, *, seconds: float, concurrency: int, limit: int) -> None:
    """Start journeys on `concurrency` lanes until `seconds` passed or `limit` started;
    every third journey refers its client, every fourth erases it."""
    counter = itertools.count()
    deadline = time.monotonic() + seconds

    async def lane() -> None:
        while time.monotonic() < deadline:
            n = next(counter)
            if n >= limit:
                return
            await driver.journey(n, refer=n % 3 == 0, erase=n % 4 == 1)

    await asyncio.gather(*(lane() for _ in range(concurrency)))

"""The API fuzzer: schemathesis over the four services' OpenAPI documents, against a live
system (the fault suite's processes), with real bearer tokens and, half of the time, the
real ids of a small world (a client through intake, planning, follow-up and a referral)
in the path parameters, so that requests reach past the "not found" answers.

Each response is checked for a server error (`not_a_server_error`: any 5xx) and for
conformance to the documented response schema (`response_schema_conformance`). Failures
are collected (not raised, so that Hypothesis does not spend the budget shrinking them),
with a curl command to reproduce the first of each kind.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from shared.serve import SERVICES
from tests.faults.system import System
from tests.faults.workload import Driver, Ledger

CHECKS = [not_a_server_error, response_schema_conformance]
PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass
class Finding:
    operation: str
    check: str
    status: int
    title: str
    curl: str
    count: int = 1


@dataclass
class Summary:
    requests: int = 0
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures_by_check: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str, int, str], Finding] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, operation: str, check: str, status: int, title: str, curl: str) -> None:
        self.failures_by_check[check] += 1
        key = (operation, check, status, title)
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = Finding(operation, check, status, title, curl)

    def report(self) -> str:
        lines = [
            f"fuzzed {self.operations} operations with {self.requests} requests "
            f"in {self.seconds:.0f} s",
            "answers: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            "failures by check: "
            + (", ".join(f"{c}: {n}" for c, n in self.failures_by_check.items()) or "none"),
        ]
        for f in sorted(self.findings.values(), key=lambda f: (f.check, f.operation)):
            lines.append(f"- [{f.check}] {f.operation} -> {f.status} x{f.count}: {f.title}")
            lines.append(f"    {f.curl}")
        return "\n".join(lines)


async def build_world(system: System) -> dict[str, str]:
    """Real ids for the path parameters: one whole journey with a referral."""
    ledger = Ledger()
    async with httpx.AsyncClient(base_url=system.base_url, timeout=30) as http:
        driver = Driver(system, ledger, http)
        driver.scenario = "fuzz world"
        j = await driver.journey(0, refer=True, erase=False)
        assert j.done, j.stopped_at
        answers = {c.name: c.answer for c in ledger.commands if c.ok}
        headers = driver.staff(j.org)
        r = await http.get(f"/followup/v1/followups/{j.followup_id}", headers=headers)
        checkins = r.json().get("checkins", [])
    ids = {
        "org": j.org,
        "client_id": str(j.client_id),
        "case_id": str(j.case_id),
        "plan_id": str(j.plan_id),
        "goal_id": str(answers["add goal"]["goal_id"]),
        "action_id": str(answers["add action"]["action_id"]),
        "version": "1",  # the first agreed version of the plan
        "followup_id": str(j.followup_id),
        "partner_id": str(j.partner_id),
        "referral_id": str(j.referral_id),
    }
    if checkins:
        first = checkins[0]
        ids["checkin_id"] = str(first.get("checkin_id", first.get("id", first.get("number"))))
    return ids


def auth_for(system: System, operation: Any, world: dict[str, str]) -> dict[str, str]:
    """The bearer token a real caller of this operation would have."""
    tags = set(operation.tags or ())
    org = world["org"]
    if "partner inbox" in tags:
        token = system.token(
            "partner", org="partner-org", sub="p-1", partner_id=world["partner_id"]
        )
    elif "partners" in tags:
        token = system.token("admin", org="platform", sub="admin-1")
    elif "audit" in tags:
        token = system.token("auditor", org=org, sub="auditor-1")
    else:
        token = system.token("counsellor", "team_lead", org=org, sub="counsellor-1")
    return {"Authorization": f"Bearer {token}"}


def fuzz(
    system: System,
    world: dict[str, str],
    *,
    examples: int,
    services: tuple[str, ...] = SERVICES,
    randomize: bool = False,
) -> Summary:
    """Every operation of the services' documents, `examples` cases per generation mode
    (positive and negative); the same cases each run unless `randomize`."""
    summary = Summary()
    started = time.monotonic()
    session = requests.Session()
    for service in services:
        schema = schemathesis.openapi.from_url(f"{system.base_url}/{service}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            summary.operations += 1
            _fuzz_operation(system, operation, world, examples, randomize, session, summary)
    summary.seconds = time.monotonic() - started
    return summary


def _fuzz_operation(
    system: System,
    operation: Any,
    world: dict[str, str],
    examples: int,
    randomize: bool,
    session: requests.Session,
    summary: Summary,
) -> None:
    headers = auth_for(system, operation, world)
    names = PATH_PARAMETER.findall(operation.path)
    real = {n: world[n] for n in names if n in world}
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode, headers=headers))
        if real:
            strategies.append(
                operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=real)
            )
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples * 2,
        deadline=None,
        database=None,
        derandomize=not randomize,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        try:
            response = case.call(base_url=system.base_url, session=session, timeout=30)
        except requests.RequestException as e:
            summary.requests += 1
            summary.add(label, "no answer", 0, type(e).__name__, case.as_curl_command())
            return
        summary.requests += 1
        summary.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            curl = case.as_curl_command(headers=dict(response.request.headers))
            for failure in group.exceptions:
                check = (type(failure).checks or (type(failure).__name__,))[0]
                summary.add(label, check, response.status_code, failure.title, curl)

    run()


def fuzz_async(system: System, **kwargs: Any) -> Summary:
    """Build the world (async) and fuzz (synchronously, as schemathesis calls)."""
    world = asyncio.run(build_world(system))
    return fuzz(system, world, **kwargs)

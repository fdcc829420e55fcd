"""The checker: after a fault, once the system is quiet, compare what the workload was told
with what the stores and the streams hold.

- every acknowledged command (2xx) stored once: per aggregate and event type, as many
  events as commands were acknowledged (lost: fewer), and no more than those plus the
  unanswered attempts that may have been stored (duplicated: more; a refused command
  stores nothing); events on aggregates
  that no acknowledged command named (a creation retried after its first attempt was
  stored) count as duplicates beyond the unanswered creations;
- every stored event of the public contract published once on its service's stream (the
  `Nats-Msg-Id` is the stored event's id, `event_id(originator_id, version)`);
- the effects in other services: a plan per accepted case, a follow-up per agreed plan,
  referral's knowledge of the cases and consents of clients not erased, and each erasure
  confirmed by all four services;
- the answers: 500s and 503s counted apart, and requests that got no answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
from eventsourcing.utils import get_topic
from nats.js.errors import NotFoundError

from services.followup.domain import followup_id_for
from services.followup.publications import PUBLICATIONS as FOLLOWUP_PUBLICATIONS
from services.intake.publications import PUBLICATIONS as INTAKE_PUBLICATIONS
from services.planning.domain import plan_id_for
from services.planning.publications import PUBLICATIONS as PLANNING_PUBLICATIONS
from services.referral.publications import PUBLICATIONS as REFERRAL_PUBLICATIONS
from shared.messaging.envelope import stream_name
from shared.privacy.sealing import event_id
from shared.serve import SERVICES
from shared.settings import nats_servers
from tests.faults.system import System
from tests.faults.workload import INTAKE, Command, Journey, Ledger

PUBLISHED = {
    service: {get_topic(cls) for cls in publications}
    for service, publications in (
        ("intake", INTAKE_PUBLICATIONS),
        ("planning", PLANNING_PUBLICATIONS),
        ("followup", FOLLOWUP_PUBLICATIONS),
        ("referral", REFERRAL_PUBLICATIONS),
    )
}
QUIET_SECONDS = 120.0

# (service, aggregate id, `Class.Event`) -> stored events
Counts = Counter[tuple[str, str, str]]


@dataclass
class Result:
    scenario: str
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    unpublished: int = 0
    published_twice: int = 0
    effects_missing: int = 0
    answers_500: int = 0
    answers_503: int = 0
    answers_other_5xx: int = 0
    no_answer: int = 0
    recovery_seconds: float | None = None
    quiet: bool = True
    journeys: int = 0
    journeys_done: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < 40:
            self.notes.append(text)


def suffix(topic: str) -> str:
    return topic.rpartition(":")[2]


async def connect(system: System) -> asyncpg.Connection:
    return await asyncpg.connect(**system.settings().pg.asyncpg_kwargs())


async def stored_counts(conn: asyncpg.Connection) -> Counts:
    counts: Counts = Counter()
    for service in SERVICES:
        rows = await conn.fetch(
            f"SELECT originator_id, topic, count(*) AS n FROM {service}.{service}_events "
            "GROUP BY originator_id, topic"
        )
        for row in rows:
            counts[(service, str(row["originator_id"]), suffix(row["topic"]))] = row["n"]
    return counts


async def quiet(system: System, conn: asyncpg.Connection, js: Any) -> bool:
    """Wait until every relay has published the whole store and no consumer has messages
    pending or unacknowledged, twice in a row a second apart."""
    deadline = time.monotonic() + QUIET_SECONDS
    calm = 0
    while time.monotonic() < deadline:
        if await _caught_up(conn, js):
            calm += 1
            if calm >= 2:
                return True
        else:
            calm = 0
        await asyncio.sleep(1.0)
    return False


async def _caught_up(conn: asyncpg.Connection, js: Any) -> bool:
    for service in SERVICES:
        last = await conn.fetchval(
            f"SELECT coalesce(max(notification_id), 0) FROM {service}.{service}_events"
        )
        relay = await conn.fetchval(
            f"SELECT position FROM {service}.follower_positions WHERE name = 'relay'"
        )
        if (relay or 0) < last:
            return False
        try:
            consumers = await js.consumers_info(stream_name(service))
        except Exception:  # NATS still reconnecting: not quiet yet
            return False
        for info in consumers:
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def check_published(conn: asyncpg.Connection, js: Any, result: Result) -> None:
    """Every stored event of the contract on its stream once, and nothing else there."""
    for service in SERVICES:
        rows = await conn.fetch(
            f"SELECT originator_id, originator_version, topic FROM {service}.{service}_events"
        )
        wanted = {
            str(event_id(r["originator_id"], r["originator_version"]))
            for r in rows
            if r["topic"] in PUBLISHED[service]
        }
        info = await js.stream_info(stream_name(service))
        seen: Counter[str] = Counter()
        if info.state.messages:
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream_name(service), seq)
                except NotFoundError:
                    continue  # deleted (an erasure may remove a client's messages)
                seen[(msg.headers or {}).get("Nats-Msg-Id", "")] += 1
        missing = wanted - set(seen)
        twice = {k: n for k, n in seen.items() if n > 1}
        foreign = set(seen) - wanted
        result.unpublished += len(missing)
        result.published_twice += sum(n - 1 for n in twice.values())
        if missing:
            result.note(f"{service}: {len(missing)} stored events not on the stream")
        if twice:
            result.note(f"{service}: {len(twice)} ids on the stream more than once")
        if foreign:
            result.note(f"{service}: {len(foreign)} stream messages with no stored event")


def check_commands(
    commands: list[Command],
    counts: Counts,
    before: Counts,
    known: set[tuple[str, str]],
    result: Result,
) -> None:
    """Stored events against the answers of this scenario's commands."""
    ok: Counter[tuple[str, str, str]] = Counter()
    maybe: Counter[tuple[str, str, str]] = Counter()
    named: set[tuple[str, str, str]] = set()
    # Creations that got no 2xx: their aggregate id is unknown.
    unnamed: Counter[tuple[str, str]] = Counter()
    for cmd in commands:
        for event in cmd.events:
            if cmd.aggregate is None:
                if cmd.maybe:
                    unnamed[(cmd.service, event)] += 1
                continue
            key = (cmd.service, cmd.aggregate, event)
            named.add(key)
            if cmd.ok:
                ok[key] += 1
            elif cmd.maybe:
                maybe[key] += 1
    for key in named:
        stored = counts[key] - before[key]
        if stored < ok[key]:
            result.lost += ok[key] - stored
            result.note(f"lost: {key} stored {stored}, acknowledged {ok[key]}")
        if stored > ok[key] + maybe[key]:
            result.duplicated += stored - ok[key] - maybe[key]
            result.note(f"duplicated: {key} stored {stored}, acknowledged {ok[key]}")
    # Events of the commands' types on aggregates no command of the ledger named.
    types = {(cmd.service, e) for cmd in commands for e in cmd.events}
    stray: Counter[tuple[str, str]] = Counter()
    for (service, aggregate, event), n in counts.items():
        if (service, event) in types and (service, aggregate) not in known:
            stray[(service, event)] += n - before[(service, aggregate, event)]
    for key, n in stray.items():
        if n > unnamed[key]:
            result.duplicated += n - unnamed[key]
            result.note(f"duplicated: {n} x {key} on unnamed aggregates, {unnamed[key]} unanswered")


async def check_effects(
    system: System,
    conn: asyncpg.Connection,
    journeys: list[Journey],
    ledger: Ledger,
    counts: Counts,
    result: Result,
) -> None:
    """What other services must have done once, for this scenario's journeys."""
    import httpx

    def once(service: str, aggregate: uuid.UUID, event: str, what: str) -> None:
        n = counts[(service, str(aggregate), event)]
        if n != 1:
            result.effects_missing += 1
            result.note(f"{what}: {n} x {event} on {aggregate}")

    accepted = {c.aggregate for c in ledger.commands if c.name == "accept" and c.ok}
    agreed = {c.aggregate for c in ledger.commands if c.name == "counsellor agrees" and c.ok}
    for j in journeys:
        if j.case_id in accepted:
            case = uuid.UUID(j.case_id)
            once("planning", plan_id_for(case), "Plan.Created", "plan of an accepted case")
            if j.plan_id in agreed:
                once("followup", followup_id_for(case), "FollowUp.Opened", "follow-up of a plan")
        erased = j.erasure_id is not None
        if j.case_id is not None and not erased:
            row = await conn.fetchval(
                "SELECT count(*) FROM referral.cases WHERE case_id = $1", uuid.UUID(j.case_id)
            )
            if row != 1:
                result.effects_missing += 1
                result.note(f"referral knows case {j.case_id} {row} times")
        if j.referral_consented and not erased:
            granted = await conn.fetchval(
                "SELECT granted FROM referral.consents WHERE client_id = $1 AND partner_id = $2",
                uuid.UUID(str(j.client_id)),
                uuid.UUID(str(j.partner_id)),
            )
            if granted is not True:
                result.effects_missing += 1
                result.note(f"referral lacks the consent of client {j.client_id}")
        if erased:
            headers = {"Authorization": f"Bearer {system.token('counsellor', org=j.org)}"}
            receipt: dict[str, Any] = {}
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as http:
                while time.monotonic() < deadline:
                    r = await http.get(f"{INTAKE}/clients/{j.client_id}/erasure", headers=headers)
                    receipt = r.json() if r.status_code == 200 else {}
                    if receipt.get("status") == "completed":
                        break
                    await asyncio.sleep(0.5)
            services = receipt.get("services", {})
            if receipt.get("status") != "completed" or not all(services.values()):
                result.effects_missing += 1
                result.note(f"erasure of {j.client_id}: {receipt.get('status')} {services}")


def count_answers(commands: list[Command], result: Result) -> None:
    failures: Counter[tuple[str, str, int]] = Counter()
    for cmd in commands:
        result.acknowledged += cmd.ok
        for status in cmd.statuses:
            if status >= 500:
                failures[(cmd.method, cmd.name, status)] += 1
        for status in cmd.statuses:
            if status == 500:
                result.answers_500 += 1
            elif status == 503:
                result.answers_503 += 1
            elif status > 500:
                result.answers_other_5xx += 1
            elif status == 0:
                result.no_answer += 1
    for (method, name, status), n in failures.most_common():
        result.note(f"{n} x {status} on {method} {name}")


async def check(
    system: System, ledger: Ledger, scenario: str, before: Counts, result: Result
) -> Result:
    """Wait for quiet, then check this scenario's commands and journeys."""
    commands = [c for c in ledger.commands if c.scenario == scenario]
    journeys = [j for j in ledger.journeys if j.scenario == scenario]
    result.journeys = len(journeys)
    nc = await nats.connect(nats_servers(system.nats_url), max_reconnect_attempts=-1)
    conn = await connect(system)
    try:
        js = nc.jetstream()
        result.quiet = await quiet(system, conn, js)
        if not result.quiet:
            result.note(f"not quiet after {QUIET_SECONDS:.0f} s")
        counts = await stored_counts(conn)
        known = {(c.service, c.aggregate) for c in ledger.commands if c.aggregate}
        check_commands(commands, counts, before, known, result)
        count_answers(commands, result)
        await check_published(conn, js, result)
        await check_effects(system, conn, journeys, ledger, counts, result)
        result.journeys_done = sum(j.done for j in journeys)
        stopped = Counter(j.stopped_at for j in journeys if j.stopped_at)
        for why, n in stopped.most_common(5):
            result.note(f"{n} journeys stopped at {why}")
    finally:
        await conn.close()
        await nc.close()
    return result

"""Seed a fresh Waypoint with a realistic history, quickly (issue #19 §1).

1. A throwaway database (`waypoint_seed_<events>` on the server of `--database-url`) and a
   private NATS (its store under `--data-dir`: the stream names are fixed,
   `GUIDANCE_<SERVICE>`, so a database of its own is not enough to keep the machine's
   running system apart). A short-lived `waypoint run` on both runs the template journeys
   of `bench/seed_journeys.py` through the real HTTP APIs (full journey to closure with a
   referral, in follow-up, in deepening, declined, open in intake, erased), and is stopped
   once every follower and consumer has caught up.
2. Every row of every service's tables that belongs to a template journey (found by the
   ids it names) is cloned many times with fresh ids, straight into the tables by COPY:
   the stored events (notification ids continuing the log), the read models and the
   consumers' tables, the key vault (a fresh data key per cloned client, wrapped by the
   master key as the vault does), the personal fields re-sealed under it (AES-GCM bound
   to the cloned event's id and field, as `shared/privacy/sealing.py` does), the audit
   owners and recorded reads. Ids derived from others (event ids, plan and follow-up ids
   from the case, erasure ids, consent indexes, check-ins) are derived again from the
   cloned ids. Each clone's dates are shifted back by up to `--years` (the clones in
   chronological order in the logs); the journeys still in flight only by their share of
   recent days (`seed_journeys.JOURNEYS`: an open follow-up of years ago would be
   overdue, and the follow-up job would raise that for every one at the first start).
   Rows are compiled once into format strings; two loading connections COPY while the
   rows are made; the tables' indexes are dropped for the load and built once after.
3. Each hash chain is extended over the cloned events (`shared/audit/proof.py`'s
   functions), with checkpoints signed every `GUIDANCE_AUDIT_CHECKPOINT_EVERY` links and
   left unpublished (the AuditTrail publishes them at start), and every follower's
   position (projection, relay, audit) set to the head, the sequences past the loaded
   ids. So the system starts on it as if it had lived it: no replay, the relays publish
   nothing old, the consumers apply nothing again (the stream keeps the templates'
   messages; the consumers' durables are at its head).

The event consumers' tracking records (`<service>_tracking`: the positions in the source
service's log they applied) are cloned with the clones' positions in that log, so that a
stream re-created from the store (`waypoint streams rebuild`) applies nothing again.
Not cloned: dead letters, idempotency keys.

The seeded system runs with the environment printed at the end (the database, the
private NATS, the dev secrets; `GUIDANCE_RETENTION_REFERRAL_PACKET_MONTHS=84` so that the
referral job does not strip the packets of the history's older referrals at once).

    .venv/bin/python -m bench.seed --events 1000000 [--database-url URL] [--verify] [--drop]

Measured on the 2-core machine shared with other work (load average 7-9): 1,000,011
events (43,939 clients) in 121-150 s (templates ~20 s, cloning 75-99 s, indexes 8-19 s,
vacuum 8-16 s); the generator itself uses ~26 s of CPU per million events, PostgreSQL's
loading is the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.seed_journeys import JOURNEYS, People, Template, run_templates
from services.followup.domain.rules import AGREED_TASK_NAMESPACE, FOLLOWUP_NAMESPACE
from services.intake.domain.erasure import NAMESPACE as INTAKE_ERASURE_NAMESPACE
from services.planning.domain.rules import PLAN_NAMESPACE
from services.referral.domain.consent_referrals import INDEX_NAMESPACE
from shared.audit.proof import Signer, canonical_json, link_hash, link_payload
from shared.privacy.erasure import NAMESPACE as ERASURE_NAMESPACE
from shared.privacy.sealing import EVENT_ID_NAMESPACE, event_id
from shared.settings import Settings

SERVICES = ("intake", "planning", "followup", "referral")
JWT_SECRET = "waypoint-seed-dev-secret-0123456789abcdef"
ORGANISATION = "org-seed"
# Tables not cloned (see the docstring); the audit chain is built, not cloned.
NOT_CLONED = re.compile(
    r"^(audit_chain|audit_checkpoints|audit_meta|follower_positions|dead_letters|"
    r"idempotency_keys|esco_.*|evc_.*|statistics_purges|sessions|caseload_open|caseload_days|worklist_due)$"
)
UUID_DASHED = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TOKENS = re.compile(
    rf"(?P<u>{UUID_DASHED})|(?<![0-9a-f])(?P<h>[0-9a-f]{{32}})(?![0-9a-f])"
    r"|(?<![0-9])(?P<d>\d{4}-\d{2}-\d{2})(?![0-9])"
    r'|"ct": ?"(?P<ct>[A-Za-z0-9+/=]+)"'
)
ANY_UUID = re.compile(rf"{UUID_DASHED}|(?<![0-9a-f])[0-9a-f]{{32}}(?![0-9a-f])")


def seed_env(database_url: str, nats_url: str) -> dict[str, str]:
    """The environment a system on the seeded store runs with."""
    return {
        "GUIDANCE_DATABASE_URL": database_url,
        "GUIDANCE_NATS_URL": nats_url,
        "GUIDANCE_AUTH_MODE": "dev",
        "GUIDANCE_JWT_SECRET": JWT_SECRET,
        "GUIDANCE_DEV_ORGANISATION": ORGANISATION,
        "GUIDANCE_RETENTION_REFERRAL_PACKET_MONTHS": "84",
    }


def settings_for(env: dict[str, str]) -> Settings:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def scalar(conn: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> Any:
    """The first column of the first row of a query."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def database_url_for(server_url: str, dbname: str) -> str:
    base = server_url.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def recreate_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [dbname]
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def drop_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [dbname]
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


# -- a system on the seed database -----------------------------------------------------------
@dataclass
class System:
    """`waypoint run` (and the private nats-server) started by this module."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    nats: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def stop(self) -> None:
        for p in (self.process, self.nats):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nats(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private nats-server with its JetStream store in `data_dir/nats` (kept)."""
    from shared.embedded import nats_answers, nats_binary

    port = free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "nats.conf"
    conf.write_text(f'listen: "127.0.0.1:{port}"\njetstream {{\n  store_dir: {str(store)!r}\n}}\n')
    log = open(data_dir / "nats.log", "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([nats_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    url = f"nats://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not nats_answers(url, timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nats-server did not start; see {data_dir / 'nats.log'}")
        time.sleep(0.1)
    return proc, url


def start_system(
    database_url: str, data_dir: Path, *, split: bool = False, extra: dict[str, str] | None = None
) -> System:
    """The private NATS and `waypoint run` on the seed database, once every service is
    ready (the time it took in `System.started`)."""
    nats_proc, nats_url = start_nats(data_dir)
    env = seed_env(database_url, nats_url) | (extra or {})
    port = free_port()
    log = open(data_dir / "run.log", "ab")  # noqa: SIM115 - owned by the process
    args = [sys.executable, "-m", "services.cli", "run", "--port", str(port)]
    args += ["--data-dir", str(data_dir / "run")]
    if split:
        args.append("--split")
    began = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    system = System(f"http://127.0.0.1:{port}", env, proc, nats_proc)
    try:
        wait_ready(system)
    except BaseException:
        system.stop()
        raise
    system.started = time.perf_counter() - began
    return system


def wait_ready(system: System, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    with httpx.Client(base_url=system.url, timeout=2) as http:
        while pending:
            if system.process.poll() is not None:
                raise RuntimeError("waypoint run exited; see its run.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready in {timeout:.0f} s: {pending}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"/{pending[0]}/readyz").status_code == 200:
                    pending.pop(0)
                    continue
            time.sleep(0.05)


def people(settings: Settings) -> People:
    from shared.auth import dev_token

    def h(
        sub: str, roles: list[str], org: str = ORGANISATION, pid: str | None = None
    ) -> dict[str, str]:
        token = dev_token(
            settings, sub=sub, org=org, roles=roles, partner_id=uuid.UUID(pid) if pid else None
        )
        return {"Authorization": f"Bearer {token}"}

    return People(
        counsellor=h("c.jansen", ["counsellor"]),
        admin=h("a.admin", ["admin"]),
        partner_of=lambda pid: h("p.partner", ["partner"], "partner-org", pid),
    )


def quiescent(dsn: str, seconds: float = 1.5, timeout: float = 60.0) -> None:
    """Until every follower is at its log's head and nothing was written for `seconds`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    since = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            marks = []
            for s in SERVICES:
                head = conn.execute(
                    f"SELECT coalesce(max(notification_id), 0) FROM {s}.{s}_events"
                ).fetchone()
                positions = conn.execute(
                    f"SELECT name, position FROM {s}.follower_positions"
                ).fetchall()
                consumed = conn.execute(f"SELECT count(*) FROM {s}.consumed_events").fetchone()
                marks.append((head, sorted(positions), consumed))
            caught_up = all(all(p == m[0][0] for _, p in m[1]) for m in marks if m[0])
            if marks != last:
                last, since = marks, time.monotonic()
            elif caught_up and time.monotonic() - since >= seconds:
                return
            time.sleep(0.2)
    raise TimeoutError("the template system did not settle")


# -- the clone plan ---------------------------------------------------------------------------
@dataclass
class Table:
    schema: str
    name: str
    columns: list[str]
    types: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.name}"'


def tables_of(conn: psycopg.Connection[Any]) -> list[Table]:
    rows = conn.execute(
        "SELECT table_schema, table_name, array_agg(column_name::text ORDER BY ordinal_position), "
        "array_agg(data_type::text ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_schema = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
        [[*SERVICES, "vault"]],
    ).fetchall()
    return [Table(s, n, list(c), list(t)) for s, n, c, t in rows]


def read_rows(conn: psycopg.Connection[Any], table: Table) -> None:
    """The table's rows as COPY text fields, bytea fields decoded to text when UTF-8."""
    cols = ", ".join(f'"{c}"' for c in table.columns)
    data = bytearray()
    with conn.cursor().copy(f"COPY (SELECT {cols} FROM {table.qualified}) TO STDOUT") as copy:
        for chunk in copy:
            data += chunk
    for line in bytes(data).decode().split("\n"):
        if line:
            table.rows.append(line.split("\t"))


def decode_bytea(value: str) -> str | None:
    """A COPY text bytea (`\\\\x…`) as UTF-8 text, or None (binary, or NULL)."""
    if not value.startswith("\\\\x"):
        return None
    try:
        return bytes.fromhex(value[3:]).decode()
    except UnicodeDecodeError:
        return None


def tokens_in(text: str) -> set[str]:
    return {u if len(u) == 36 else str(uuid.UUID(u)) for u in ANY_UUID.findall(text)}


class Slots:
    """A compiled field: literal strings and slots (uuid, hex uuid, date, ct) in turn."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts


def compile_text(text: str, remap: set[str]) -> str | Slots:
    parts: list[Any] = []
    last = 0
    for m in TOKENS.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        if kind == "u" and value in remap:
            slot: tuple[str, str] = ("u", value)
        elif kind == "h" and str(uuid.UUID(value)) in remap:
            slot = ("h", str(uuid.UUID(value)))
        elif kind == "d":
            slot = ("d", value)
        elif kind == "ct":
            slot = ("ct", value)
        else:
            continue
        start, end = m.span(kind)
        parts.append(text[last:start])
        parts.append(slot)
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return Slots(parts)


@dataclass
class Plan:
    """One template journey's clone recipe: its rows per table, compiled."""

    template: Template
    remap: set[str]
    # uuid → recipe: ("random",) or a derivation from other uuids of the template.
    recipes: dict[str, tuple[Any, ...]]
    # table → compiled rows (each a list of fields: str, Slots, or special tuples).
    rows: dict[str, list[list[Any]]] = field(default_factory=dict)
    # service → the template's events (notification ids, in log order).
    events: dict[str, list[int]] = field(default_factory=dict)
    # ct → (plaintext, old event id, field, client): the template's sealed values.
    sealed: dict[str, tuple[bytes, str, str, str]] = field(default_factory=dict)
    clients: list[str] = field(default_factory=list)
    # The rows as format strings over one list of slot values per clone (`Formats`).
    formats: Formats | None = None
    # service → {template notification id: its rank in the template's log}
    ranks: dict[str, dict[int, int]] = field(default_factory=dict)


@dataclass
class EventFormat:
    oid: str  # format of the originator id
    version: int
    topic: str
    state: str  # format of the state (plain text: hashed for the chain, then hex)
    nid: int  # the slot of its notification id
    link: str  # format of its audit_chain row ({prev}, {hash} named)


@dataclass
class Formats:
    """A plan's rows as `str.format` strings: each slot (`slots[i]`: a uuid, a date, a
    sealed value, a notification id, a wrapped key, or the hex of one) is `{i}`."""

    slots: list[tuple[Any, ...]] = field(default_factory=list)
    index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)
    events: dict[str, list[EventFormat]] = field(default_factory=dict)

    def at(self, slot: tuple[Any, ...]) -> str:
        i = self.index.get(slot)
        if i is None:
            i = self.index[slot] = len(self.slots)
            self.slots.append(slot)
        return "{" + str(i) + "}"

    def field(self, value: Any) -> str:
        if isinstance(value, str):
            return value.replace("{", "{{").replace("}", "}}")
        if isinstance(value, Slots):
            return "".join(
                p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else self.at(p)
                for p in value.parts
            )
        kind = value[0]
        if kind in ("nid", "wrap"):
            return self.at(value)
        if kind == "bytea":
            inner = value[1]
            parts = [inner] if isinstance(inner, str) else inner.parts
            return "\\\\x" + "".join(
                p.encode().hex() if isinstance(p, str) else self.at(("hex", p)) for p in parts
            )
        if kind in ("prev_hash", "hash"):
            return "\\\\x{%s}" % ("prev" if kind == "prev_hash" else "hash")
        raise AssertionError(value)


def to_formats(plan: Plan) -> Formats:
    f = Formats()
    for name, rows in plan.rows.items():
        schema, table = name.split(".")
        if table == "audit_chain":
            continue
        if table == f"{schema}_events":
            links = plan.rows[f"{schema}.audit_chain"]
            out = f.events.setdefault(schema, [])
            for row, link in zip(rows, links, strict=True):
                state = row[3][1]
                out.append(
                    EventFormat(
                        oid=f.field(row[0]),
                        version=int(row[1]),
                        topic=row[2],
                        state=f.field(state),
                        nid=int(f.at(row[4])[1:-1]),
                        link="\t".join(f.field(v) for v in link) + "\n",
                    )
                )
            continue
        f.lines[name] = ["\t".join(f.field(v) for v in row) + "\n" for row in rows]
    return f


def as_uuid(raw: bytes, version: int) -> str:
    """16 bytes as the text of a UUID of this version (RFC 4122 variant)."""
    b = bytearray(raw)
    b[6] = (b[6] & 0x0F) | (version << 4)
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid5(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`, without the UUID objects."""
    return as_uuid(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16], 5)


class Clone:
    """One clone of a plan: its fresh ids, keys and dates, derived deterministically from
    (run secret, clone number), so that every table gets the same values."""

    def __init__(
        self, plan: Plan, number: int, days_back: int, secret: bytes, nids: dict[str, int]
    ):
        self.plan = plan
        self.number = number
        self.days = days_back
        self.secret = secret
        self.nid_base = nids  # service → the first notification id of this clone
        self.plan_ranks = plan.ranks
        self.ids: dict[str, str] = {}
        self.keys: dict[str, bytes] = {}
        self.dates: dict[str, str] = {}
        self.cts: dict[str, str] = {}

    def uid(self, old: str) -> str:
        found = self.ids.get(old)
        if found is not None:
            return found
        recipe = self.plan.recipes.get(old, ("random",))
        kind = recipe[0]
        if kind == "random":
            raw = hashlib.blake2b(
                self.number.to_bytes(8, "big") + old.encode(), key=self.secret, digest_size=16
            ).digest()
            new = as_uuid(raw, 4)
        elif kind == "event":
            new = uuid5(EVENT_ID_NAMESPACE, f"{self.uid(recipe[1])}/{recipe[2]}")
        else:
            namespace, fmt, inputs = recipe[1], recipe[2], recipe[3]
            args = [self.uid(i) if i in self.plan.remap else i for i in inputs]
            new = uuid5(namespace, fmt.format(*args))
        self.ids[old] = new
        return new

    def key(self, client: str) -> bytes:
        found = self.keys.get(client)
        if found is None:
            found = hashlib.blake2b(
                b"key" + self.number.to_bytes(8, "big") + client.encode(),
                key=self.secret,
                digest_size=32,
            ).digest()
            self.keys[client] = found
        return found

    def date(self, old: str) -> str:
        found = self.dates.get(old)
        if found is None:
            try:
                found = (date.fromisoformat(old) - timedelta(days=self.days)).isoformat()
            except ValueError:
                found = old
            self.dates[old] = found
        return found

    def ct(self, old: str) -> str:
        found = self.cts.get(old)
        if found is not None:
            return found
        known = self.plan.sealed.get(old)
        if known is None:  # its key gone (an erased template): stays unopenable
            self.cts[old] = old
            return old
        plaintext, old_event, field_name, client = known
        new_event = self.uid(old_event)
        nonce = hashlib.blake2b(
            b"nonce" + self.number.to_bytes(8, "big") + old.encode(),
            key=self.secret,
            digest_size=12,
        ).digest()
        aad = f"{new_event}|{field_name}".encode()
        sealed = AESGCM(self.key(self.uid(client))).encrypt(nonce, plaintext, aad)
        found = base64.b64encode(nonce + sealed).decode()
        self.cts[old] = found
        return found

    def render(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        out = []
        for part in value.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, old = part
            if kind == "u":
                out.append(self.uid(old))
            elif kind == "h":
                out.append(self.uid(old).replace("-", ""))
            elif kind == "d":
                out.append(self.date(old))
            else:
                out.append(self.ct(old))
        return "".join(out)


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent.setdefault(x, x)
        while parent != x:
            grand = self.parent.setdefault(parent, parent)
            self.parent[x] = grand
            x, parent = parent, grand
        return x

    def union(self, items: list[str]) -> None:
        if not items:
            return
        root = self.find(items[0])
        for other in items[1:]:
            r = self.find(other)
            if r != root:
                self.parent[r] = root


def row_text(table: Table, row: list[str]) -> str:
    """Every field of a row as text (bytea decoded when UTF-8), for finding its ids."""
    out = []
    for value, typ in zip(row, table.types, strict=True):
        if typ == "bytea":
            out.append(decode_bytea(value) or "")
        else:
            out.append(value)
    return "\t".join(out)


def recipes_for(
    remap: set[str], events: list[tuple[str, int]], hubs: set[str]
) -> dict[str, tuple[Any, ...]]:
    """How each id of a template was made: derived from another (uuid5) or random."""
    candidates: dict[str, tuple[Any, ...]] = {}
    for oid, ver in events:
        candidates[str(event_id(oid, ver))] = ("event", oid, ver)
    for x in remap:
        for ns in (
            PLAN_NAMESPACE,
            FOLLOWUP_NAMESPACE,
            INTAKE_ERASURE_NAMESPACE,
            AGREED_TASK_NAMESPACE,
        ):
            candidates[str(uuid.uuid5(ns, x))] = ("uuid5", ns, "{}", [x])
        for service in SERVICES:
            candidates[str(uuid.uuid5(ERASURE_NAMESPACE, f"{x}:{service}"))] = (
                "uuid5",
                ERASURE_NAMESPACE,
                "{}:" + service,
                [x],
            )
        for n in range(1, 40):
            candidates[str(uuid.uuid5(FOLLOWUP_NAMESPACE, f"{x}:checkin:{n}"))] = (
                "uuid5",
                FOLLOWUP_NAMESPACE,
                "{}:checkin:" + str(n),
                [x],
            )
        for hub in hubs:
            candidates[str(uuid.uuid5(INDEX_NAMESPACE, f"{x}:{hub}"))] = (
                "uuid5",
                INDEX_NAMESPACE,
                "{}:{}",
                [x, hub],
            )
    return {u: candidates[u] for u in remap if u in candidates}


# Columns holding a notification id of the table's own service's log.
POSITIONS = {("position", "access_log"), ("position", "audit_chain")}


def is_events(name: str) -> bool:
    """`<service>.<service>_events`: a stored events table."""
    schema, table = name.split(".")
    return table == f"{schema}_events"


EVENTS_COLUMNS = ["originator_id", "originator_version", "topic", "state", "notification_id"]


def tracking_source(name: str) -> str:
    """The service whose log an event consumer (its tracking name) follows."""
    from services.followup.main import SPEC as FOLLOWUP
    from services.intake.main import SPEC as INTAKE
    from services.planning.main import SPEC as PLANNING
    from services.referral.main import SPEC as REFERRAL
    from shared.messaging.reactions import source_of

    for spec in (INTAKE, PLANNING, FOLLOWUP, REFERRAL):
        for reactions in spec.reactions:
            if reactions.name == name:
                return source_of(list(reactions.handlers))
    if name.endswith("-erasure"):  # shared/privacy/erasure.py: ErasureRequested
        return "intake"
    raise KeyError(f"tracking {name!r}: its source is not known")


def track_rows(plans: list[Plan], tables: dict[str, Table]) -> None:
    """Each tracking record of a template's event, in the plan of that template."""
    owner = {(s, n): i for i, p in enumerate(plans) for s, nids in p.events.items() for n in nids}
    for name, table in tables.items():
        schema, base = name.split(".")
        if base != f"{schema}_tracking":
            continue
        for app_name, position in table.rows:
            source = tracking_source(app_name)
            i = owner.get((source, int(position)))
            if i is not None:
                plans[i].rows.setdefault(name, []).append(
                    [app_name, ("nid", source, int(position))]
                )


def build_plans(
    conn: psycopg.Connection[Any], templates: list[Template], vault: Any
) -> tuple[list[Plan], list[Table], dict[str, int]]:
    """Each template's rows, compiled for cloning; the tables; each log's head."""
    tables = [t for t in tables_of(conn) if not NOT_CLONED.match(t.name) or t.name == "audit_chain"]
    for table in tables:
        read_rows(conn, table)
        if is_events(f"{table.schema}.{table.name}"):
            assert table.columns == EVENTS_COLUMNS, table.columns
    heads = {
        s: int(scalar(conn, f"SELECT coalesce(max(notification_id), 0) FROM {s}.{s}_events"))
        for s in SERVICES
    }
    by_name = {f"{t.schema}.{t.name}": t for t in tables}
    hubs = set()
    for row in by_name["referral.partners_view"].rows:
        hubs.add(row[0])
    texts: dict[str, list[str]] = {
        name: [row_text(t, r) for r in t.rows] for name, t in by_name.items()
    }
    uf = UnionFind()
    for name, table in by_name.items():
        if name.endswith("audit_chain"):
            continue
        for row, text in zip(table.rows, texts[name], strict=True):
            found = [u for u in tokens_in(text) if u not in hubs]
            if is_events(name) and row[0] not in hubs:
                found.append(str(event_id(row[0], int(row[1]))))
            uf.union(found)
    owner: dict[str, int] = {}
    for i, t in enumerate(templates):
        roots = {uf.find(str(u)) for u in t.ids}
        assert len(roots) == 1, f"template {t.name}'s ids are not connected: {t.ids}"
        [root] = roots
        assert root not in owner, f"templates {templates[owner[root]].name} and {t.name} share ids"
        owner[root] = i
    plans = [Plan(t, set(), {}) for t in templates]
    attributed: list[list[tuple[str, list[str], str]]] = [[] for _ in templates]
    for name, table in by_name.items():
        for row, text in zip(table.rows, texts[name], strict=True):
            if row[0] in hubs:
                continue
            ids = tokens_in(text) - hubs
            owners = {owner[r] for r in (uf.find(u) for u in ids) if r in owner}
            if not owners:
                continue
            assert len(owners) == 1, (name, row)
            [i] = owners
            attributed[i].append((name, row, text))
            plans[i].remap |= ids
    for i, plan in enumerate(plans):
        events = [(row[0], int(row[1])) for name, row, _ in attributed[i] if is_events(name)]
        plan.remap |= {str(event_id(o, v)) for o, v in events}
        plan.recipes = recipes_for(plan.remap, events, hubs)
        plan.clients = [str(plan.template.ids[0])]
        compile_plan(plan, attributed[i], by_name, vault)
    track_rows(plans, by_name)
    for plan in plans:
        plan.formats = to_formats(plan)
    return plans, tables, heads


def compile_plan(
    plan: Plan, rows: list[tuple[str, list[str], str]], tables: dict[str, Table], vault: Any
) -> None:
    client = plan.clients[0]
    key = vault.keys_for([uuid.UUID(client)]).get(uuid.UUID(client))
    field_names: set[str] = set()
    event_ids: list[str] = []
    # The sealed values of the template's events: opened with the template client's key.
    for name, row, _ in rows:
        if not is_events(name):
            continue
        eid = str(event_id(row[0], int(row[1])))
        event_ids.append(eid)
        state = json.loads(decode_bytea(row[3]) or "{}")
        for k, v in state.items():
            if isinstance(v, dict) and "$sealed" in v:
                field_names.add(k)
                if key is not None:
                    blob = base64.b64decode(v["ct"])
                    plain = AESGCM(key).decrypt(blob[:12], blob[12:], f"{eid}|{k}".encode())
                    plan.sealed[v["ct"]] = (plain, eid, k, v["kid"])
    for _name, _row, text in rows:
        for ct in re.findall(r'"ct": ?"([A-Za-z0-9+/=]+)"', text):
            if ct in plan.sealed or key is None:
                continue
            blob = base64.b64decode(ct)
            for eid in event_ids:
                for k in field_names:
                    with contextlib.suppress(Exception):
                        plain = AESGCM(key).decrypt(blob[:12], blob[12:], f"{eid}|{k}".encode())
                        plan.sealed[ct] = (plain, eid, k, client)
    for name, row, _ in rows:
        table = tables[name]
        service = table.schema
        compiled: list[Any] = []
        for column, typ, value in zip(table.columns, table.types, row, strict=True):
            if value == "\\N":
                compiled.append(value)
            elif (column, table.name) in POSITIONS or (
                is_events(name) and column == "notification_id"
            ):
                compiled.append(("nid", service, int(value)))
            elif table.name == "audit_chain" and column in ("prev_hash", "hash"):
                compiled.append((column,))
            elif table.name == "client_keys" and column == "wrapped_key":
                compiled.append(("wrap", row[0]))
            elif typ == "bytea":
                decoded = decode_bytea(value)
                compiled.append(
                    value if decoded is None else ("bytea", compile_text(decoded, plan.remap))
                )
            else:
                compiled.append(compile_text(value, plan.remap))
        plan.rows.setdefault(name, []).append(compiled)
        if is_events(name):
            plan.events.setdefault(service, []).append(int(row[4]))
    for service, nids in plan.events.items():
        order = sorted(range(len(nids)), key=nids.__getitem__)
        events = plan.rows[f"{service}.{service}_events"]
        plan.rows[f"{service}.{service}_events"] = [events[i] for i in order]
        plan.events[service] = sorted(nids)
        chain = {r[0][2]: r for r in plan.rows.get(f"{service}.audit_chain", [])}
        missing = [n for n in plan.events[service] if n not in chain]
        assert not missing, f"{service}: no audit link for template events {missing}"
        plan.rows[f"{service}.audit_chain"] = [chain[n] for n in plan.events[service]]
    plan.ranks = {s: {old: k for k, old in enumerate(nids)} for s, nids in plan.events.items()}


# -- cloning ----------------------------------------------------------------------------------
class Writer:
    """COPY text buffers per table, flushed by `connections` threads of their own (each
    its own connection and its share of the tables), so that generating the rows and
    PostgreSQL's loading them overlap, on more than one core."""

    def __init__(self, dsn: str, columns: dict[str, list[str]], connections: int = 2) -> None:
        import queue
        import threading

        self.columns = columns
        self.buffers: dict[str, list[str]] = defaultdict(list)
        self.size = 0
        self.queues: list[queue.Queue[tuple[str, str] | None]] = [
            queue.Queue(maxsize=4) for _ in range(connections)
        ]
        self.loaded = [0] * connections  # bytes given to each connection so far
        self.route: dict[str, int] = {}
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._run, args=(dsn, q), daemon=True) for q in self.queues
        ]
        for t in self.threads:
            t.start()

    def _run(self, dsn: str, q: Any) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                while (item := q.get()) is not None:
                    name, data = item
                    schema, table = name.split(".")
                    cols = ", ".join(f'"{c}"' for c in self.columns[name])
                    with conn.cursor().copy(
                        f'COPY "{schema}"."{table}" ({cols}) FROM STDIN'
                    ) as copy:
                        copy.write(data.encode())
        except BaseException as e:  # reported by the generating thread
            self.error = e
            while q.get() is not None:
                pass

    def add(self, name: str, line: str) -> None:
        self.buffers[name].append(line)
        self.size += len(line)
        if self.size > 8_000_000:
            self.flush()

    def flush(self) -> None:
        for name, lines in self.buffers.items():
            if lines:
                data = "".join(lines)
                # A table keeps its connection (rows of a table stay in order); a new
                # one goes to the connection given the least so far.
                k = self.route.get(name)
                if k is None:
                    k = self.route[name] = self.loaded.index(min(self.loaded))
                self.loaded[k] += len(data)
                self._put(k, (name, data))
        self.buffers = defaultdict(list)
        self.size = 0

    def _put(self, k: int, item: tuple[str, str] | None) -> None:
        if self.error is not None:
            raise RuntimeError("loading failed") from self.error
        self.queues[k].put(item)

    def close(self) -> None:
        self.flush()
        for k in range(len(self.queues)):
            self._put(k, None)
        for t in self.threads:
            t.join()
        if self.error is not None:
            raise RuntimeError("loading failed") from self.error


@dataclass
class Chain:
    """A service's hash chain as it is extended, and its due checkpoints."""

    service: str
    head: bytes
    position: int
    since: int
    checkpoints: list[Any] = field(default_factory=list)


def clone_all(
    dsn: str,
    plans: list[Plan],
    tables: list[Table],
    heads: dict[str, int],
    counts: list[int],
    *,
    years: float,
    wrap: Callable[[uuid.UUID, bytes], bytes],
    signer: Signer,
    store: str,
    every: int,
    progress: Callable[[int, int], None],
) -> dict[str, Chain]:
    """Write `counts[i]` clones of each plan; the chains' new heads."""
    rng = random.Random(42)
    secret = os.urandom(32)
    max_days = int(years * 365)
    order = [
        (rng.randint(0, min(max_days, JOURNEYS[plans[i].template.name][2] or max_days)), i)
        for i, n in enumerate(counts)
        for _ in range(n)
    ]
    order.sort(key=lambda x: -x[0])  # the oldest first: the logs in chronological order
    columns = {f"{t.schema}.{t.name}": t.columns for t in tables}
    chains: dict[str, Chain] = {}
    with psycopg.connect(dsn) as conn:
        for s in SERVICES:
            head = conn.execute(
                f"SELECT position, hash FROM {s}.audit_chain ORDER BY position DESC LIMIT 1"
            ).fetchone()
            last_cp = conn.execute(
                f"SELECT coalesce(max(position), 0) FROM {s}.audit_checkpoints"
            ).fetchone()
            assert head is not None and head[0] == heads[s], (s, head, heads[s])
            since = conn.execute(
                f"SELECT count(*) FROM {s}.audit_chain WHERE position > %s",
                [last_cp[0]],  # type: ignore[index]
            ).fetchone()
            chains[s] = Chain(s, bytes(head[1]), head[0], int(since[0]))  # type: ignore[index]
    writer = Writer(dsn, columns)
    nid = {s: heads[s] + 1 for s in SERVICES}
    try:
        for number, (days_back, i) in enumerate(order):
            plan = plans[i]
            clone = Clone(plan, number, days_back, secret, dict(nid))
            for s, events in plan.events.items():
                nid[s] += len(events)
            write_clone(clone, writer, chains, wrap, signer, store, every)
            if number % 2000 == 0:
                progress(number, len(order))
        progress(len(order), len(order))
    finally:
        writer.close()
    return chains


def slot_values(
    clone: Clone, formats: Formats, wrap: Callable[[uuid.UUID, bytes], bytes]
) -> list[str]:
    """The value of every slot of the plan for this clone."""
    ranks = clone.plan_ranks

    def value(slot: tuple[Any, ...]) -> str:
        kind = slot[0]
        if kind == "u":
            return clone.uid(slot[1])
        if kind == "h":
            return clone.uid(slot[1]).replace("-", "")
        if kind == "d":
            return clone.date(slot[1])
        if kind == "ct":
            return clone.ct(slot[1])
        if kind == "nid":
            return str(clone.nid_base[slot[1]] + ranks[slot[1]][slot[2]])
        if kind == "wrap":
            new = clone.uid(slot[1])
            return "\\\\x" + wrap(uuid.UUID(new), clone.key(new)).hex()
        if kind == "hex":
            return value(slot[1]).encode().hex()
        raise AssertionError(slot)

    return [value(slot) for slot in formats.slots]


def write_clone(
    clone: Clone,
    writer: Writer,
    chains: dict[str, Chain],
    wrap: Callable[[uuid.UUID, bytes], bytes],
    signer: Signer,
    store: str,
    every: int,
) -> None:
    formats = clone.plan.formats
    assert formats is not None
    values = slot_values(clone, formats, wrap)
    for schema, events in formats.events.items():
        chain = chains[schema]
        name = f"{schema}.{schema}_events"
        chain_name = f"{schema}.audit_chain"
        for ev in events:
            oid = ev.oid.format(*values)
            state = ev.state.format(*values).encode()
            position = int(values[ev.nid])
            writer.add(name, f"{oid}\t{ev.version}\t{ev.topic}\t\\\\x{state.hex()}\t{position}\n")
            payload = link_payload(
                position, uuid.UUID(oid), ev.version, ev.topic, hashlib.sha256(state).digest()
            )
            prev, chain.head = chain.head, link_hash(chain.head, payload)
            chain.position = position
            writer.add(chain_name, ev.link.format(*values, prev=prev.hex(), hash=chain.head.hex()))
            chain.since += 1
            if chain.since >= every:
                chain.checkpoints.append(signer.sign(schema, store, position, chain.head, now()))
                chain.since = 0
    for name, lines in formats.lines.items():
        for line in lines:
            writer.add(name, line.format(*values))


def now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def drop_indexes(dsn: str, tables: list[Table]) -> list[str]:
    """Drop the indexes (primary keys and unique constraints too) of the tables to be
    loaded, which PostgreSQL builds far faster once over the loaded rows than row by row
    (random UUID keys); the statements that make them again, in order."""
    names = [f"{t.schema}.{t.name}" for t in tables]
    again: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
            "AND f.confrelid = pg_constraint.conrelid)",
            [names],
        ).fetchall()
        indexes = conn.execute(
            "SELECT schemaname || '.' || tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname || '.' || tablename = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = "
            "(quote_ident(schemaname) || '.' || quote_ident(indexname))::regclass)",
            [names],
        ).fetchall()
        for table, name, definition in indexes:
            schema = table.split(".")[0]
            conn.execute(f'DROP INDEX "{schema}"."{name}"')
            again.append(definition)
        for table, name, definition in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            again.insert(0, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return again


def pause_triggers(dsn: str, tables: list[Table]) -> list[str]:
    """The loaded tables whose triggers keep counters (intake's `cases_view` keeps
    `caseload_open` and `caseload_days`, follow-up's `checkins_view` `worklist_due`),
    their triggers disabled for the load: the counters are made once from the loaded rows
    afterwards (`recount`), not row by row by two loading connections at once."""
    names = [f"{t.schema}.{t.name}" for t in tables]
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s)",
                [names],
            ).fetchall()
        ]
        for table in found:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    return found


def recount(dsn: str, paused: list[str]) -> None:
    """The triggers enabled again, and what they keep made anew from the loaded rows, by
    the services' own schema statements (which make the counters from the rows when they
    are missing, as on an upgrade)."""
    from services.followup.projections import SCHEMA_SQL as FOLLOWUP_SQL
    from services.intake.projections import SCHEMA_SQL as INTAKE_SQL

    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in paused:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.execute("DROP TABLE IF EXISTS intake.caseload_open, intake.caseload_days")
        conn.execute(INTAKE_SQL)
        conn.execute("DROP TABLE IF EXISTS followup.worklist_due")
        conn.execute(FOLLOWUP_SQL)


def make_indexes(dsn: str, statements: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for sql in statements:
            conn.execute(sql.encode())


def finish(dsn: str, chains: dict[str, Chain], tables: list[Table]) -> None:
    """Checkpoints, followers at the heads, sequences past the loaded ids, statistics."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s, chain in chains.items():
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {s}.audit_checkpoints "
                    "(position, hash, signed_at, payload, signature) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [
                        (
                            c.position,
                            c.hash,
                            c.signed_at,
                            canonical_json(c.payload()).decode(),
                            c.signature,
                        )
                        for c in chain.checkpoints
                    ],
                )
            conn.execute(f"UPDATE {s}.follower_positions SET position = %s", [chain.position])
            seq = conn.execute(
                "SELECT pg_get_serial_sequence(%s, 'notification_id')", [f"{s}.{s}_events"]
            ).fetchone()
            if seq and seq[0]:
                conn.execute("SELECT setval(%s, %s)", [seq[0], chain.position])
        for t in tables:
            conn.execute(f"VACUUM ANALYZE {t.qualified}")


def clone_counts(plans: list[Plan], total: int) -> list[int]:
    """Clones of each template so that the events come to about `total`, in the mix of
    `JOURNEYS`."""
    shares = [JOURNEYS[p.template.name][1] for p in plans]
    per_client = sum(
        sh * sum(len(e) for e in p.events.values()) for sh, p in zip(shares, plans, strict=True)
    )
    clients = max(0, total) / per_client
    return [max(0, round(clients * sh)) for sh in shares]


# -- the whole seeding ------------------------------------------------------------------------
@dataclass
class Seeded:
    database_url: str
    data_dir: Path
    events: int
    clients: int
    cases: int
    seconds: float
    phases: dict[str, float]


def seed(
    server_url: str,
    dbname: str,
    total: int,
    data_dir: Path,
    *,
    years: float = 7.0,
    quiet: bool = False,
    journeys: Sequence[str] | None = None,
) -> Seeded:
    """Seed database `dbname` (re-created) and a private NATS store under `data_dir`
    (emptied) with about `total` events."""
    from shared.runtime import key_vault

    say: Callable[..., None] = (lambda *a, **k: None) if quiet else print
    began = time.perf_counter()
    phases: dict[str, float] = {}
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    recreate_database(server_url, dbname)
    database_url = database_url_for(server_url, dbname)
    system = start_system(database_url, data_dir)
    settings = settings_for(system.env)
    try:
        templates = asyncio.run(run_templates(system.url, people(settings), journeys))
        quiescent(settings.pg.dsn())
    finally:
        system.stop()
    phases["templates"] = time.perf_counter() - began
    say(
        f"templates: {len(templates)} journeys through the real system "
        f"in {phases['templates']:.1f} s"
    )

    t0 = time.perf_counter()
    vault = key_vault(settings)
    try:
        with psycopg.connect(settings.pg.dsn()) as conn:
            plans, tables, heads = build_plans(conn, templates, vault)
        counts = clone_counts(plans, total - sum(heads.values()))
        phases["compile"] = time.perf_counter() - t0
        planned = sum(
            c * sum(len(e) for e in p.events.values()) for c, p in zip(counts, plans, strict=True)
        )
        say(
            f"compiled in {phases['compile']:.1f} s; cloning "
            + ", ".join(f"{p.template.name} x{c:,}" for p, c in zip(plans, counts, strict=True))
            + f" ({planned:,} events)"
        )
        t0 = time.perf_counter()

        def progress(done: int, of: int) -> None:
            if not quiet and of:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                print(f"\r  {done:,}/{of:,} clients ({rate:,.0f}/s)", end="", flush=True)

        indexes = drop_indexes(settings.pg.dsn(), tables)
        paused = pause_triggers(settings.pg.dsn(), tables)
        chains = clone_all(
            settings.pg.dsn(),
            plans,
            tables,
            heads,
            counts,
            years=years,
            wrap=vault._wrap,
            signer=Signer(settings.audit_signing_seed),
            store=settings.pg.dbname,
            every=settings.audit_checkpoint_every,
            progress=progress,
        )
        say("")
        phases["clone"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        make_indexes(settings.pg.dsn(), indexes)
        recount(settings.pg.dsn(), paused)
        phases["indexes"] = time.perf_counter() - t0
    finally:
        vault.close()
    t0 = time.perf_counter()
    finish(settings.pg.dsn(), chains, tables)
    phases["finish"] = time.perf_counter() - t0
    with psycopg.connect(settings.pg.dsn()) as conn:
        events = sum(int(scalar(conn, f"SELECT count(*) FROM {s}.{s}_events")) for s in SERVICES)
        clients = int(scalar(conn, "SELECT count(*) FROM vault.client_keys"))
        cases = int(scalar(conn, "SELECT count(*) FROM intake.cases_view"))
    took = time.perf_counter() - began
    say(
        f"seeded {events:,} events ({clients:,} clients, {cases:,} cases in the list) "
        f"in {took:.1f} s " + "(" + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + ")"
    )
    return Seeded(database_url, data_dir, events, clients, cases, took, phases)


def verify(seeded: Seeded, *, split: bool = False) -> dict[str, Any]:
    """Start the system on the seeded store and check it: ready, the audit chains verify,
    the case list shows seeded cases, a new command works, a seeded client is erased."""
    system = start_system(seeded.database_url, seeded.data_dir, split=split)
    out: dict[str, Any] = {"startup_s": system.started}
    try:
        settings = settings_for(system.env)
        who = people(settings)
        from shared.auth import dev_token

        auditor = {
            "Authorization": "Bearer "
            + dev_token(settings, sub="r.auditor", org=ORGANISATION, roles=["auditor"])
        }
        with httpx.Client(base_url=system.url, timeout=120) as http:
            for s in SERVICES:
                r = http.get(f"/{s}/v1/audit/verify", headers=auditor)
                assert r.status_code == 200 and r.json().get("ok"), (s, r.status_code, r.text[:500])
                out[f"verify_{s}"] = r.json().get("checked")
            r = http.get("/intake/v1/cases", params={"limit": 50}, headers=who.counsellor)
            assert r.status_code == 200 and len(r.json()) == 50, r.text[:300]
            out["total"] = r.headers.get("x-total-count")
            client = http.post(
                "/intake/v1/clients",
                json={
                    "given_name": "Nieuw",
                    "family_name": "Klant",
                    "birth_date": "1991-02-03",
                    "email": "nieuw@example.org",
                    "preferred_language": "nl",
                },
                headers=who.counsellor,
            )
            assert client.status_code == 201, client.text
            with psycopg.connect(settings.pg.dsn()) as conn:
                row = conn.execute(
                    "SELECT c.client_id FROM intake.cases_view c JOIN vault.client_keys k "
                    "USING (client_id) WHERE k.wrapped_key IS NOT NULL AND c.status <> 'closed' "
                    "ORDER BY c.opened_at LIMIT 1"
                ).fetchone()
            assert row is not None
            seeded_client = str(row[0])
            r = http.get(f"/intake/v1/clients/{seeded_client}", headers=who.counsellor)
            assert r.status_code == 200 and r.json()["given_name"] == "Anna", r.text[:300]
            began = time.perf_counter()
            r = http.post(
                f"/intake/v1/clients/{seeded_client}/erasure",
                json={"reason": "seed check"},
                headers=who.counsellor,
            )
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 60
            while True:
                r = http.get(f"/intake/v1/clients/{seeded_client}/erasure", headers=who.counsellor)
                if r.status_code == 200 and r.json().get("status") == "completed":
                    break
                assert time.monotonic() < deadline, r.text
                time.sleep(0.05)
            out["erasure_s"] = time.perf_counter() - began
    finally:
        system.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "GUIDANCE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="Any database on the server to seed on (a new database is made beside it).",
    )
    parser.add_argument(
        "--database", help="The new database's name (default waypoint_seed_<events>)."
    )
    parser.add_argument(
        "--data-dir", type=Path, help="The private NATS store (default .data/seed/<database>)."
    )
    parser.add_argument("--years", type=float, default=7.0)
    parser.add_argument(
        "--verify", action="store_true", help="Start the system on it and check it."
    )
    parser.add_argument("--drop", action="store_true", help="Drop the database afterwards.")
    args = parser.parse_args()
    dbname = args.database or f"waypoint_seed_{args.events}"
    data_dir = args.data_dir or Path(".data") / "seed" / dbname
    seeded = seed(args.database_url, dbname, args.events, data_dir.resolve(), years=args.years)
    try:
        if args.verify:
            result = verify(seeded)
            print(
                "verified: "
                + ", ".join(
                    f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in result.items()
                )
            )
    finally:
        if args.drop:
            drop_database(args.database_url, dbname)
    if not args.drop:
        print(
            "\nThe seeded system (start its NATS first: "
            f"nats-server -c {seeded.data_dir / 'nats.conf'}):"
        )
        for k, v in seed_env(seeded.database_url, "nats://127.0.0.1:<port in nats.conf>").items():
            print(f"  export {k}={v}")


if __name__ == "__main__":
    main()

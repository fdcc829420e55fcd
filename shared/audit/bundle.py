"""A case's audit history across the services: fetched over HTTP, merged into one
timeline, exported as a self-contained bundle, and checked offline.

A bundle holds, per service, the case's events with the stored form each link covers
(position, originator id and version, topic, SHA-256 of the stored state), their
`prev_hash` and `hash`, the service's signed checkpoints and its public key. The
offline check recomputes every link from its fields and `prev_hash`, checks every
checkpoint's signature, and compares a checkpoint with the link at its position when the
bundle holds that link. Nothing in it needs the services or a client's key.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.audit.proof import Checkpoint, link_hash, link_payload, load_public_key
from shared.privacy.sealing import event_id

SERVICES = ("intake", "planning", "followup", "referral")
FORMAT = "waypoint-audit-bundle/1"


class AuditHttpError(Exception):
    """A service did not answer as the audit API should."""


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    r = await client.get(path)
    if r.status_code >= 400:
        detail = r.json().get("detail", r.text) if r.content else r.reason_phrase
        raise AuditHttpError(f"GET {path}: {r.status_code} {detail}")
    return r.json()


async def case_events(
    client: httpx.AsyncClient, service: str, case_id: uuid.UUID, *, with_state: bool = False
) -> list[dict[str, Any]]:
    """One service's events of the case; [] when it has none (404)."""
    path = f"/{service}/v1/audit/cases/{case_id}/events"
    r = await client.get(path, params={"include_state": "true"} if with_state else None)
    if r.status_code == 404:
        return []
    if r.status_code >= 400:
        raise AuditHttpError(f"GET {path}: {r.status_code} {r.text}")
    events: list[dict[str, Any]] = r.json()
    return events


async def timeline(
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    services: Sequence[str] = SERVICES,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """The case's events of every service as one timeline, ordered by time."""
    merged = []
    for service in services:
        for event in await case_events(client, service, case_id):
            if as_of is not None and _time(event["occurred_at"]) > as_of:
                continue
            merged.append({"service": service, **event})
    order = {s: i for i, s in enumerate(services)}
    merged.sort(key=lambda e: (_time(e["occurred_at"]), order[e["service"]], e["position"]))
    return merged


async def verify(client: httpx.AsyncClient, service: str) -> dict[str, Any]:
    result: dict[str, Any] = await _get(client, f"/{service}/v1/audit/verify")
    return result


async def export(
    client: httpx.AsyncClient, case_id: uuid.UUID, services: Sequence[str] = SERVICES
) -> dict[str, Any]:
    """The self-contained bundle of the case (services without its events are left out)."""
    parts: dict[str, Any] = {}
    for service in services:
        events = await case_events(client, service, case_id, with_state=True)
        if not events:
            continue
        parts[service] = {
            "public_key": await _get(client, f"/{service}/v1/audit/public-key"),
            "checkpoints": await _get(client, f"/{service}/v1/audit/checkpoints"),
            "events": events,
        }
    return {
        "format": FORMAT,
        "case_id": str(case_id),
        "exported_at": datetime.now(UTC).isoformat(),
        "services": parts,
    }


@dataclass(frozen=True)
class Finding:
    """One item of a bundle that does not check out."""

    service: str
    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.service}: {self.item}: {self.message}"


def check(bundle: dict[str, Any], public_keys: dict[str, str] | None = None) -> list[Finding]:
    """Everything wrong with a bundle, in order ([] when it checks out). `public_keys`
    pins the keys (base64 by service) instead of trusting the bundle's own."""
    if bundle.get("format") != FORMAT:
        return [Finding("-", "format", f"not a {FORMAT} bundle")]
    findings: list[Finding] = []
    for service, part in bundle.get("services", {}).items():
        findings += _check_service(service, part, (public_keys or {}).get(service))
    return findings


def _check_service(service: str, part: dict[str, Any], pinned: str | None) -> list[Finding]:
    out: list[Finding] = []
    try:
        key_json = part["public_key"]
        if pinned is not None and key_json.get("public_key") != pinned:
            out.append(Finding(service, "public key", "differs from the pinned key"))
        key = load_public_key(key_json)
    except (KeyError, ValueError) as e:
        return [Finding(service, "public key", f"unusable: {e}")]
    links: dict[int, bytes] = {}
    last = 0
    for event in part.get("events", []):
        item = f"event at position {event.get('position')}"
        try:
            problem = _check_event(event)
        except (KeyError, ValueError, TypeError) as e:
            problem = f"malformed: {e}"
        if problem is None and event["position"] <= last:
            problem = "out of order"
        if problem is not None:
            out.append(Finding(service, item, problem))
            continue
        last = event["position"]
        links[event["position"]] = bytes.fromhex(event["hash"])
    for data in part.get("checkpoints", []):
        item = f"checkpoint at position {data.get('position')}"
        try:
            checkpoint = Checkpoint.from_json(data)
        except (KeyError, ValueError, TypeError) as e:
            out.append(Finding(service, item, f"malformed: {e}"))
            continue
        if checkpoint.service != service:
            out.append(Finding(service, item, f"signed for {checkpoint.service!r}"))
        elif not checkpoint.verifies(key):
            out.append(Finding(service, item, "the signature does not verify"))
        elif checkpoint.position in links and links[checkpoint.position] != checkpoint.hash:
            out.append(Finding(service, item, "the link at its position has another hash"))
    return out


def _check_event(event: dict[str, Any]) -> str | None:
    if not event.get("stored", True):
        return "the link's event is missing from the store"
    digest = bytes.fromhex(event["state_sha256"])
    if "state" in event and hashlib.sha256(base64.b64decode(event["state"])).digest() != digest:
        return "the stored state does not match its digest"
    oid = uuid.UUID(event["originator_id"])
    version = int(event["originator_version"])
    if event.get("event_id") and uuid.UUID(event["event_id"]) != event_id(oid, version):
        return "the event id does not belong to its originator and version"
    payload = link_payload(int(event["position"]), oid, version, event["topic"], digest)
    if link_hash(bytes.fromhex(event["prev_hash"]), payload).hex() != event["hash"]:
        return "the hash does not follow from the event's fields and prev_hash"
    return None


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

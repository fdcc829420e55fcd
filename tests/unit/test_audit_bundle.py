"""The offline check of an exported audit bundle, and `waypoint audit check`."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.audit.bundle import FORMAT, check
from shared.audit.proof import GENESIS, Signer, link_hash, link_payload
from shared.cli import app
from shared.privacy.sealing import event_id

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SIGNER = Signer(os.urandom(32))


def a_bundle() -> dict[str, Any]:
    """Three events of one case at positions 3, 4 and 9 of a chain, checkpoint at 4."""
    case_id = uuid.uuid4()
    prev, events = GENESIS, []
    for position, version in ((3, 1), (4, 2), (9, 3)):
        state = json.dumps({"n": position}).encode()
        topic = "services.intake.domain:Case.Opened"
        digest = hashlib.sha256(state).digest()
        h = link_hash(prev, link_payload(position, case_id, version, topic, digest))
        events.append(
            {
                "position": position,
                "event_id": str(event_id(case_id, version)),
                "type": "Case.Opened",
                "occurred_at": AT.isoformat(),
                "originator_id": str(case_id),
                "originator_version": version,
                "topic": topic,
                "state_sha256": digest.hex(),
                "state": base64.b64encode(state).decode(),
                "prev_hash": prev.hex(),
                "hash": h.hex(),
                "stored": True,
            }
        )
        prev = os.urandom(32)  # the links between the case's events belong to other cases
    checkpoint = SIGNER.sign("intake", "db", 4, bytes.fromhex(events[1]["hash"]), AT)
    return {
        "format": FORMAT,
        "case_id": str(case_id),
        "services": {
            "intake": {
                "public_key": SIGNER.public_key_json(),
                "checkpoints": [checkpoint.to_json()],
                "events": events,
            }
        },
    }


def test_an_untouched_bundle_checks_out() -> None:
    assert check(a_bundle()) == []


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(bundle: dict[str, Any]) -> None:
        target = bundle["services"]["intake"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return change


def _flip(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


@pytest.mark.parametrize(
    ("change", "item"),
    [
        (_set(("events", 1, "hash"), _flip), "event at position 4"),
        (_set(("events", 0, "prev_hash"), _flip), "event at position 3"),
        (_set(("events", 2, "topic"), "services.intake.domain:Case.Declined"), "position 9"),
        (_set(("events", 2, "originator_version"), 7), "event at position 9"),
        (_set(("events", 0, "state"), base64.b64encode(b"{}").decode()), "event at position 3"),
        (_set(("checkpoints", 0, "position"), 9), "checkpoint at position 9"),
        (_set(("checkpoints", 0, "hash"), _flip), "checkpoint at position 4"),
    ],
    ids=["hash", "prev_hash", "topic", "version", "state", "checkpoint position", "checkpoint"],
)
def test_a_modified_bundle_is_refused_naming_the_first_bad_item(
    change: Callable[[dict[str, Any]], None], item: str
) -> None:
    bundle = a_bundle()
    change(bundle)

    findings = check(bundle)

    assert findings and item in str(findings[0]), findings


def test_a_checkpoint_that_verifies_but_disagrees_with_the_link_at_its_position_is_refused() -> (
    None
):
    bundle = a_bundle()
    part = bundle["services"]["intake"]
    part["checkpoints"] = [SIGNER.sign("intake", "db", 9, os.urandom(32), AT).to_json()]

    assert "another hash" in str(check(bundle)[0])


def test_a_bundle_resigned_with_another_key_is_refused_when_the_key_is_pinned() -> None:
    bundle = a_bundle()
    pinned = {"intake": bundle["services"]["intake"]["public_key"]["public_key"]}
    forger = Signer(os.urandom(32))
    part = bundle["services"]["intake"]
    part["public_key"] = forger.public_key_json()
    part["checkpoints"] = [forger.sign("intake", "db", 4, os.urandom(32), AT).to_json()]

    assert check(bundle) != []  # the link at 4 disagrees
    part["checkpoints"] = []
    assert check(bundle) == []
    assert "pinned" in str(check(bundle, pinned)[0])


def test_the_check_command_exits_zero_for_a_good_bundle_and_one_for_a_bad(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    bundle = a_bundle()
    good.write_text(json.dumps(bundle))
    broken = copy.deepcopy(bundle)
    broken["services"]["intake"]["events"][2]["hash"] = "00" * 32
    bad.write_text(json.dumps(broken))
    runner = CliRunner()

    ok = runner.invoke(app, ["audit", "check", str(good)])
    refused = runner.invoke(app, ["audit", "check", str(bad)])

    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    assert refused.exit_code == 1, refused.output
    assert "event at position 9" in refused.output

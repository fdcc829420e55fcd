"""The audit trail's arithmetic: links of the hash chain and signed checkpoints."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.audit.proof import (
    GENESIS,
    Checkpoint,
    Signer,
    canonical_json,
    link_hash,
    link_payload,
    load_public_key,
    state_digest,
)

OID = uuid.UUID("8a0c3b8e-61a4-4c39-9a5e-3f3f0c1c2d11")
TOPIC = "services.intake.domain:Case.Opened"
STATE = b'{"client_id":{"_type_":"uuid_hex","_data_":"00"}}'
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def a_link(prev: bytes = GENESIS, **changes: object) -> bytes:
    fields: dict[str, object] = dict(
        position=7, originator_id=OID, originator_version=2, topic=TOPIC, digest=state_digest(STATE)
    )
    fields.update(changes)
    return link_hash(prev, link_payload(**fields))  # type: ignore[arg-type]


def test_a_link_is_sha256_of_the_previous_hash_and_the_canonical_bytes() -> None:
    name = TOPIC.encode()
    expected = hashlib.sha256(
        GENESIS
        + (7).to_bytes(8, "big")
        + OID.bytes
        + (2).to_bytes(8, "big")
        + len(name).to_bytes(4, "big")
        + name
        + hashlib.sha256(STATE).digest()
    ).digest()

    assert a_link() == expected
    assert bytes(32) == GENESIS


@pytest.mark.parametrize(
    "change",
    [
        {"position": 8},
        {"originator_id": uuid.uuid4()},
        {"originator_version": 3},
        {"topic": "services.intake.domain:Case.Accepted"},
        {"digest": state_digest(STATE[:-1] + b"!")},
    ],
    ids=["position", "originator", "version", "topic", "one byte of the state"],
)
def test_any_change_of_what_a_link_covers_changes_the_link(change: dict[str, object]) -> None:
    assert a_link(**change) != a_link()


def test_a_link_depends_on_the_one_before_it() -> None:
    assert a_link(prev=a_link()) != a_link()


def test_the_originator_may_be_given_as_text() -> None:
    assert a_link(originator_id=str(OID)) == a_link()


def test_canonical_json_sorts_keys_and_has_no_spaces() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_a_signed_checkpoint_verifies_with_the_public_key_and_survives_json() -> None:
    signer = Signer(os.urandom(32))
    checkpoint = signer.sign("intake", "db", 1000, a_link(), AT)

    again = Checkpoint.from_json(checkpoint.to_json())

    assert again == checkpoint
    assert again.verifies(signer.public_key)
    assert again.verifies(load_public_key(signer.public_key_json()))


@pytest.mark.parametrize(
    "change",
    [
        {"position": 1001},
        {"hash": GENESIS},
        {"service": "planning"},
        {"store": "other"},
        {"signed_at": datetime(2026, 3, 2, tzinfo=UTC)},
    ],
)
def test_a_checkpoint_whose_payload_was_changed_does_not_verify(change: dict[str, object]) -> None:
    signer = Signer(os.urandom(32))
    checkpoint = signer.sign("intake", "db", 1000, a_link(), AT)

    assert not replace(checkpoint, **change).verifies(signer.public_key)  # type: ignore[arg-type]


def test_a_checkpoint_does_not_verify_with_another_key() -> None:
    checkpoint = Signer(os.urandom(32)).sign("intake", "db", 5, a_link(), AT)

    assert not checkpoint.verifies(Signer(os.urandom(32)).public_key)


def test_the_public_key_is_published_as_raw_base64_with_a_key_id() -> None:
    key = Signer(bytes(32)).public_key_json()

    assert key["algorithm"] == "Ed25519"
    assert len(base64.b64decode(key["public_key"])) == 32
    assert len(key["key_id"]) == 16

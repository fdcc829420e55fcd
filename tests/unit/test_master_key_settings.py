"""The previous master key of a rotation (GUIDANCE_MASTER_KEY_PREVIOUS), and the console's
sealer reading with it."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag

from services.console.sessions import Sealer
from shared.settings import Settings

OLD, NEW = os.urandom(32), os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_the_previous_master_key_is_optional_and_decoded() -> None:
    assert Settings(master_key=b64(NEW)).master_key_previous_bytes is None
    # A Secret's key left blank once a rotation is over counts as none.
    assert Settings(master_key=b64(NEW), master_key_previous="").master_key_previous_bytes is None
    rotating = Settings(master_key=b64(NEW), master_key_previous=b64(OLD))
    assert (rotating.master_key_bytes, rotating.master_key_previous_bytes) == (NEW, OLD)


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        ("not base64!", "GUIDANCE_MASTER_KEY_PREVIOUS must be base64"),
        (b64(b"short"), "GUIDANCE_MASTER_KEY_PREVIOUS must decode to 32 bytes"),
        (b64(NEW), "GUIDANCE_MASTER_KEY_PREVIOUS is the current GUIDANCE_MASTER_KEY"),
    ],
    # Named: the keys are random, and the two lanes (`pytest -n 2`) must collect the same ids.
    ids=["not-base64", "short", "the-current-key"],
)
def test_a_bad_previous_master_key_is_refused(previous: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(master_key=b64(NEW), master_key_previous=previous)


def test_the_console_opens_what_the_previous_key_sealed_and_seals_with_the_new_one() -> None:
    sealed_before = Sealer(OLD).seal("token", b"session")
    rotating = Sealer(NEW, OLD)
    assert rotating.open(sealed_before, b"session") == "token"
    sealed_now = rotating.seal("token2", b"session")
    assert Sealer(NEW).open(sealed_now, b"session") == "token2"
    with pytest.raises(InvalidTag):
        Sealer(OLD).open(sealed_now, b"session")
    with pytest.raises(InvalidTag):
        Sealer(NEW).open(sealed_before, b"session")
    with pytest.raises(InvalidTag):
        rotating.open(sealed_before, b"another session")

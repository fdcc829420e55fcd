"""The sealing of export answers on NATS: only the asker's key opens them, bound to the
service and the client they are for."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.privacy.export import open_answer, seal_answer

CLIENT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
DATA = {"client": {"given_name": "Marker-Anna", "email": "anna@example.org"}}


def public_b64(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_the_asker_opens_what_was_sealed_to_it() -> None:
    asker = X25519PrivateKey.generate()
    sealed = seal_answer(public_b64(asker), "planning", CLIENT, DATA)
    assert "Marker-Anna" not in json.dumps(sealed)
    assert open_answer(asker, sealed, "planning", CLIENT) == DATA


@pytest.mark.parametrize(
    "service, client", [("followup", CLIENT), ("planning", "00000000-0000-4000-8000-000000000001")]
)
def test_an_answer_does_not_open_for_another_service_or_client(service: str, client: str) -> None:
    asker = X25519PrivateKey.generate()
    sealed = seal_answer(public_b64(asker), "planning", CLIENT, DATA)
    with pytest.raises(ValueError):
        open_answer(asker, sealed, service, client)


def test_another_key_or_a_changed_byte_does_not_open() -> None:
    asker, eavesdropper = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    sealed = seal_answer(public_b64(asker), "planning", CLIENT, DATA)
    with pytest.raises(ValueError):
        open_answer(eavesdropper, sealed, "planning", CLIENT)
    blob = bytearray(base64.b64decode(sealed["ct"]))
    blob[-1] ^= 1
    tampered = {**sealed, "ct": base64.b64encode(bytes(blob)).decode()}
    with pytest.raises(ValueError):
        open_answer(asker, tampered, "planning", CLIENT)
    with pytest.raises(ValueError):
        open_answer(asker, {"nonsense": True}, "planning", CLIENT)

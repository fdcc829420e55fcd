"""The arithmetic of the audit trail, with no I/O: links of the hash chain and signed
checkpoints. The service, `verify` and the offline check of an exported bundle all
use these functions, so they agree by construction.

A link covers what is stored, not what it means: the notification's position, the
originator id and version, the topic and the SHA-256 of the stored `state` bytes
(ciphertext for sealed personal fields). So the chain still verifies after a client's
key is destroyed, and nothing personal is needed to check it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GENESIS = bytes(32)
ALGORITHM = "Ed25519"
# position (int8), originator id (16 bytes), originator version (int8), topic length
# (int4), then the topic's UTF-8 bytes and the 32-byte digest of the stored state:
# exactly what PostgreSQL's int8send/uuid_send/int4send produce (see verify.py).
_FIXED = struct.Struct(">q16sqi")


def state_digest(state: bytes | None) -> bytes:
    return hashlib.sha256(state or b"").digest()


def link_payload(
    position: int,
    originator_id: uuid.UUID | str,
    originator_version: int,
    topic: str,
    digest: bytes,
) -> bytes:
    """The canonical bytes of one stored notification, as a link covers it."""
    oid = originator_id if isinstance(originator_id, uuid.UUID) else uuid.UUID(originator_id)
    name = topic.encode()
    return _FIXED.pack(position, oid.bytes, originator_version, len(name)) + name + digest


def link_hash(prev_hash: bytes, payload: bytes) -> bytes:
    """sha256(prev_hash || payload): the link that follows `prev_hash`."""
    return hashlib.sha256(prev_hash + payload).digest()


def canonical_json(data: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a signature covers."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain of `service` (in `store`) had `hash` at `position`."""

    service: str
    store: str
    position: int
    hash: bytes
    signed_at: datetime
    signature: bytes

    def payload(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "store": self.store,
            "position": self.position,
            "hash": self.hash.hex(),
            "signed_at": self.signed_at.isoformat(),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.payload(), "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            service=str(data["service"]),
            store=str(data["store"]),
            position=int(data["position"]),
            hash=bytes.fromhex(data["hash"]),
            signed_at=datetime.fromisoformat(data["signed_at"]),
            signature=base64.b64decode(data["signature"]),
        )

    def verifies(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, canonical_json(self.payload()))
        except InvalidSignature:
            return False
        return True


class Signer:
    """Signs checkpoints with the Ed25519 key derived from the configured 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key()

    def sign(
        self, service: str, store: str, position: int, hash_: bytes, at: datetime
    ) -> Checkpoint:
        unsigned = Checkpoint(service, store, position, hash_, at, b"")
        signature = self._key.sign(canonical_json(unsigned.payload()))
        return Checkpoint(service, store, position, hash_, at, signature)

    def public_key_json(self) -> dict[str, str]:
        return public_key_json(self.public_key)


def public_key_json(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(raw).decode(),
        "key_id": hashlib.sha256(raw).hexdigest()[:16],
    }


def load_public_key(data: dict[str, Any]) -> Ed25519PublicKey:
    if data.get("algorithm", ALGORITHM) != ALGORITHM:
        raise ValueError(f"unsupported algorithm {data.get('algorithm')!r}")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(data["public_key"]))

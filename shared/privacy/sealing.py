"""Sealing of personal event fields with the client's data key, inside the Mapper.

The domain never sees ciphertext: the mapper seals the declared personal fields of an
event as it is stored and opens them as it is read. Each ciphertext is bound to its
event and field by AES-GCM associated data, so it cannot be moved to another event.
The relay publishes the stored (sealed) form, so no plaintext reaches NATS.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from shared.contracts import Sealed, as_published
from shared.privacy.keyvault import ERASED, KeyVault

SEALED_TAG = "$sealed"
ALGORITHM = "A256GCM"
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a52-3f5e-4b7e-9a51-2b1b9d6e0c11")


def event_id(originator_id: uuid.UUID | str, originator_version: int) -> uuid.UUID:
    """The stable id of a stored event: the CloudEvents id and the Nats-Msg-Id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{originator_version}")


@dataclass(frozen=True)
class PersonalFields:
    """Which fields of an event class are personal, and whose (the field naming the client)."""

    fields: tuple[str, ...]
    subject: str = "originator_id"


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and SEALED_TAG in value


def _aad(event: uuid.UUID, field: str) -> bytes:
    return f"{event}|{field}".encode()


def seal_value(
    key: bytes, client_id: uuid.UUID, plaintext: bytes, event: uuid.UUID, field: str
) -> dict[str, str]:
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, plaintext, _aad(event, field))
    return {
        SEALED_TAG: ALGORITHM,
        "kid": str(client_id),
        "ct": base64.b64encode(nonce + ct).decode(),
    }


def open_sealed(
    vault: KeyVault, sealed: Mapping[str, Any], event: uuid.UUID, field: str
) -> bytes | None:
    """The plaintext bytes of a sealed value, or None when the client's key is gone."""
    return open_with_key(vault.key_for(uuid.UUID(sealed["kid"])), sealed, event, field)


def open_with_key(
    key: bytes | None, sealed: Mapping[str, Any], event: uuid.UUID, field: str
) -> bytes | None:
    """`open_sealed` with the client's key at hand (None: the key is gone)."""
    if key is None:
        return None
    blob = base64.b64decode(sealed["ct"])
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], _aad(event, field))
    except InvalidTag as e:
        raise ValueError(f"sealed field {field!r} does not belong to event {event}") from e


class SealingMapper(Mapper[uuid.UUID]):
    """An eventsourcing Mapper that seals personal fields per client."""

    def __init__(
        self,
        transcoder: Transcoder,
        vault: KeyVault,
        personal: Mapping[type, PersonalFields],
    ) -> None:
        super().__init__(transcoder)
        self.vault = vault
        self.personal = dict(personal)

    def to_stored_event(self, domain_event: DomainEventProtocol[uuid.UUID]) -> StoredEvent:
        spec = self.personal.get(type(domain_event))
        if spec is None:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        client_id = _as_uuid(state[spec.subject])
        eid = event_id(state["originator_id"], state["originator_version"])
        key = self.vault.key_for(client_id, create=True)
        for field in spec.fields:
            value = state.get(field)
            if value is None or is_sealed(value) or value == ERASED:
                continue
            if key is None:
                # The client is erased: nothing personal may be stored for them again.
                state[field] = ERASED
                continue
            plaintext = self.transcoder.encode({"v": value})
            state[field] = seal_value(key, client_id, plaintext, eid, field)
        shadow = object.__new__(type(domain_event))
        object.__setattr__(shadow, "__dict__", state)
        return super().to_stored_event(shadow)

    def prepare_keys(self, events: Sequence[Any]) -> None:
        """Create (or cache) the data keys these events will be sealed with."""
        for event in events:
            spec = self.personal.get(type(event))
            if spec is not None:
                self.vault.key_for(_as_uuid(getattr(event, spec.subject)), create=True)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[uuid.UUID]:
        domain_event = super().to_domain_event(stored_event)
        spec = self.personal.get(type(domain_event))
        if spec is not None:
            state = domain_event.__dict__
            eid = event_id(stored_event.originator_id, stored_event.originator_version)
            for field in spec.fields:
                value = state.get(field)
                if value is not None and is_sealed(value):
                    state[field] = self.open_field(value, eid, field)
        return domain_event

    def domain_event_of(
        self,
        stored_event: StoredEvent,
        state: Mapping[str, Any],
        keys: Mapping[str, bytes | None],
    ) -> DomainEventProtocol[uuid.UUID]:
        """`to_domain_event` of a stored event whose state is decoded already
        (`decode_state`, left as it is), its personal fields opened with `keys` (the
        clients' keys by their `kid`, fetched for a whole batch: `KeyVault.keys_for`)."""
        cls = resolve_topic(stored_event.topic)
        event_state = dict(state)
        spec = self.personal.get(cls)
        if spec is not None:
            eid = event_id(stored_event.originator_id, stored_event.originator_version)
            for field in spec.fields:
                value = event_state.get(field)
                if value is not None and is_sealed(value):
                    plaintext = open_with_key(keys.get(value["kid"]), value, eid, field)
                    event_state[field] = (
                        ERASED
                        if plaintext is None
                        else cast(dict[str, Any], self.transcoder.decode(plaintext))["v"]
                    )
        # As the library's Mapper: the id as the class takes it, the version, upcasting.
        convert = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        event_state["originator_id"] = convert(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return cast(DomainEventProtocol[uuid.UUID], domain_event)

    def open_field(self, sealed: Mapping[str, Any], event: uuid.UUID, field: str) -> Any:
        plaintext = open_sealed(self.vault, sealed, event, field)
        if plaintext is None:
            return ERASED
        return cast(dict[str, Any], self.transcoder.decode(plaintext))["v"]

    def open_published(self, value: Any, event: uuid.UUID, field: str) -> Any:
        """A personal field of another service's contract (`Sealed`), opened with the
        client's key (`ERASED` once it is gone); the marker, or None, as published."""
        if not isinstance(value, Sealed):
            return value
        return self.open_field(as_published(value), event, field)

    def open_fields(self, items: Sequence[tuple[Any, uuid.UUID, str]]) -> list[Any]:
        """Open several stored values (value, event id, field) at once, their clients'
        keys fetched from the vault in one query: a sealed value opened (`ERASED` once
        its key is gone), any other value as it is."""
        kids = [uuid.UUID(v["kid"]) for v, _, _ in items if is_sealed(v)]
        keys = self.vault.keys_for(kids) if kids else {}
        opened: list[Any] = []
        for value, event, field in items:
            if not is_sealed(value):
                opened.append(value)
                continue
            plaintext = open_with_key(keys.get(uuid.UUID(value["kid"])), value, event, field)
            if plaintext is None:
                opened.append(ERASED)
            else:
                opened.append(cast(dict[str, Any], self.transcoder.decode(plaintext))["v"])
        return opened

    def decode_state(self, stored_event: StoredEvent) -> dict[str, Any]:
        """The stored state as data, personal fields left sealed (for the relay, audit and
        the projections): what `transcoder.decode` gives, a quarter sooner (its commonest
        types, times and uuids, made without the library's Transcoding calls)."""
        decoder = self._state_decoder
        if decoder is None:
            decoder = self._state_decoder = _state_decoder(self.transcoder)
        return cast(dict[str, Any], decoder(stored_event.state))

    _state_decoder: Callable[[bytes], Any] | None = None


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _state_decoder(transcoder: Transcoder) -> Callable[[bytes], Any]:
    """`transcoder.decode`, or for the library's JSONTranscoder the same JSON decoded with
    a hook that makes its own transcodings of datetimes and uuids directly (the others,
    and a name not registered, through the transcoder's hook as before)."""
    if not isinstance(transcoder, JSONTranscoder):
        return transcoder.decode
    direct: dict[str, Callable[[str], Any]] = {}
    for name, transcoding in transcoder.names.items():
        if type(transcoding) is DatetimeAsISO:
            direct[name] = datetime.fromisoformat
        elif type(transcoding) is UUIDAsHex:
            direct[name] = _uuid_of_hex
    library_hook = transcoder._decode_obj

    def hook(d: dict[str, Any]) -> Any:
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            make = direct.get(d["_type_"])
            return make(d["_data_"]) if make is not None else library_hook(d)
        return d

    decoder = json.JSONDecoder(object_hook=hook)

    def decode(data: bytes) -> Any:
        return decoder.decode(data.decode("utf8"))

    return decode


def _uuid_of_hex(data: str) -> uuid.UUID:
    return uuid.UUID(hex=data)

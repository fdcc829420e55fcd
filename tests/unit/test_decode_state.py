"""The projections' decoding of stored events (`SealingMapper.decode_state` and
`domain_event_of`) gives what the library's transcoder and mapper give."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from eventsourcing.persistence import StoredEvent, TranscodingNotRegisteredError

from services.intake.application import IntakeApplication
from shared.privacy import ERASED
from shared.privacy.sealing import is_sealed


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


def stored(state: bytes) -> StoredEvent:
    return StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="x", state=state)


def test_a_state_decodes_as_the_transcoder_decodes_it(intake: IntakeApplication) -> None:
    transcoder = intake.sealing.transcoder
    state = transcoder.encode(
        {
            "timestamp": datetime(2026, 11, 30, 12, 0, 1, 5, tzinfo=UTC),
            "client_id": uuid.uuid4(),
            "deadline": date(2026, 12, 14),
            "scores": {"a": {"x": 1}, "b": [1, {"_type_": "plain", "other": 2}]},
            "ids": [uuid.uuid4(), {"nested": uuid.uuid4()}],
            "pair": {"_type_": "a", "_data_x": 1},
        }
    )
    assert intake.sealing.decode_state(stored(state)) == transcoder.decode(state)


def test_a_type_not_registered_is_refused_as_the_transcoder_refuses_it(
    intake: IntakeApplication,
) -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        intake.sealing.decode_state(stored(b'{"a":{"_type_":"nope","_data_":1}}'))


def test_an_event_made_from_its_decoded_state_is_the_mappers(intake: IntakeApplication) -> None:
    kept = intake.register_client(
        organisation="org-a", actor="c.jansen", given_name="Lotte", family_name="Maes",
        birth_date=date(1990, 4, 2), email="lotte@example.org",
    )  # fmt: skip
    gone = intake.register_client(
        organisation="org-a", actor="c.jansen", given_name="Bram", family_name="Peeters",
        birth_date=date(1985, 1, 9), email="bram@example.org",
    )  # fmt: skip
    intake.sealing.vault.destroy(gone, by="test", reason="test")
    sealing = intake.sealing
    made_events = 0
    for n in intake.recorder.select_notifications(start=1, limit=10):
        if n.originator_id not in (kept, gone) or n.originator_version != 1:
            continue
        state = sealing.decode_state(n)
        kids = {v["kid"] for v in state.values() if is_sealed(v)}
        keys = {kid: sealing.vault.key_for(uuid.UUID(kid)) for kid in kids}
        made = sealing.domain_event_of(n, state, keys)
        assert vars(made) == vars(sealing.to_domain_event(n))
        assert type(made) is type(sealing.to_domain_event(n))
        assert state == sealing.decode_state(n)  # left as it was
        assert made.given_name == ("Lotte" if n.originator_id == kept else ERASED)  # type: ignore[attr-defined]
        made_events += 1
    assert made_events == 2

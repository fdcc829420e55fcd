"""Per-client sealing on the real PostgreSQL: plaintext never stored, erasure by key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import psycopg
import pytest
from cryptography.exceptions import InvalidTag

from services.intake.application import IntakeApplication
from services.intake.domain import Case, Client
from shared.privacy import ERASED, KeyVault
from shared.privacy.sealing import event_id, open_sealed
from shared.runtime import key_vault
from shared.settings import Settings


class SealingTestApp(IntakeApplication):
    name = "sealingtest"


@pytest.fixture(scope="module")
def vault(settings: Settings) -> KeyVault:
    return key_vault(settings)


@pytest.fixture(scope="module")
def app(settings: Settings, vault: KeyVault) -> Iterator[SealingTestApp]:
    application = SealingTestApp(settings, vault)
    yield application
    application.close()


def register(app: IntakeApplication, given: str, email: str) -> uuid.UUID:
    client_id = app.register_client(
        organisation="org-a",
        actor="tester",
        given_name=given,
        family_name="Vermeulen",
        birth_date=date(1984, 5, 6),
        email=email,
        phone="+32 470 12 34 56",
    )
    app.record_consent(
        client_id, organisation="org-a", actor="tester", purpose="guidance", granted=True
    )
    return client_id


def stored_states(settings: Settings, table: str) -> list[bytes]:
    with psycopg.connect(settings.pg.dsn()) as conn:
        return [bytes(r[0]) for r in conn.execute(f"SELECT state FROM {table}").fetchall()]


def test_personal_fields_are_never_stored_in_plaintext(app: SealingTestApp, settings: Settings):
    given, email = f"Zoë-{uuid.uuid4().hex[:6]}", f"{uuid.uuid4().hex[:8]}@example.org"
    client_id = register(app, given, email)
    app.open_case(
        client_id=client_id, organisation="org-a", actor="tester", career_question="Secret plan X"
    )
    states = stored_states(settings, "sealingtest.sealingtest_events")
    blob = b"\n".join(states)
    for plaintext in (given, email, "Vermeulen", "1984-05-06", "470 12 34", "Secret plan X"):
        assert plaintext.encode() not in blob, plaintext
    assert b"$sealed" in blob
    # ...and they read back as plaintext through the application.
    client = app.client(client_id, "org-a")
    assert (client.given_name, client.email, client.birth_date) == (given, email, date(1984, 5, 6))


def test_after_the_key_is_destroyed_the_fields_read_erased_and_aggregates_still_load(
    app: SealingTestApp, settings: Settings, vault: KeyVault
):
    client_id = register(app, "Erik", "erik@example.org")
    case_id = app.open_case(
        client_id=client_id, organisation="org-a", actor="tester", career_question="Become a baker"
    )
    assert vault.destroy(client_id, by="tester", reason="erasure request") is True

    # A fresh application (another process, say) and this one both read ERASED.
    other = SealingTestApp(settings, KeyVault(settings.pg.dsn(), settings.master_key_bytes))
    try:
        for application in (app, other):
            client = application.repository.get(client_id)
            assert isinstance(client, Client)
            assert client.given_name == ERASED
            assert client.email == ERASED
            assert client.birth_date == ERASED
            assert client.organisation == "org-a"  # non-personal facts stay
            assert client.has_consent("guidance")
            case = application.repository.get(case_id)
            assert isinstance(case, Case)
            assert case.career_question == ERASED
            assert case.client_id == client_id
    finally:
        other.close()
    # Destroying twice is harmless; the key stays gone.
    assert vault.destroy(client_id, by="tester", reason="again") is False
    assert vault.key_for(client_id, create=True) is None


def test_events_saved_for_an_erased_client_store_the_erased_marker_not_plaintext(
    app: SealingTestApp, settings: Settings, vault: KeyVault
):
    client_id = register(app, "Fenna", "fenna@example.org")
    vault.destroy(client_id, by="tester", reason="erasure")
    client = app.repository.get(client_id)
    case = Case.open(
        case_id=uuid.uuid4(),
        client=client,
        organisation="org-a",
        career_question="Late secret question",
        hours_budget=10,
        actor="tester",
        at=app.clock(),
    )
    app.save(case)
    blob = b"\n".join(stored_states(settings, "sealingtest.sealingtest_events"))
    assert b"Late secret question" not in blob
    assert app.repository.get(case.id).career_question == ERASED


def test_a_sealed_value_cannot_be_opened_as_part_of_another_event(
    app: SealingTestApp, vault: KeyVault
):
    client_id = register(app, "Gert", "gert@example.org")
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    registered = next(
        n for n in notifications if n.originator_id == client_id and n.originator_version == 1
    )
    state = app.sealing.decode_state(registered)
    sealed = state["given_name"]
    own = event_id(client_id, 1)
    assert open_sealed(vault, sealed, own, "given_name") == app.sealing.transcoder.encode(
        {"v": "Gert"}
    )
    with pytest.raises(ValueError):
        open_sealed(vault, sealed, event_id(client_id, 2), "given_name")
    with pytest.raises(ValueError):
        open_sealed(vault, sealed, own, "family_name")


def test_concurrent_first_seals_agree_on_one_key(vault: KeyVault):
    client_id = uuid.uuid4()
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: vault.key_for(client_id, create=True), range(16)))
    assert len(set(keys)) == 1 and keys[0] is not None and len(keys[0]) == 32


def test_keys_are_stored_wrapped_by_the_master_key(vault: KeyVault, settings: Settings):
    client_id = uuid.uuid4()
    key = vault.key_for(client_id, create=True)
    assert key is not None
    with psycopg.connect(settings.pg.dsn()) as conn:
        wrapped = conn.execute(
            "SELECT wrapped_key FROM vault.client_keys WHERE client_id = %s", (client_id,)
        ).fetchone()[0]
    assert key not in bytes(wrapped)
    wrong = KeyVault(settings.pg.dsn(), b"\x01" * 32)
    try:
        with pytest.raises(InvalidTag):
            wrong.key_for(client_id)
    finally:
        wrong.close()


def test_a_page_of_sealed_values_opens_with_one_vault_query_and_an_erased_one_reads_erased(
    app: SealingTestApp, settings: Settings
) -> None:
    """`open_fields`: the case list opens its page's career questions with the keys of
    its clients fetched at once (`keys_for`); a destroyed key reads `ERASED`."""
    kept = register(app, "Kept", "kept@example.org")
    gone = register(app, "Gone", "gone@example.org")
    items = []
    for client_id, text in ((kept, "Into teaching?"), (gone, "Into nursing?")):
        case_id = app.open_case(
            client_id=client_id, organisation="org-a", actor="c-1", career_question=text
        )
        [stored] = app.recorder.select_events(case_id)
        sealed = app.sealing.decode_state(stored)["career_question"]
        items.append((sealed, event_id(case_id, 1), "career_question"))
    app.vault.destroy(gone, by="tester", reason="test")
    # Another vault (no cache): exactly one query for the page's keys.
    fresh = KeyVault(settings.pg.dsn(), settings.master_key_bytes, cache_seconds=60)
    try:
        queries = 0
        real = fresh._pool.connection

        def counted() -> Any:
            nonlocal queries
            queries += 1
            return real()

        fresh._pool.connection = counted  # type: ignore[method-assign]
        keys = fresh.keys_for([kept, gone, uuid.uuid4()])
        assert queries == 1
        assert keys[kept] is not None and keys[gone] is None and len(keys) == 3
        mapper = type(app.sealing)(app.sealing.transcoder, fresh, app.sealing.personal)
        assert mapper.open_fields([*items, ("plain", uuid.uuid4(), "x")]) == [
            "Into teaching?",
            ERASED,
            "plain",
        ]
        assert queries == 1, "the second page finds the keys cached"
    finally:
        fresh.close()

"""A service's application on the library's in-memory persistence: its use cases and the
sealing of personal fields run as on PostgreSQL, so use cases and reactions can be unit
tested without a database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from services.intake.application import IntakeApplication
from shared.errors import NotFound
from shared.privacy import ERASED


@pytest.fixture
def intake() -> Iterator[IntakeApplication]:
    app = IntakeApplication.in_memory()
    yield app
    app.close()


def register(app: IntakeApplication) -> uuid.UUID:
    return app.register_client(
        organisation="org-a",
        actor="c.jansen",
        given_name="Lotte",
        family_name="Maes",
        birth_date=date(1990, 4, 2),
        email="lotte@example.org",
    )


def test_a_use_case_runs_and_its_personal_fields_are_stored_sealed(
    intake: IntakeApplication,
) -> None:
    client_id = register(intake)
    assert intake.client(client_id, "org-a").given_name == "Lotte"
    stored = list(intake.recorder.select_events(client_id))
    assert stored and b"Lotte" not in stored[0].state and b"$sealed" in stored[0].state


def test_another_organisation_does_not_find_the_client(intake: IntakeApplication) -> None:
    client_id = register(intake)
    with pytest.raises(NotFound):
        intake.client(client_id, "org-b")


def test_destroying_the_key_erases_the_client_in_memory_too(intake: IntakeApplication) -> None:
    client_id = register(intake)
    assert intake.vault.destroy(client_id, by="c.jansen", reason="asked")
    assert not intake.vault.destroy(client_id, by="c.jansen", reason="asked again")
    loaded = intake.repository.get(client_id)
    assert loaded.given_name == ERASED
    destruction = intake.vault.destruction(client_id)
    assert destruction is not None and destruction["reason"] == "asked"

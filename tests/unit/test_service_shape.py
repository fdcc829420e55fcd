"""The pieces every service is composed of: reactions by contract class, the projection's
handler table, and the one command dependency."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError

from shared.auth import Counsellor
from shared.commands import Command, command_on
from shared.contracts.followup import FollowUpClosedV1
from shared.contracts.intake import ConsentGrantedV1, ConsentWithdrawnV1
from shared.messaging.envelope import CloudEvent
from shared.messaging.projection import Handler, Projection, Stored
from shared.messaging.reactions import _by_type, contract_of, source_of

CLIENT, CONSENT = uuid.uuid4(), uuid.uuid4()


def envelope(event_type: str, data: dict[str, object], version: int = 1) -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4(),
        source="/guidance/intake",
        type=f"guidance.intake.{event_type}.v{version}",
        subject=str(CLIENT),
        time=datetime.now(UTC),
        data=data,
    )


def consent_data(**extra: object) -> dict[str, object]:
    return {
        "occurred_at": "2026-11-30T09:00:00+00:00",
        "actor": "c.jansen",
        "client_id": str(CLIENT),
        "organisation": "org-a",
        "consent_id": str(CONSENT),
        "purpose": "statistics",
        **extra,
    }


def withdrawn(contract: object, event: CloudEvent) -> str:
    return "withdrawn"


def granted(contract: object, event: CloudEvent) -> str:
    return "granted"


TABLE = _by_type({ConsentWithdrawnV1: withdrawn, ConsentGrantedV1: granted})


def test_a_reaction_is_handed_the_event_as_its_contract() -> None:
    found = contract_of(TABLE, envelope("ConsentWithdrawn", consent_data()))
    assert found is not None
    contract, handler = found
    assert isinstance(contract, ConsentWithdrawnV1)
    assert contract.consent_id == CONSENT and contract.purpose == "statistics"
    assert handler is withdrawn


def test_an_event_type_no_handler_names_is_not_read() -> None:
    assert contract_of(TABLE, envelope("CaseOpened", {"case_id": str(uuid.uuid4())})) is None


def test_a_version_no_handler_names_is_skipped_not_guessed() -> None:
    assert contract_of(TABLE, envelope("ConsentWithdrawn", consent_data(), version=2)) is None


def test_data_that_does_not_fit_its_contract_fails_so_it_becomes_a_dead_letter() -> None:
    with pytest.raises(ValidationError):
        contract_of(TABLE, envelope("ConsentWithdrawn", consent_data(purpose="gossip")))


def test_one_consumer_reads_one_service() -> None:
    assert source_of([ConsentGrantedV1, ConsentWithdrawnV1]) == "intake"
    with pytest.raises(ValueError, match="one service"):
        source_of([ConsentGrantedV1, FollowUpClosedV1])


class Base:
    pass


class Opened(Base):
    pass


class Renamed(Base):
    pass


class Other:
    pass


async def on_opened(conn: object, event: Stored) -> None:
    return None


async def on_any(conn: object, event: Stored) -> None:
    return None


class Example(Projection):
    handlers: ClassVar[Mapping[type, Handler]] = {Opened: on_opened, Base: on_any}


def test_a_projection_finds_the_handler_of_the_class_then_of_its_base() -> None:
    assert Example.handler_for(Opened) is on_opened
    assert Example.handler_for(Renamed) is on_any
    assert Example.handler_for(Other) is None


CaseCommand = Annotated[Command[Any], command_on(Counsellor, "case_id", lambda app, key, who: key)]


def test_a_command_route_takes_its_aggregate_from_the_path_and_the_version_from_if_match() -> None:
    router = APIRouter()

    @router.post("/cases/{case_id}/accept")
    async def accept(cmd: CaseCommand) -> dict[str, str]:
        assert isinstance(cmd, Command)
        return {}

    app = FastAPI()
    app.include_router(router)
    operation = app.openapi()["paths"]["/cases/{case_id}/accept"]["post"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert parameters[("path", "case_id")]["schema"]["format"] == "uuid"
    assert parameters[("header", "If-Match")]["required"] is False

"""Which errors count against an event (toward a dead letter) and which are outages."""

from __future__ import annotations

import asyncpg
import nats.errors
import psycopg
import pytest
from eventsourcing import persistence

from shared.messaging.deadletters import describe, is_transient


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        persistence.OperationalError("server closed the connection unexpectedly"),
        psycopg.OperationalError("consuming input failed"),
        nats.errors.ConnectionClosedError(),
        nats.errors.NoServersError(),
    ],
)
def test_a_connection_or_server_state_error_is_an_outage_not_the_events_fault(
    error: BaseException,
) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CharacterNotInRepertoireError(
            'invalid byte sequence for encoding "UTF8": 0x00'
        ),
        asyncpg.exceptions.NotNullViolationError("null value in column"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        persistence.DataError("invalid input"),
        KeyError("case_id"),
        ValueError("bad"),
        TypeError("bad"),
    ],
)
def test_an_error_of_the_event_or_its_handler_counts_against_the_event(
    error: BaseException,
) -> None:
    assert not is_transient(error)


def test_a_stored_error_names_its_type_and_is_bounded() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert len(describe(ValueError("x" * 10_000))) == 2000

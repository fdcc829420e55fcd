"""The base of every service's eventsourcing Application: PostgreSQL, own schema, sealing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Recording,
    Transcoding,
)
from eventsourcing.postgres import PostgresProcessRecorder
from psycopg.sql import SQL, Identifier

from shared.errors import NotFound, VersionConflict
from shared.groupcommit import GroupCommit
from shared.privacy import KeyVault, PersonalFields, SealingMapper
from shared.settings import Settings

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@contextmanager
def schema_lock(settings: Settings, schema: str) -> Iterator[None]:
    """The service's schema exists, and no other process creates tables in it meanwhile
    (the library's CREATE TABLE IF NOT EXISTS races when replicas start together)."""
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7420002)")
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(7420002)")


def store_env(settings: Settings, schema: str) -> dict[str, str]:
    pg = settings.pg
    background = settings.role in ("worker", "relay")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": pg.dbname,
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_SCHEMA": schema,
        # A worker's or relay's store takes few commands (consumers' reactions, jobs):
        # a small pool.
        "POSTGRES_POOL_SIZE": str(1 if background else settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(
            min(settings.db_max_overflow, 5) if background else settings.db_max_overflow
        ),
        "POSTGRES_LOCK_TIMEOUT": "5",
        # No ping per checkout (a round trip each); the library retries a save or
        # read that meets a broken connection.
        "POSTGRES_PRE_PING": "n",
        "CREATE_TABLE": "y",
        # Consumers track the positions of other services' logs, in any order.
        "SINGLE_ROW_TRACKING": "n",
        "PROCESS_RECORDER_TOPIC": "shared.eventstore:BatchTrackingRecorder",
    }


class BatchTrackingRecorder(PostgresProcessRecorder):
    """The library's process recorder, which can also record several tracking positions
    (`trackings=[...]`) in the transaction of the events: a consumer's whole batch."""

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)
        super()._insert_events(curs, stored_events, **kwargs)

    def tracked(self, application_name: str, positions: list[int]) -> set[int]:
        """Which of these positions were processed (exactly, not "up to")."""
        statement = SQL(
            "SELECT notification_id FROM {schema}.{table} "
            "WHERE application_name = %s AND notification_id = ANY(%s)"
        ).format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.tracking_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (application_name, positions))
            return {int(row["notification_id"]) for row in curs.fetchall()}


class ServiceApplication(Application[uuid.UUID]):
    """An Application whose personal event fields are sealed per client.

    Subclasses name their personal fields in `personal_data`; the domain stays unaware.
    """

    personal_data: ClassVar[Mapping[type, PersonalFields]] = {}
    clock: Callable[[], datetime] = staticmethod(utcnow)

    def __init__(
        self, settings: Settings, vault: KeyVault, env: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.vault = vault
        self._listeners: list[Callable[[list[Recording[uuid.UUID]]], None]] = []
        self._listeners_lock = threading.Lock()
        self._local = threading.local()
        schema = self.name.lower()
        full_env = store_env(settings, schema)
        full_env.update(env or {})
        with schema_lock(settings, schema):
            super().__init__(env=full_env)
        self._group: GroupCommit | None = (
            GroupCommit(super().save, name=self.name) if settings.group_commit else None
        )

    def close(self) -> None:
        if getattr(self, "_group", None) is not None:
            assert self._group is not None
            self._group.close()
            self._group = None
        super().close()

    def construct_env(self, name: str, env: Any = None) -> Any:
        # Only our settings configure the store: a stray POSTGRES_* in the process
        # environment must not redirect it.
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_recorder(self) -> Any:
        # A process recorder stores events and tracking records in one transaction.
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return SealingMapper(self.construct_transcoder(), self.vault, self.personal_data)

    @property
    def process_recorder(self) -> BatchTrackingRecorder:
        assert isinstance(self.recorder, BatchTrackingRecorder)
        return self.recorder

    @property
    def sealing(self) -> SealingMapper:
        assert isinstance(self.mapper, SealingMapper)
        return self.mapper

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """Save through the group commit: concurrent saves share one transaction."""
        if kwargs or self._group is None:
            recordings = super().save(*objs, **kwargs)
        else:
            events = [
                e
                for obj in objs
                if obj is not None
                for e in (obj.collect_events() if isinstance(obj, Aggregate) else [obj])
            ]
            if not events:
                return []
            # Create or fetch the data keys here, outside the committer's critical path.
            self.sealing.prepare_keys(events)
            recordings = self._group.save(events)
        if recordings:
            self._local.position = recordings[-1].notification.id
        return recordings

    def last_position(self) -> int:
        """The log position of the last save made by this thread (0 if none)."""
        return int(getattr(self._local, "position", 0))

    def on_saved(self, listener: Callable[[list[Recording[uuid.UUID]]], None]) -> None:
        """Call `listener` after each commit (used to wake the relay and projections)."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[uuid.UUID]]) -> None:
        for listener in list(self._listeners):
            listener(recordings)

    def change(
        self,
        load: Callable[[], A],
        expected_version: int | None,
        command: Callable[[A, datetime], R],
    ) -> tuple[R, A]:
        """One command: load, check `If-Match`, apply, save; the result and the aggregate.

        Without `If-Match` the caller asked for no particular version, so a race with
        another writer (often another service's event being applied) is retried."""
        for attempt in range(3):
            aggregate = load()
            if expected_version is not None and aggregate.version != expected_version:
                raise VersionConflict(
                    f"It is at version {aggregate.version}, not {expected_version}; "
                    "reload and retry."
                )
            result = command(aggregate, self.clock())
            try:
                self.save(aggregate)
            except IntegrityError:
                if expected_version is not None or attempt == 2:
                    raise
                continue
            return result, aggregate
        raise AssertionError("unreachable")

    def load(self, cls: type[A], aggregate_id: uuid.UUID, expected_version: int | None = None) -> A:
        """Load an aggregate of the given class, checking `If-Match` when given."""
        from eventsourcing.application import AggregateNotFoundError

        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"No {cls.__name__.lower()} {aggregate_id}.") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"No {cls.__name__.lower()} {aggregate_id}.")
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflict(
                f"The {cls.__name__.lower()} is at version {aggregate.version}, "
                f"not {expected_version}; reload and retry."
            )
        return aggregate

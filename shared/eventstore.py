"""The base of every service's eventsourcing Application: PostgreSQL, own schema, sealing."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Self, TypeVar

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    Notification,
    OperationalError,
    PersistenceError,
    Recording,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from shared import idempotency
from shared.errors import NotFound, VersionConflict
from shared.groupcommit import GroupCommit
from shared.privacy import KeyVault, PersonalFields, SealingMapper
from shared.privacy.keyvault import MemoryKeyVault
from shared.settings import Settings

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")
log = logging.getLogger(__name__)
# A command's idempotency key and the (aggregate id, version) of the events it saves (None:
# every event of the insert), as handed to the recorder in `commands=[...]`.
Command = tuple[idempotency.CommandMarker, list[tuple[str, int]] | None]
# The library's in-memory persistence ("plain old Python objects").
MEMORY = "eventsourcing.popo"


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
    """The library's process recorder, which also

    - records several tracking positions (`trackings=[...]`) in the transaction of the
      events: a consumer's whole batch;
    - writes the commit marker of idempotent HTTP commands (`commands=[...]`, see
      `shared/idempotency.py`) in that same transaction;
    - tells a retry of its own insert from another writer's. The library retries an
      insert that meets a broken connection; when the break came after the COMMIT, the
      retry meets its own rows and a unique violation, which callers take for a race
      with another writer and answer by running the command again (issue #11). So when
      an insert that was retried ends in IntegrityError, the rows at those positions
      are read back: if they hold exactly our topics and state bytes (and the tracking
      records exist), the first attempt committed, and their notification ids are
      returned as if it had answered.

    Why equal bytes prove the rows ours: personal fields are sealed with a random
    96-bit nonce, and every event's state carries its timestamp to the microsecond. An
    unsealed event written by another writer would have to be the same event class of
    the same aggregate at the same version with the same fields, created in the same
    microsecond; and the check runs only after a connection failure of our own insert
    (an IntegrityError at the first attempt is always another writer's). Even then the
    store would hold exactly what this command meant to write.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = self.datastore.schema
        self.sql_create_statements.extend(idempotency.ddl(schema))
        self._commit_command = idempotency.commit_statement(schema)
        self._attempts = threading.local()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._attempts.count = 0
        try:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        except IntegrityError:
            if self._attempts.count < 2:
                raise
            earlier: list[int] | None = self.committed_before(stored_events, _trackings(kwargs))
            if earlier is None:
                raise
            log.info(
                "%s: a retried insert of %d events found them committed by its first "
                "attempt (the connection broke after COMMIT); not applied again",
                self.datastore.schema,
                len(stored_events),
            )
            return earlier
        except PersistenceError as e:
            # The marker's function refused: a retry took the key over (see idempotency).
            if idempotency.NOT_HELD in str(e):
                raise idempotency.KeyTaken(
                    "This request outlived its Idempotency-Key's lease and a retry took "
                    "the key over; nothing was changed by it.",
                    headers={"Retry-After": "1"},
                ) from e
            raise
        return ids

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        # An attempt reached the database (the first, or a retry after a broken connection).
        self._attempts.count = getattr(self._attempts, "count", 0) + 1
        # No server-side prepared statements on a connection that writes: a statement that
        # fails in the insert's pipeline (a conflicting tracking record, a key taken over)
        # makes the server skip the PREPARE of the statements after it, while psycopg
        # counts them as prepared, and the connection's next use of one of them fails
        # ("prepared statement _pg3_2 does not exist", a 500).
        curs.connection.prepare_threshold = None
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)
        commands: list[Command] = kwargs.get("commands", ())
        for marker, written in commands:
            pairs = (
                written
                if written is not None
                else [(str(e.originator_id), e.originator_version) for e in stored_events]
            )
            # With the ids the request made and the command's result, so that a retry
            # after a lost answer can tell the caller what the first answer would have.
            outcome = [[aggregate, version, marker.outcome()] for aggregate, version in pairs]
            curs.execute(self._commit_command, (marker.scope, marker.holder, Jsonb(outcome)))
        super()._insert_events(curs, stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def committed_before(
        self, stored_events: Sequence[StoredEvent], trackings: Sequence[Tracking]
    ) -> list[int] | None:
        """The notification ids of these events if the store holds exactly them (and
        these tracking records), as a committed earlier attempt of ours left them; else
        None. Read in a connection of its own (the failed one is gone)."""
        if not stored_events:
            # Nothing of ours to recognise: tracking records alone may be another
            # consumer's, whose caller handles that as "already processed".
            return None
        statement = SQL(
            "SELECT t.originator_id, t.originator_version, t.topic, t.state, "
            "t.notification_id FROM {schema}.{table} t "
            "JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, version) "
            "ON t.originator_id = k.id AND t.originator_version = k.version"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                statement,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                ),
            )
            found = {
                (str(row["originator_id"]), int(row["originator_version"])): row
                for row in curs.fetchall()
            }
        ids: list[int] = []
        for event in stored_events:
            row = found.get((str(event.originator_id), event.originator_version))
            if row is None or row["topic"] != event.topic or bytes(row["state"]) != event.state:
                return None
            ids.append(int(row["notification_id"]))
        by_name: dict[str, list[int]] = {}
        for tracking in trackings:
            by_name.setdefault(tracking.application_name, []).append(tracking.notification_id)
        for name, positions in by_name.items():
            if self.tracked(name, positions) != set(positions):
                return None
        return ids

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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def read_notifications(self, start: int, limit: int, stop: int) -> list[Notification]:
        """`select_notifications(start, limit, stop)` read for a bulk pass (the rebuild):
        binary rows as tuples, not dicts (the library's costs about twice the time)."""
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id >= %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(statement, (start, stop, limit), prepare=True)
            return [
                Notification(
                    id=nid, originator_id=oid, originator_version=version, topic=topic, state=state
                )
                for nid, oid, version, topic, state in curs.fetchall()
            ]


def _trackings(kwargs: Mapping[str, Any]) -> list[Tracking]:
    found = list(kwargs.get("trackings", ()))
    if kwargs.get("tracking") is not None:
        found.append(kwargs["tracking"])
    return found


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
        self._group: GroupCommit | None = None
        if (env or {}).get("PERSISTENCE_MODULE") == MEMORY:
            super().__init__(env=dict(env or {}))
            return
        full_env = store_env(settings, schema)
        full_env.update(env or {})
        with schema_lock(settings, schema):
            super().__init__(env=full_env)
        if settings.group_commit:
            self._group = GroupCommit(super().save, name=self.name)

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> Self:
        """The application on the library's in-memory persistence and a key vault in
        memory: its use cases, aggregates and sealing as in production, without PostgreSQL
        (unit tests of use cases and of reactions to other services' events). What reads
        the service's read models or tracks consumers' positions needs PostgreSQL."""
        return cls(settings or Settings(), MemoryKeyVault(), env={"PERSISTENCE_MODULE": MEMORY})

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

        values = dict(env or {})
        if type(self).snapshotting_intervals:
            values["IS_SNAPSHOTTING_ENABLED"] = "y"
        return Environment(name, values)

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
        # (Only on PostgreSQL: consumers track several positions per transaction.)
        assert isinstance(self.recorder, BatchTrackingRecorder)
        return self.recorder

    @property
    def sealing(self) -> SealingMapper:
        assert isinstance(self.mapper, SealingMapper)
        return self.mapper

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """Save through the group commit: concurrent saves share one transaction. An
        HTTP command with an Idempotency-Key commits its marker with its events."""
        marker = idempotency.current_command.get()
        if marker is not None and (marker.finished or marker.schema != self.name.lower()):
            # Another service's key (a combined process), or a request that has ended
            # (this runs in a task it started): not this save's to mark.
            marker = None
        if kwargs or self._group is None:
            if marker is not None:
                kwargs["commands"] = [*kwargs.get("commands", ()), (marker, None)]
            recordings = super().save(*objs, **kwargs)
        else:
            due = self._snapshots_due(objs)
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
            recordings = self._group.save(events, marker)
            self._take_snapshots_due(due)
        if recordings:
            self._local.position = recordings[-1].notification.id
        return recordings

    def _snapshots_due(self, objs: Sequence[Any]) -> list[tuple[uuid.UUID, int]]:
        """The snapshots the library's own `save` would take after saving these (for the
        group commit's saves): an aggregate of a class in `snapshotting_intervals` whose
        pending versions reach a multiple of its interval. Read before the events are
        collected."""
        if self.snapshots is None or not self.snapshotting_intervals:
            return []
        due: list[tuple[uuid.UUID, int]] = []
        for obj in objs:
            interval = self.snapshotting_intervals.get(type(obj))
            if interval is None:
                continue
            due.extend(
                (obj.id, e.originator_version)
                for e in obj.pending_events
                if e.originator_version % interval == 0
            )
        return due

    def _take_snapshots(self, processing_event: Any) -> None:
        # The library's own save (with tracking or commands): as in the group commit's,
        # a snapshot that fails after the commit does not fail the committed command.
        try:
            super()._take_snapshots(processing_event)
        except Exception:
            log.exception("a snapshot after a committed save failed")

    def _take_snapshots_due(self, due: list[tuple[uuid.UUID, int]]) -> None:
        # The command has committed: a snapshot that fails (another replica took the same
        # one) is only logged, and loading works without it.
        for aggregate_id, version in due:
            try:
                self.take_snapshot(aggregate_id, version=version)
            except IntegrityError:
                log.debug("snapshot of %s at %d was already taken", aggregate_id, version)
            except Exception:
                log.exception("snapshot of %s at %d failed", aggregate_id, version)

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
            marker = idempotency.current_command.get()
            if marker is not None:
                marker.result = idempotency.as_json(result)
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

"""Group commit: the saves of many request threads, committed together.

eventsourcing locks the events table for every save (so notification ids follow
commit order). One transaction per request makes the writers queue for that lock,
and each holder waits for the GIL between its round trips. Here one committer thread
takes whatever saves are waiting and commits them as one transaction; if that fails
(a conflict in one of them) it commits them one by one, so each caller gets exactly
the outcome it would have had alone.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Recording

log = logging.getLogger(__name__)

SaveEvents = Callable[..., list[Recording[uuid.UUID]]]


class _Pending:
    __slots__ = ("done", "error", "events", "marker", "recordings")

    def __init__(self, events: Sequence[Any], marker: Any = None) -> None:
        self.events = list(events)
        # The Idempotency-Key the save runs under (shared/idempotency.py): the request's
        # context does not reach this thread, so it travels with the save.
        self.marker = marker
        self.recordings: list[Recording[uuid.UUID]] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class GroupCommit:
    def __init__(self, save_events: SaveEvents, *, max_batch: int = 64, name: str = "") -> None:
        self._save_events = save_events
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"group-commit-{name}", daemon=True)
        self._thread.start()
        self.batches = 0
        self.saved = 0

    def save(self, events: Sequence[Any], marker: Any = None) -> list[Recording[uuid.UUID]]:
        """Commit `events` (with whoever else is waiting); the recordings of ours.
        `marker`: an idempotency key whose commit marker goes into the transaction."""
        pending = _Pending(events, marker)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.recordings

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        if self.batches:
            log.info(
                "%s: %d saves in %d transactions (%.1f a transaction)",
                self._thread.name,
                self.saved,
                self.batches,
                self.saved / self.batches,
            )

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        if len(batch) > 1:
            try:
                recordings = self._save_events(
                    *[e for p in batch for e in p.events], **_commands(batch)
                )
            except Exception:
                pass  # one of them conflicts (or the batch failed): go one by one
            else:
                by_event = {id(r.domain_event): r for r in recordings}
                for p in batch:
                    p.recordings = [by_event[id(e)] for e in p.events]
                self._finish(batch)
                return
        for p in batch:
            try:
                p.recordings = self._save_events(*p.events, **_commands([p]))
            except BaseException as e:  # handed to the caller, who raises it
                p.error = e
        self._finish(batch)

    def _finish(self, batch: list[_Pending]) -> None:
        self.batches += 1
        self.saved += len(batch)
        for p in batch:
            p.done.set()


def _commands(batch: list[_Pending]) -> dict[str, Any]:
    """The recorder's `commands` argument: each marker with the events it covers."""
    commands = [
        (p.marker, [(str(e.originator_id), int(e.originator_version)) for e in p.events])
        for p in batch
        if p.marker is not None
    ]
    return {"commands": commands} if commands else {}

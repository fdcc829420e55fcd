"""Time-ordered ids (UUIDv7)."""

from __future__ import annotations

import uuid

from shared.ids import time_ordered_uuid


def test_a_time_ordered_id_is_a_version_7_uuid_with_its_time() -> None:
    made = time_ordered_uuid(now_ms=1_796_000_000_123)
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert made.int >> 80 == 1_796_000_000_123


def test_ids_made_later_sort_later_and_ids_differ() -> None:
    earlier = [time_ordered_uuid(now_ms=1_000 + i) for i in range(200)]
    assert earlier == sorted(earlier)
    assert sorted(earlier, key=str) == earlier  # as text too (PostgreSQL's uuid order)
    same_ms = {time_ordered_uuid(now_ms=5) for _ in range(1_000)}
    assert len(same_ms) == 1_000


def test_without_a_time_it_takes_the_clock() -> None:
    import time

    before = time.time_ns() // 1_000_000
    made = time_ordered_uuid()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after

"""Ids that sort by when they were made (UUID version 7, RFC 9562 section 5.7).

A new aggregate's id is the first key of its events' primary key (`originator_id`,
`originator_version`). A random id (version 4) puts each new row on a random page of an
index that grows with the history: at 10 million events each insert of a recorded read
touched a page of its own, written whole to the WAL once per checkpoint. Ids made in time
order land on the index's last pages, whatever its size. Used where many aggregates are
made and nothing needs the id to be unguessable beyond its random 74 bits (a recorded
read's id).
"""

from __future__ import annotations

import os
import time
import uuid


def time_ordered_uuid(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48 bits of Unix time in milliseconds, the version, 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC 9562 variant
    return uuid.UUID(int=value)

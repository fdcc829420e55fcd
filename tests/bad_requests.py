"""The bad-request tables' rows and the helpers that build them: each API test module lists
its bad requests as `Bad` rows, each to answer problem+json and change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw: str | None = None
    fields: tuple[str, ...] = ()
    who: str = "counsellor"
    if_match: str | None = None


def without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}

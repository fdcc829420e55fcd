"""The characters no stored text may hold, checked without any dependency (the domain
modules use it too, and they import only the standard library and eventsourcing).

A NUL is refused by PostgreSQL (a projection that meets one fails on it forever), a lone
surrogate cannot be encoded as UTF-8 at all, and the other control characters (Unicode
category Cc) have no place in a name or a note: they hide text, move the cursor of a
terminal that prints a log, or break the JSON and HTML they end up in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

CONTROL_MESSAGE = "control characters are not allowed"
# What a multi-line text may hold besides printable characters; a carriage return only
# as part of a line break (`\r\n`).
MULTILINE_ALLOWED = frozenset("\n\t")


def refused_at(value: str, *, multiline: bool = False) -> int | None:
    """The index of the first character `value` may not hold, or None when all are fine."""
    if value.isprintable():  # the common case, in C: no control, surrogate or separator
        return None
    for i, char in enumerate(value):
        if unicodedata.category(char) not in ("Cc", "Cs"):
            continue
        if multiline and (
            char in MULTILINE_ALLOWED or (char == "\r" and value[i + 1 : i + 2] == "\n")
        ):
            continue
        return i
    return None


def clean(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` holds no character it may not (see `refused_at`)."""
    return refused_at(value, multiline=multiline) is None


def guard_text(
    error: Callable[[str, str, str], Exception],
    *,
    multiline: bool = False,
    **fields: str | None,
) -> None:
    """Raise `error("invalid", message, field)` for the first of `fields` (name=value)
    that holds a refused character; None values are skipped."""
    for field, value in fields.items():
        guard_field(error, field, value, multiline=multiline)


def guard_field(
    error: Callable[[str, str, str], Exception],
    field: str,
    value: object,
    *,
    multiline: bool = False,
) -> None:
    """`guard_text` for one field whose name is built (e.g. `services.0.name`)."""
    if isinstance(value, str) and not clean(value, multiline=multiline):
        raise error("invalid", f"{field}: {CONTROL_MESSAGE}.", field)

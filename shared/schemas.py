"""The types every request model and query parameter of every service is built from: text
without control characters, bounded numbers, dates and times within sane years.

One place, so that a hostile input is refused the same way at every edge, with a 422
naming the field (see shared/errors.py), before it reaches a domain, a store or a read
model (a NUL that reached intake's projection froze it for every organisation).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from shared.text import CONTROL_MESSAGE, clean

# The years a date or time of this domain lies in. Wider than any birth date or plan,
# narrow enough that any zone offset converts to UTC without overflow (year 1 with +05:00
# or 9999 with -05:00 answered 500).
MIN_YEAR, MAX_YEAR = 1900, 2200
# A list's offset: far beyond any organisation's rows, far below PostgreSQL's bigint.
MAX_OFFSET = 10_000_000


class Strict(BaseModel):
    """A request body: unknown fields are refused, JSON types are taken as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _single_line(value: str) -> str:
    if not clean(value):
        raise PydanticCustomError("control_characters", CONTROL_MESSAGE)
    return value


def _multi_line(value: str) -> str:
    if not clean(value, multiline=True):
        raise PydanticCustomError(
            "control_characters", CONTROL_MESSAGE + " (other than line breaks and tabs)"
        )
    return value


# Put after the field's bounds, so that the length is checked (and reported) first:
# `Annotated[StrictStr, Field(min_length=1, max_length=100), SingleLine]`.
# Single-line text (a name, a title, a filter): no control character at all.
SingleLine = AfterValidator(_single_line)
# Multi-line text (a note, a reason, a description): line breaks and tabs allowed.
MultiLine = AfterValidator(_multi_line)


def _year_of(value: date) -> Any:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError(
            "year_out_of_range",
            "the year must lie between {min} and {max}",
            {"min": MIN_YEAR, "max": MAX_YEAR},
        )
    return value


# A calendar day (ISO 8601 `YYYY-MM-DD`) between MIN_YEAR and MAX_YEAR.
Day = Annotated[date, Field(strict=False), AfterValidator(_year_of)]
# A moment (RFC 3339), its offset optional (callers decide what a naive one means).
Moment = Annotated[datetime, Field(strict=False), AfterValidator(_year_of)]
# A moment that must carry its offset.
AwareMoment = Annotated[AwareDatetime, Field(strict=False), AfterValidator(_year_of)]

# Paging of every list: `offset` rows skipped, `limit` rows at most.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=200)]
# An id in a body (a JSON string; the models are strict, which would want a UUID object).
Id = Annotated[uuid.UUID, Field(strict=False)]

"""The types every request model and query parameter of every service is built from: text
without control characters, bounded numbers, dates and times within sane years.

One place, so that a hostile input is refused the same way at every edge, with a 422
naming the field (see shared/errors.py), before it reaches a domain, a store or a read
model (a NUL that reached intake's projection froze it for every organisation).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictStr,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

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


@dataclass(frozen=True)
class _NoControl:
    """Refuses control characters (see shared/text.py); the OpenAPI documents clients
    and fuzzers see it as a `pattern` (unless the field has a pattern of its own)."""

    multiline: bool

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", MULTI_LINE if self.multiline else SINGLE_LINE)
        return json_schema

    def _check(self, value: str) -> str:
        if not clean(value, multiline=self.multiline):
            extra = " (other than line breaks and tabs)" if self.multiline else ""
            raise PydanticCustomError("control_characters", CONTROL_MESSAGE + extra)
        return value


# The same rules as ECMA-262 patterns, for the OpenAPI documents.
SINGLE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
MULTI_LINE = "^(?:[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]|\\r\\n)*$"
# Put after the field's bounds, so that the length is checked (and reported) first:
# `Annotated[StrictStr, Field(min_length=1, max_length=100), SingleLine]`.
# Single-line text (a name, a title, a filter): no control character at all.
SingleLine = _NoControl(multiline=False)
# Multi-line text (a note, a reason, a description): line breaks and tabs allowed.
MultiLine = _NoControl(multiline=True)


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

# `?counsellor=` of every list of cases (intake's cases, planning's plans, follow-ups,
# referrals): a counsellor's `sub`, or `me` for the caller (resolve with
# `shared.auth.counsellor_filter`).
COUNSELLOR_FILTER = (
    "Only the items of this counsellor (their `counsellor`: a token's `sub`); `me`: the "
    "caller's own. Items recorded before the counsellor was kept (`counsellor` null) never "
    "match."
)
CounsellorFilter = Annotated[
    StrictStr, Query(min_length=1, max_length=200, description=COUNSELLOR_FILTER), SingleLine
]

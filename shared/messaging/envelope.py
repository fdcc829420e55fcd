"""CloudEvents 1.0 structured JSON envelopes for integration events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def stream_name(service: str) -> str:
    return f"GUIDANCE_{service.upper()}"


def subject_for(service: str, event_type: str) -> str:
    return f"guidance.{service}.{event_type}"


class CloudEvent(BaseModel):
    """The envelope every message on NATS carries (structured JSON mode)."""

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: uuid.UUID
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    position: int | None = Field(
        default=None, description="Extension: position in the source service's log."
    )
    data: dict[str, Any]

    @property
    def service(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    @property
    def event_type(self) -> str:
        """`CaseAccepted` of `guidance.intake.CaseAccepted.v1`."""
        return self.type.split(".")[2]

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[-1])

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, payload: bytes) -> CloudEvent:
        return cls.model_validate_json(payload)

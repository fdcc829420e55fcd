"""Integration events: the public, versioned contracts between services.

Internal domain events may change; these change only by a new version. Each model
names its service, its type and version, and the field that is the CloudEvents subject.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Sealed(BaseModel):
    """A personal value sealed with its client's data key (AES-256-GCM).

    The associated data is `<event id>|<field name>`: open it with the key vault,
    the CloudEvents `id` and the field's name.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    sealed: Literal["A256GCM"] = Field(alias="$sealed")
    kid: uuid.UUID = Field(description="The client whose key sealed it.")
    ct: str = Field(description="base64 of nonce (12 bytes) + ciphertext + tag.")


# A personal field: sealed, or the marker left when the client was already erased.
Personal = Annotated[Sealed | Literal["ERASED"], Field(json_schema_extra={"x-personal": True})]

REGISTRY: dict[tuple[str, str, int], type[IntegrationEvent]] = {}


def as_published(value: Sealed | str | None) -> Any:
    """A personal field as it was published (and is kept in a copy): the sealed object
    (`{"$sealed": …}`), or the marker `ERASED`, or None."""
    return value.model_dump(mode="json", by_alias=True) if isinstance(value, Sealed) else value


class IntegrationEvent(BaseModel):
    """Base of every published event; `data` of the CloudEvents envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ClassVar[str]
    event_type: ClassVar[str]
    contract_version: ClassVar[int] = 1
    subject_field: ClassVar[str]

    occurred_at: datetime
    actor: str = Field(description="The user (token subject) who caused it.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            REGISTRY[(cls.service, cls.event_type, cls.contract_version)] = cls

    @classmethod
    def cloudevents_type(cls) -> str:
        return f"guidance.{cls.service}.{cls.event_type}.v{cls.contract_version}"

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


def contract_for(service: str, event_type: str, version: int) -> type[IntegrationEvent] | None:
    return REGISTRY.get((service, event_type, version))

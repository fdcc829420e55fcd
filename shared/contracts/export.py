"""The client's data export (GDPR Art. 15 access, Art. 20 portability): one JSON document.

Intake serves it at `GET /intake/v1/clients/{client_id}/export`, gathered from the four
services; its JSON Schema is published at `GET /intake/v1/schemas/client-export.json`.
`python -m shared.contracts.export` prints the schema; `make asyncapi` writes it to
`shared/contracts/client-export.schema.json`, which is committed and checked by a test.

Personal values are shown opened; a value whose client key is gone reads `ERASED`.
Where a section mirrors a service's aggregates (cases, plans, follow-ups, referrals)
its items are objects with the aggregate's fields, ids as UUID strings, times as
RFC 3339 and dates as ISO dates.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_PATH = "/intake/v1/schemas/client-export.json"
SCHEMA_FILE = "client-export.schema.json"
ERASED_NOTE = "Personal values read `ERASED` where the client's data key is destroyed."


class _Part(BaseModel):
    # A field's docstring is its description in the schema.
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class GeneratedBy(_Part):
    """Who asked for the export (it is recorded as a read of the client's data)."""

    subject: str = Field(description="The user (token subject).")
    organisation: str
    """The user's organisation."""
    role: str
    """The role they asked in (e.g. `counsellor`)."""


class ClientData(_Part):
    """The client as registered in intake."""

    client_id: uuid.UUID
    """The client's id."""
    organisation: str
    """The organisation that registered the client."""
    given_name: str
    """Given name, or `ERASED`."""
    family_name: str
    """Family name, or `ERASED`."""
    birth_date: date | Literal["ERASED"] = Field(description="An ISO date, or `ERASED`.")
    email: str
    """E-mail address, or `ERASED`."""
    phone: str | None
    """Phone number, if given (or `ERASED`)."""
    preferred_language: str | None
    """Preferred language (`nl`, `nl-NL`), if given."""
    registered_at: datetime
    """When the client was registered."""
    registered_by: str
    """Who registered the client (token subject)."""
    version: int
    """The client record's version."""


class Consent(_Part):
    """A consent as it stands now (one per purpose and, for referral, partner)."""

    consent_id: uuid.UUID
    """The consent's id."""
    purpose: str
    """`guidance`, `referral` or `statistics`."""
    partner_id: uuid.UUID | None
    """The partner of a `referral` consent; null otherwise."""
    data_categories: list[str]
    """The data a `referral` consent covers; empty otherwise."""
    granted: bool
    """Whether it stands now."""
    granted_at: datetime | None
    """When it was last granted; null if never."""
    withdrawn_at: datetime | None
    """When it was last withdrawn; null if not."""


class ConsentChange(_Part):
    """One grant or withdrawal, with who recorded it."""

    consent_id: uuid.UUID
    """The consent's id."""
    purpose: str
    """`guidance`, `referral` or `statistics`."""
    partner_id: uuid.UUID | None
    """The partner of a `referral` consent."""
    data_categories: list[str]
    """The data categories covered."""
    granted: bool
    """`true`: a grant, `false`: a withdrawal."""
    at: datetime
    """When it was recorded."""
    actor: str
    """Who recorded it (token subject)."""


class Consents(_Part):
    current: list[Consent]
    """The consents as they stand now."""
    history: list[ConsentChange] = Field(description="Every grant and withdrawal, oldest first.")


class RightsInformation(_Part):
    """The client was informed of their rights and duties."""

    version: str
    """The version of the agency's information given."""
    language: str
    """`nl`, `fr` or `en`."""
    at: datetime
    """When it was recorded."""
    actor: str
    """Who informed the client (token subject)."""


class IntakeSection(_Part):
    """What intake holds: the client, the consents, the information on rights and duties,
    the cases, the complaints, the erasure record."""

    client: ClientData
    """The client as registered."""
    consents: Consents
    """The client's consents, now and every change."""
    rights_information: list[RightsInformation] = Field(
        default_factory=list,
        description="Each time the client was informed of their rights and duties, oldest first.",
    )
    complaints: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each complaint: what it is about, its status and deadline, who "
        "handles it, the answer given (text and day) or its withdrawal.",
    )
    cases: list[dict[str, Any]] = Field(
        description="Each case: career question, entry check, assessments, sessions and "
        "hours, each session's notes with every amendment (`session_notes`), the "
        "reflection-and-action report with the client's agreements (`report`), the "
        "appointments (planned, moved, held, cancelled with the reason, missed) and the "
        "no-shows, decision, phase, resumption, its closure (with the closing summary), its "
        "counsellor now and each handover to another counsellor (with why), its hours "
        "budget (`budget`: the programme, the hours set and why they differ, the aftercare "
        "hours, each extra hours a team lead approved with why), and the group sessions the "
        "client took part in or missed (`group_sessions`: topic, when, minutes, present; "
        "never who else took part; their own notes are among `session_notes`, their "
        "session among `sessions`, kind `group`)."
    )
    erasure: dict[str, Any] | None = Field(
        description="The client's erasure record (legal holds, refused requests), if any."
    )


class PlanningSection(_Part):
    """What planning holds: the plans of the client's cases, and its copy of the client."""

    client: dict[str, Any] | None = Field(
        description="Planning's copy of the client (names, preferred language), if any."
    )
    plans: list[dict[str, Any]] = Field(
        description="Each plan: type, goals by priority with their actions and owners, "
        "competence analysis, portfolio (evidence withdrawn from it is not listed: its "
        "withdrawal, with why, is in `history`), career question, insights, choices and "
        "decisions with their reasons, support needs, the actions' products (CVs, job applications "
        "with their employer, job, status and answers), the instruments used with their "
        "results and interpretation, agreements, every agreed version with its "
        "content, and the history of every change (`history`)."
    )


class FollowupSection(_Part):
    """What follow-up holds: the aftercare of the client's cases."""

    followups: list[dict[str, Any]] = Field(
        description="Each follow-up: check-ins, contacts, action checks, bottlenecks, "
        "to-dos, outcome, feedback, closures."
    )


class Recipient(_Part):
    """A disclosure of the client's data to a partner: a referral sent to it (`referral`,
    with the categories the consent allowed), or a recorded read of the data by or for
    the partner (`access`: a packet, a letter, or the referral with its reason)."""

    kind: Literal["referral", "access"]
    """`referral` (a referral sent to the partner) or `access` (a recorded read of the data by or
    for the partner).
    """
    at: datetime = Field(description="When it was sent, or read.")
    partner_id: uuid.UUID | None
    """The partner."""
    partner_name: str | None
    """The partner's name (as the directory has it now)."""
    categories: list[str]
    """The client's data categories disclosed."""
    consent_id: uuid.UUID | None = Field(description="The consent the disclosure rests on.")
    referral_id: uuid.UUID | None
    """The referral the disclosure belongs to."""
    access_id: uuid.UUID | None = None
    """The recorded read (for `access`)."""
    actor: str | None = Field(default=None, description="Who read (for `access`).")
    role: str | None = None
    """The reader's role (for `access`)."""
    organisation: str | None = None
    """The reader's organisation (for `access`)."""
    purpose: str | None = None
    """The purpose of the read (for `access`)."""
    resource: str | None = Field(
        default=None, description="What was read: packet, letter, referral."
    )


class ReferralSection(_Part):
    """What referral holds: the client's referrals, to whom data went, and the copies of
    the client's data and consents it keeps for that."""

    referrals: list[dict[str, Any]] = Field(
        description="Each referral: partner, reason, data categories, consent, status and "
        "its times, answers, outcome, resumption, when and by which rule retention removed "
        "its packet (`packet_removed_at`, `packet_removal_rule`; its texts then read "
        "`REMOVED`), and its history (`history`)."
    )
    recipients: list[Recipient]
    """Every disclosure of the client's data to a partner."""
    consents: list[dict[str, Any]] = Field(
        description="Referral's copy of the client's referral consents (as intake published)."
    )
    copies: list[dict[str, Any]] = Field(
        description="The copies of the client's data referral keeps to serve packets, "
        "opened: category, field, value, and the event it was copied from."
    )


class Sections(_Part):
    intake: IntakeSection
    """What intake holds."""
    planning: PlanningSection
    """What planning holds."""
    followup: FollowupSection
    """What follow-up holds."""
    referral: ReferralSection
    """What referral holds."""


class ClientExport(_Part):
    """Everything Waypoint holds about one client, across the four services."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        title="Waypoint client export",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    export_id: uuid.UUID = Field(description="Also the id of the read recorded for it.")
    client_id: uuid.UUID
    """The client's id."""
    generated_at: datetime
    """When the export was made."""
    generated_by: GeneratedBy
    """Who asked for it."""
    schema_url: str = Field(alias="schema", description="The URL of this document's schema.")
    services: Sections
    """What each service holds about the client."""
    recipients: list[Recipient] = Field(
        description="Every disclosure to a partner (the referral section's, lifted here)."
    )


def schema() -> dict[str, Any]:
    """The JSON Schema of the export document (draft 2020-12)."""
    doc = ClientExport.model_json_schema(by_alias=True)
    doc["description"] = f"{doc.get('description', '')} {ERASED_NOTE}".strip()
    return doc


def render() -> str:
    """The schema as committed: sorted keys, indent 2, a trailing newline."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()

"""The committed JSON Schema of the client export equals the one generated from the model,
and the model takes what the services' parts give and refuses what they must not."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import export
from shared.contracts.export import ClientExport

COMMITTED = Path(export.__file__).with_name(export.SCHEMA_FILE)


def test_the_committed_schema_equals_freshly_generated_output() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == export.render(), (
        "shared/contracts/client-export.schema.json is out of date with the export model: "
        "run `make asyncapi` and commit the result"
    )


def test_the_schema_is_draft_2020_12_and_names_the_top_level_and_every_service() -> None:
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(doc["required"]) == {
        "export_id",
        "client_id",
        "generated_at",
        "generated_by",
        "schema",
        "services",
        "recipients",
    }
    sections = doc["$defs"]["Sections"]
    assert set(sections["required"]) == {"intake", "planning", "followup", "referral"}
    assert doc["additionalProperties"] is False
    recipient = doc["$defs"]["Recipient"]["properties"]
    assert {"partner_id", "partner_name", "categories", "consent_id", "at"} <= set(recipient)


def a_document(**overrides: Any) -> dict[str, Any]:
    client_id = str(uuid.uuid4())
    doc: dict[str, Any] = {
        "export_id": str(uuid.uuid4()),
        "client_id": client_id,
        "generated_at": "2026-03-01T10:00:00+00:00",
        "generated_by": {"subject": "c-1", "organisation": "org-a", "role": "counsellor"},
        "schema": "http://test/intake/v1/schemas/client-export.json",
        "services": {
            "intake": {
                "client": {
                    "client_id": client_id,
                    "organisation": "org-a",
                    "given_name": "Anna",
                    "family_name": "Peeters",
                    "birth_date": "1990-05-17",
                    "email": "anna@example.org",
                    "phone": None,
                    "preferred_language": "nl",
                    "registered_at": "2026-03-01T09:00:00+00:00",
                    "registered_by": "c-1",
                    "version": 2,
                },
                "consents": {"current": [], "history": []},
                "cases": [],
                "erasure": None,
            },
            "planning": {"client": None, "plans": []},
            "followup": {"followups": []},
            "referral": {"referrals": [], "recipients": [], "consents": [], "copies": []},
        },
        "recipients": [],
    }
    doc.update(overrides)
    return doc


def test_a_document_validates_and_serialises_with_the_schema_field_named_schema() -> None:
    model = ClientExport.model_validate(a_document())
    dumped = model.model_dump(mode="json", by_alias=True)
    assert dumped["schema"].endswith("/client-export.json")
    assert dumped["services"]["intake"]["client"]["birth_date"] == "1990-05-17"


def test_an_erased_birth_date_reads_erased_and_nothing_else_passes() -> None:
    doc = a_document()
    doc["services"]["intake"]["client"]["birth_date"] = "ERASED"
    ClientExport.model_validate(doc)
    doc["services"]["intake"]["client"]["birth_date"] = "someday"
    with pytest.raises(ValidationError):
        ClientExport.model_validate(doc)


def test_a_missing_service_section_or_an_unknown_field_is_refused() -> None:
    doc = a_document()
    del doc["services"]["followup"]
    with pytest.raises(ValidationError):
        ClientExport.model_validate(doc)
    with pytest.raises(ValidationError):
        ClientExport.model_validate(a_document(extra="x"))

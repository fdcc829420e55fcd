"""The admin's partner forms on their own: a partner as the edit form's values, the
posted rows as the API's body (empty rows left out, removed services dropped, each
service the API names put back at its row), open places as typed, and a refusal of a
service's field shown at its row."""

from __future__ import annotations

from services.console.api import ApiError, form_errors
from services.console.directory import partner_body, partner_values, places
from services.console.i18n import Localised

PARTNER = {
    "partner_id": "6d1c2a3e-0a53-4f43-9d39-0f6b6c7b2a10",
    "name": "Schuldhulp Gent",
    "description": None,
    "contact_email": "intake@schuldhulp.example.org",
    "accepted_categories": ["identity"],
    "services": [
        {
            "service_id": "0d6f7f0e-4a6b-4c55-9d5b-2b1e8e3c4d01",
            "name": "Budget coaching",
            "category": "debt",
            "languages": ["nl", "fr"],
            "area": "Gent",
            "eligibility": None,
        },
        {
            "service_id": "0d6f7f0e-4a6b-4c55-9d5b-2b1e8e3c4d02",
            "name": "Debt mediation",
            "category": "debt",
            "languages": [],
            "area": None,
            "eligibility": None,
        },
    ],
}


def test_a_partner_becomes_the_edit_forms_values_and_back_the_same_body() -> None:
    values, rows = partner_values(PARTNER)
    assert rows == 2
    assert values["services-0-languages"] == ["nl", "fr"]
    assert values["services-1-area"] == ""
    sent = partner_body(values, rows + 1, register=False)  # with the empty row
    assert sent.rows == [0, 1]
    assert [s["name"] for s in sent.body["services"]] == ["Budget coaching", "Debt mediation"]
    assert sent.body["services"][0]["service_id"] == "0d6f7f0e-4a6b-4c55-9d5b-2b1e8e3c4d01"
    assert sent.body["services"][0]["area"] == "Gent"
    assert sent.body["services"][1]["area"] is None
    assert sent.body["description"] is None
    assert "capacity" not in sent.body


def test_a_removed_service_is_dropped_and_a_new_one_named_by_its_row() -> None:
    values, _ = partner_values(PARTNER)
    values["services-0-remove"] = "yes"
    values["services-2-name"] = ""
    values["services-2-category"] = "housing"  # filled in part: sent, for the API to judge
    sent = partner_body(values, 3, register=False)
    assert sent.rows == [1, 2]
    assert sent.body["services"][1] == {
        "name": "",
        "category": "housing",
        "languages": [],
        "area": None,
        "eligibility": None,
    }
    problem = {
        "type": "https://waypoint.example/problems/validation-error",
        "errors": [
            {"field": "services.1.name", "message": "String should have at least 1 character"},
            {"field": "services.1.service_id", "message": "unknown"},
        ],
    }
    errors = form_errors(
        ApiError(422, problem), Localised("en"), sent.fields(), sent.where(), prefix="edit-"
    )
    assert list(errors.fields) == ["edit-services-2-name"]
    assert errors.fields["edit-services-2-name"][0].startswith("Give the service a name")
    assert "services.1.service_id: unknown" in errors.summary


def test_open_places_as_typed() -> None:
    assert places("") is None
    assert places(" 12 ") == 12
    assert places("0") == 0
    assert places("many") == "many"  # the API refuses it at its field
    body = partner_body({"name": "X", "capacity": "3"}, 1, register=True).body
    assert body["capacity"] == 3 and body["services"] == []

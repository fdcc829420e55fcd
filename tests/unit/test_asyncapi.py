"""The committed AsyncAPI document matches the contract models and is internally consistent."""

from __future__ import annotations

import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import shared.contracts
from shared.contracts import REGISTRY, asyncapi
from shared.messaging.envelope import subject_for

COMMITTED = Path(asyncapi.__file__).with_name("asyncapi.json")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi.document()


def test_the_committed_document_equals_freshly_generated_output() -> None:
    fresh = asyncapi.render()

    assert COMMITTED.read_text(encoding="utf-8") == fresh, (
        "shared/contracts/asyncapi.json is out of date with the contract models: "
        "run `make asyncapi` and commit the result"
    )


def test_the_document_declares_asyncapi_3_0_0(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_contract_module_in_the_package_is_listed_for_generation() -> None:
    modules = {
        f"shared.contracts.{m.name}"
        for m in pkgutil.iter_modules(shared.contracts.__path__)
        if m.name not in ("asyncapi", "catalogue")  # the generators
    }

    assert modules == set(asyncapi.CONTRACT_MODULES)


def test_every_registered_contract_has_a_channel_a_message_and_a_send_operation(
    doc: dict[str, Any],
) -> None:
    # Whatever imported them, every contract of the package is documented.
    contracts = [m for m in REGISTRY.values() if m.__module__.startswith("shared.contracts.")]
    assert contracts and set(contracts) == set(asyncapi.contracts())

    for model in contracts:
        cid, mid = asyncapi.channel_id(model), asyncapi.message_id(model)
        channel = doc["channels"][cid]
        assert channel["address"] == subject_for(model.service, model.event_type)
        assert channel["messages"][mid] == {"$ref": f"#/components/messages/{mid}"}

        message = doc["components"]["messages"][mid]
        assert message["payload"]["properties"]["type"]["const"] == model.cloudevents_type()
        assert message["payload"]["properties"]["data"] == {
            "$ref": f"#/components/schemas/{model.__name__}"
        }
        assert message["summary"] == (model.__doc__ or "").strip().splitlines()[0]

        operation = doc["operations"][f"{cid}.send"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{cid}"}
        assert {"$ref": f"#/channels/{cid}/messages/{mid}"} in operation["messages"]


def test_the_envelope_is_a_cloudevents_1_0_structured_message(doc: dict[str, Any]) -> None:
    for message in doc["components"]["messages"].values():
        payload = message["payload"]
        assert message["contentType"] == "application/cloudevents+json"
        assert payload["properties"]["specversion"]["const"] == "1.0"
        assert set(payload["required"]) >= {
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "position",
            "data",
        }
        assert "Nats-Msg-Id" in message["headers"]["properties"]


def test_sealed_personal_fields_are_marked_personal_and_point_at_sealed(
    doc: dict[str, Any],
) -> None:
    schemas = doc["components"]["schemas"]
    registered = schemas["ClientRegisteredV1"]["properties"]
    message = doc["components"]["messages"]["intake.ClientRegistered.v1"]

    assert registered["email"]["x-personal"] is True
    assert {"$ref": "#/components/schemas/Sealed"} in registered["email"]["anyOf"]
    assert registered["phone"]["anyOf"][0]["x-personal"] is True  # optional: Sealed or null
    assert "x-personal" not in registered["client_id"]
    assert message["x-personal-fields"] == [
        "given_name",
        "family_name",
        "birth_date",
        "email",
        "phone",
    ]
    assert "$sealed" in schemas["Sealed"]["required"]
    assert doc["components"]["messages"]["intake.SessionHeld.v1"]["x-personal-fields"] == []


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_in_the_document_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs

    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    assert "$defs" not in json.dumps(doc)

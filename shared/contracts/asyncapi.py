"""The AsyncAPI 3.0.0 document of the integration events, generated from the contract models.

`python -m shared.contracts.asyncapi` prints it; `make asyncapi` writes it to
`shared/contracts/asyncapi.json`, which is committed and checked against the models by a test.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from typing import Any

from shared.contracts import REGISTRY, IntegrationEvent

# Every module that defines contracts; a new service adds its own here.
CONTRACT_MODULES = [
    "shared.contracts.intake",
    "shared.contracts.planning",
    "shared.contracts.followup",
    "shared.contracts.referral",
    "shared.contracts.privacy",
    # No events: the client export document (its own JSON Schema, client-export.schema.json).
    "shared.contracts.export",
]

SCHEMAS = "#/components/schemas/"
CONTENT_TYPE = "application/cloudevents+json"


def contracts() -> list[type[IntegrationEvent]]:
    """The contracts of CONTRACT_MODULES (and nothing a test may have registered), in order."""
    for module in CONTRACT_MODULES:
        importlib.import_module(module)
    return [
        model for key, model in sorted(REGISTRY.items()) if model.__module__ in CONTRACT_MODULES
    ]


def channel_id(model: type[IntegrationEvent]) -> str:
    return f"{model.service}.{model.event_type}"


def message_id(model: type[IntegrationEvent]) -> str:
    return f"{model.service}.{model.event_type}.v{model.contract_version}"


def personal_fields(schema: dict[str, Any]) -> list[str]:
    """The properties marked x-personal (sealed), also inside an optional's anyOf."""

    def marked(prop: dict[str, Any]) -> bool:
        return bool(prop.get("x-personal")) or any(marked(p) for p in prop.get("anyOf", []))

    return [name for name, prop in schema.get("properties", {}).items() if marked(prop)]


def envelope(model: type[IntegrationEvent], subject_description: str) -> dict[str, Any]:
    """The CloudEvents 1.0 structured envelope around the model's data."""
    text = {"type": "string"}
    properties: dict[str, Any] = {
        "specversion": {**text, "const": "1.0"},
        "id": {**text, "format": "uuid", "description": "The event id; also `Nats-Msg-Id`."},
        "source": {**text, "const": f"/guidance/{model.service}"},
        "type": {**text, "const": model.cloudevents_type()},
        "subject": {**text, "description": subject_description},
        "time": {**text, "format": "date-time", "description": "= data.occurred_at"},
        "datacontenttype": {**text, "const": "application/json"},
        "position": {
            "type": "integer",
            "minimum": 1,
            "description": "Extension: position in the source service's log.",
        },
        "data": {"$ref": SCHEMAS + model.__name__},
    }
    return {"type": "object", "required": sorted(properties), "properties": properties}


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for model in contracts():
        schema = model.model_json_schema(by_alias=True, ref_template=SCHEMAS + "{model}")
        for name, definition in schema.pop("$defs", {}).items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        schemas[model.__name__] = schema
        summary, _, details = inspect.cleandoc(model.__doc__ or model.__name__).partition("\n")
        personal = personal_fields(schema)
        sealed = f"Sealed personal fields: {', '.join(personal)}." if personal else ""
        mid, cid = message_id(model), channel_id(model)
        messages[mid] = {
            "name": model.__name__,
            "title": f"{model.event_type} v{model.contract_version}",
            "summary": summary,
            "description": "\n\n".join(p for p in (details.strip(), sealed) if p) or summary,
            "contentType": CONTENT_TYPE,
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "format": "uuid"}},
            },
            "payload": envelope(model, f"The event's `{model.subject_field}`."),
            "x-personal-fields": personal,
        }
        channel = channels.setdefault(
            cid,
            {
                "address": f"guidance.{model.service}.{model.event_type}",
                "title": f"{model.service} {model.event_type}",
                "messages": {},
            },
        )
        channel["messages"][mid] = {"$ref": f"#/components/messages/{mid}"}
        operation = operations.setdefault(
            f"{cid}.send",
            {
                "action": "send",
                "channel": {"$ref": f"#/channels/{cid}"},
                "summary": f"The {model.service} relay publishes {model.event_type}.",
                "messages": [],
            },
        )
        operation["messages"].append({"$ref": f"#/channels/{cid}/messages/{mid}"})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Waypoint integration events",
            "version": "1.0.0",
            "description": (
                "Public, versioned events between the Waypoint services on NATS JetStream, "
                "one stream per service (GUIDANCE_<SERVICE>). Each message is a CloudEvents 1.0 "
                "structured JSON envelope; personal fields in `data` are sealed per client "
                "(AES-256-GCM) and never plain. Generated from shared/contracts: do not edit."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "nats": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "GUIDANCE_NATS_URL; the embedded default shown.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    """The document as committed: sorted keys, indent 2, a trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()

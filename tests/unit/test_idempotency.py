"""The pure parts of the Idempotency-Key middleware: which keys are valid, the answer
rebuilt from a commit marker, and reading a request body so that the app still gets it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.idempotency import MAX_BODY, _read_body, rebuilt_answer, valid_key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"8e03978e"', "8e03978e"),
        ("  spaced  ", "spaced"),
        ("x" * 255, "x" * 255),
    ],
)
def test_a_valid_key_is_read_bare_or_as_a_quoted_string(raw: str, key: str) -> None:
    assert valid_key(raw) == key


@pytest.mark.parametrize("raw", ["", "   ", '""', "x" * 256, "a\x00b", "a\tb", "a\x7fb"])
def test_an_empty_overlong_or_control_character_key_is_not_valid(raw: str) -> None:
    assert valid_key(raw) is None


def test_the_answer_rebuilt_from_a_marker_names_what_was_written_and_its_etag() -> None:
    status, headers, body = rebuilt_answer([["a1", 3], ["a1", 4]])
    assert status == 200
    assert (b"etag", b'"4"') in headers
    assert json.loads(body) == {
        "replayed": True,
        "committed": [{"aggregate_id": "a1", "version": 3}, {"aggregate_id": "a1", "version": 4}],
    }


def test_the_answer_rebuilt_from_a_marker_tells_the_ids_the_request_made() -> None:
    _, _, body = rebuilt_answer([["a1", 3, {"result": None, "created": ["goal-7"]}]])
    assert json.loads(body) == {
        "replayed": True,
        "committed": [{"aggregate_id": "a1", "version": 3}],
        "created": ["goal-7"],
    }


def test_an_answer_rebuilt_for_several_aggregates_has_no_etag() -> None:
    _, headers, _ = rebuilt_answer([["a1", 1], ["b2", 1]])
    assert all(name != b"etag" for name, _ in headers)


def messages(*chunks: bytes) -> Any:
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


async def drain(receive: Any) -> bytes:
    out = b""
    while True:
        m = await receive()
        out += m.get("body", b"")
        if m["type"] != "http.request" or not m.get("more_body"):
            return out


async def test_a_body_in_chunks_is_read_whole_and_handed_on_to_the_app() -> None:
    body, receive, complete = await _read_body(messages(b'{"a":', b"1}"))
    assert complete and body == b'{"a":1}'
    assert await drain(receive) == b'{"a":1}'


async def test_a_body_too_large_is_not_recorded_but_still_reaches_the_app() -> None:
    big = b"x" * (MAX_BODY // 2 + 1)
    body, receive, complete = await _read_body(messages(big, big, b"end"))
    assert not complete and body == b""
    assert await drain(receive) == big + big + b"end"


@pytest.mark.parametrize("service", ["intake", "planning", "followup", "referral"])
def test_every_operation_that_changes_something_documents_the_idempotency_key(
    service: str,
) -> None:
    from shared.serve import create_service
    from shared.settings import Settings

    schema = create_service(service, Settings(auth_mode="dev")).openapi()
    unsafe = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert unsafe
    for path, method, operation in unsafe:
        names = [p["name"] for p in operation.get("parameters", [])]
        assert names.count("Idempotency-Key") == 1, (method, path, names)
    safe = [op for ops in schema["paths"].values() for m, op in ops.items() if m == "get"]
    assert all(
        "Idempotency-Key" not in [p["name"] for p in op.get("parameters", [])] for op in safe
    )

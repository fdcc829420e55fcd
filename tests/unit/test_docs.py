"""The repository's own documentation: its links resolve and the event catalogue is complete."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from shared.contracts import catalogue

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and [text]: target, skipping images' data and code spans.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def relative_links(document: Path) -> list[str]:
    text = CODE.sub("", document.read_text())
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]


def test_the_documentation_folder_has_the_pages_the_readme_promises() -> None:
    names = {p.name for p in DOCUMENTS}
    for page in (
        "architecture.md",
        "domain.md",
        "events.md",
        "operations.md",
        "security.md",
        "identity-providers.md",
    ):
        assert page in names, page


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_of_a_document_resolves_to_a_file(document: Path) -> None:
    broken = [
        target
        for target in relative_links(document)
        if not (document.parent / unquote(target.split("#", 1)[0])).exists()
    ]
    assert broken == [], f"{document.name} links to missing files: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_no_document_points_outside_the_clone_to_the_design_folder(document: Path) -> None:
    assert "shared/design" not in document.read_text()


def test_the_link_finder_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("See [x](missing.md#a), [web](https://example.org) and `[c](code.md)`.\n")
    assert relative_links(page) == ["missing.md#a"]


def test_the_event_catalogue_names_every_event_type_of_the_asyncapi_document() -> None:
    document = json.loads(catalogue.ASYNCAPI.read_text())
    text = (ROOT / "docs" / "events.md").read_text()
    types = [
        message["payload"]["properties"]["type"]["const"]
        for message in document["components"]["messages"].values()
    ]
    assert types, "the AsyncAPI document has no messages"
    missing = [t for t in types if f"`{t}`" not in text]
    assert missing == [], f"docs/events.md lacks {missing}"
    channels = [c["address"].split(".", 2)[2] for c in document["channels"].values()]
    assert all(f"`{name}`" in text for name in channels)


def test_the_event_catalogue_is_the_generators_output() -> None:
    assert (ROOT / "docs" / "events.md").read_text() == catalogue.catalogue(), (
        "run `python -m shared.contracts.catalogue --write`"
    )

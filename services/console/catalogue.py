"""The console's messages: extracted from its code and templates with Babel, and the
catalogues kept in step: `python -m services.console.catalogue` adds what is new to each
`locale/<language>/LC_MESSAGES/messages.po` (untranslated: fill it in) and drops what is
no longer used. tests/console/test_catalogues.py fails while any message is missing,
untranslated or unused."""

from __future__ import annotations

import sys

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.console.i18n import HERE, LANGUAGES, po_path

METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
# Python's extraction looks for these callables (N_ marks a message shown elsewhere).
KEYWORDS = {"N_": None, "gettext": None, "_": None, "ngettext": (1, 2)}
# A message: its text, or (singular, plural) for one with plural forms.
Message = str | tuple[str, str]


def extract() -> dict[Message, list[tuple[str, int]]]:
    """Every message of the console's code and templates, with where it is used."""
    found: dict[Message, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        HERE,
        method_map=METHODS,
        options_map=OPTIONS,
        keywords=KEYWORDS,
    ):
        if isinstance(message, tuple):
            message = (message[0], message[1]) if len(message) > 1 and message[1] else message[0]
        if message:
            found.setdefault(message, []).append((filename, lineno))
    return found


def key(message_id: object) -> Message:
    """A catalogue entry's id as `extract` names it."""
    if isinstance(message_id, list | tuple):
        return (str(message_id[0]), str(message_id[1]))
    return str(message_id)


def load(language: str) -> Catalog:
    path = po_path(language)
    if not path.is_file():
        return Catalog(locale=language, domain="messages")
    with path.open("rb") as f:
        return read_po(f, locale=language)


def update(language: str, found: dict[Message, list[tuple[str, int]]]) -> tuple[int, int]:
    """Add the new messages to the language's catalogue, drop the unused; (added, dropped)."""
    catalog = load(language)
    old: dict[Message, object] = {key(m.id): m.string for m in catalog if m.id}
    fresh = Catalog(locale=language, domain="messages", project="Waypoint console")
    for message, locations in sorted(found.items(), key=lambda kv: str(kv[0])):
        string = old.get(message) or ("" if isinstance(message, str) else ("", ""))
        if language == "en" and not any(string if isinstance(string, tuple) else [string]):
            string = message
        fresh.add(message, string, locations=sorted(set(locations)))  # type: ignore[arg-type]
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, fresh, width=100, sort_output=True, include_lineno=False)
    added = len(set(found) - set(old))
    dropped = len(set(old) - set(found))
    return added, dropped


def main() -> None:
    found = extract()
    for language in LANGUAGES:
        added, dropped = update(language, found)
        print(f"{language}: {len(found)} messages, {added} new, {dropped} dropped")
    sys.exit(0)


if __name__ == "__main__":
    main()

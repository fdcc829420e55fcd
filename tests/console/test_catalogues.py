"""Every visible string of the console is translated: the messages extracted from its code
and templates (Babel) against the nl, fr and en catalogues. A message missing from a
catalogue, left untranslated or fuzzy, or no longer used fails; so does a translation
whose placeholders differ from its message's. `python -m services.console.catalogue`
brings the catalogues in step (then translate what it added)."""

from __future__ import annotations

import re

import pytest

from services.console.catalogue import Message, extract, key, load
from services.console.i18n import LANGUAGES, translations

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def used() -> dict[Message, list[tuple[str, int]]]:
    found = extract()
    assert len(found) > 50, "the extraction found the console's messages"
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_every_translation_used(
    language: str, used: dict[Message, list[tuple[str, int]]]
) -> None:
    catalog = load(language)
    entries = {key(m.id): m for m in catalog if m.id}
    missing = sorted(set(used) - set(entries), key=str)
    assert not missing, (
        f"{language}: not in the catalogue: {missing} (used at {[used[m] for m in missing]})"
    )
    untranslated = sorted((m for m in used if not all(strings(entries[m].string))), key=str)
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    fuzzy = sorted((m for m in used if entries[m].fuzzy), key=str)
    assert not fuzzy, f"{language}: fuzzy: {fuzzy}"
    unused = sorted(set(entries) - set(used), key=str)
    assert not unused, f"{language}: in the catalogue but used nowhere: {unused}"
    for message, entry in entries.items():
        wanted = set(PLACEHOLDER.findall(message if isinstance(message, str) else message[1]))
        for string in strings(entry.string):
            assert set(PLACEHOLDER.findall(string)) == wanted, (language, message, string)


def strings(value: object) -> list[str]:
    """A translation's strings: one, or one per plural form."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value or "")]


def test_the_languages_differ_where_they_should() -> None:
    """A catalogue copied from English would pass the checks above: not these."""
    for language in ("nl", "fr"):
        assert translations(language).gettext("Register a client") != "Register a client"
    assert translations("en").gettext("Register a client") == "Register a client"

"""Every visible string of the console is translated: the messages extracted from its code
and templates (Babel) against the nl, fr and en catalogues. A message missing from a
catalogue, left untranslated or fuzzy, or no longer used fails; so does a translation
whose placeholders differ from its message's. `python -m services.console.catalogue`
brings the catalogues in step (then translate what it added)."""

from __future__ import annotations

import re

import pytest

from services.console.catalogue import extract, load
from services.console.i18n import LANGUAGES, translations

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def used() -> dict[str, list[tuple[str, int]]]:
    found = extract()
    assert len(found) > 50, "the extraction found the console's messages"
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_every_translation_used(
    language: str, used: dict[str, list[tuple[str, int]]]
) -> None:
    catalog = load(language)
    entries = {m.id: m for m in catalog if m.id}
    missing = sorted(set(used) - set(entries))
    assert not missing, (
        f"{language}: not in the catalogue: {missing} (used at {[used[m] for m in missing]})"
    )
    untranslated = sorted(m for m in used if not entries[m].string)
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    fuzzy = sorted(m for m in used if entries[m].fuzzy)
    assert not fuzzy, f"{language}: fuzzy: {fuzzy}"
    unused = sorted(set(entries) - set(used))
    assert not unused, f"{language}: in the catalogue but used nowhere: {unused}"
    for message, entry in entries.items():
        assert isinstance(message, str) and isinstance(entry.string, str)
        assert set(PLACEHOLDER.findall(entry.string)) == set(PLACEHOLDER.findall(message)), (
            language,
            message,
        )


def test_the_languages_differ_where_they_should() -> None:
    """A catalogue copied from English would pass the checks above: not these."""
    for language in ("nl", "fr"):
        assert translations(language).gettext("Register a client") != "Register a client"
    assert translations("en").gettext("Register a client") == "Register a client"

"""The text guard the domains share (shared/text.py): what a single-line and a multi-line
text may hold, and each domain refusing a control character with its own `invalid`
error naming the field, whatever the API in front of it let through."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.followup.domain import FollowUpError
from services.intake.domain import Client, ClientErasure, IntakeError
from services.planning.domain import PlanningError
from services.referral.domain import Partner, ReferralError, check_reason, check_services
from shared.schemas import MULTI_LINE, SINGLE_LINE
from shared.text import CONTROL_MESSAGE, clean, guard_text, refused_at

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# text: (allowed on one line, allowed in a multi-line text)
TEXTS = {
    "Anna": (True, True),
    "Zoë Ødegård-Ñúñez 李小龍 🙂": (True, True),
    "": (True, True),
    "two words": (True, True),
    "\u00a0non-breaking and\u200bzero-width": (True, True),  # not control characters
    "line\nbreak": (False, True),
    "tab\there": (False, True),
    "windows\r\nline": (False, True),
    "lone\rreturn": (False, False),
    "NUL\u0000": (False, False),
    "\u0000": (False, False),
    "bell\u0007": (False, False),
    "escape\u001b[2J": (False, False),
    "DEL\u007f": (False, False),
    "C1\u0085": (False, False),
    "C1\u009b": (False, False),
    "surrogate\ud800": (False, False),
    "form\u000cfeed": (False, False),
    "vertical\u000btab": (False, False),
}


@pytest.mark.parametrize("value", TEXTS)
def test_a_single_line_text_refuses_every_control_character_and_a_multi_line_one_keeps_breaks(
    value: str,
) -> None:
    single, multi = TEXTS[value]

    assert clean(value) is single
    assert clean(value, multiline=True) is multi


def test_the_guard_names_the_first_refused_character() -> None:
    assert refused_at("ab\u0000c\u0007") == 2
    assert refused_at("ok\r\n\u0007", multiline=True) == 4
    assert refused_at("fine") is None


def test_the_guard_raises_the_domains_own_invalid_error_naming_the_field() -> None:
    with pytest.raises(IntakeError) as caught:
        guard_text(IntakeError, given_name="Anna", family_name="Pee\u0000ters", phone=None)

    assert caught.value.code == "invalid"
    assert caught.value.field == "family_name"
    assert CONTROL_MESSAGE in caught.value.message


def register(given_name: str) -> Any:
    return Client.register(
        client_id=uuid.uuid4(),
        organisation="org-a",
        given_name=given_name,
        family_name="Peeters",
        birth_date=date(1990, 5, 17),
        email="anna@example.org",
        phone=None,
        preferred_language="nl",
        actor="c-1",
        at=AT,
    )


def partner(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "partner_id": uuid.uuid4(),
        "name": "CAW",
        "description": "Welfare work\nin two lines",
        "services": [{"name": "Budget coaching", "category": "debt"}],
        "accepted_categories": ["identity"],
        "contact_email": None,
        "open_places": 1,
        "new_id": uuid.uuid4,
        "actor": "admin-1",
        "at": AT,
    }
    return Partner.register(**{**fields, **overrides})


def erasure_request(reason: str) -> Any:
    erasure = ClientErasure.start(uuid.uuid4(), "org-a", AT)
    return erasure.request(reason=reason, actor="c-1", at=AT)


# (what the domain is asked, the error type, the field named)
DOMAIN_CASES: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
    "intake: a client's given name": (
        lambda: register("An\u0000na"),
        IntakeError,
        "given_name",
    ),
    "intake: an erasure's reason": (
        lambda: erasure_request("Asked by\u0000 mail"),
        IntakeError,
        "reason",
    ),
    "referral: a partner's name": (lambda: partner(name="CAW\u0000"), ReferralError, "name"),
    "referral: a partner's description": (
        lambda: partner(description="Welfare\u001b[2J"),
        ReferralError,
        "description",
    ),
    "referral: a service's name": (
        lambda: check_services(
            [{"name": "Budget\u0000", "category": "debt"}], known=set(), new_id=uuid.uuid4
        ),
        ReferralError,
        "services.0.name",
    ),
    "referral: a referral's reason": (
        lambda: check_reason("Debts\u0000"),
        ReferralError,
        "reason",
    ),
}


@pytest.mark.parametrize("what", DOMAIN_CASES)
def test_each_domain_refuses_a_control_character_with_its_invalid_error_naming_the_field(
    what: str,
) -> None:
    command, error, field = DOMAIN_CASES[what]

    with pytest.raises(error) as caught:
        command()

    assert getattr(caught.value, "code", None) == "invalid"
    assert getattr(caught.value, "field", None) == field


def test_a_domain_keeps_the_line_breaks_of_a_multi_line_text() -> None:
    created = partner(description="Welfare work\n\tin two lines")

    assert created.description == "Welfare work\n\tin two lines"
    assert register("Anna").given_name == "Anna"


def test_the_planning_and_follow_up_errors_take_the_guards_arguments() -> None:
    # guard_text calls error(code, message, field): both domains' errors take that.
    for error in (PlanningError, FollowUpError):
        with pytest.raises(error) as caught:
            guard_text(error, multiline=True, notes="ok\n", reason="no\u0000")
        assert getattr(caught.value, "field", None) == "reason"


@pytest.mark.parametrize("value", [v for v in TEXTS if "\ud800" not in v])
def test_the_openapi_patterns_say_what_the_check_does(value: str) -> None:
    # (A lone surrogate is the one thing a JSON Schema pattern cannot name; the check,
    # and strict string parsing before it, refuse it all the same.)
    assert bool(re.fullmatch(SINGLE_LINE, value)) is clean(value)
    assert bool(re.fullmatch(MULTI_LINE, value)) is clean(value, multiline=True)

"""Referral's partner directory rules, without a database: given a partner, when a
command, then events.

Each test builds its "given" with commands, collects (and so clears) the pending events,
runs the command under test, and checks the new events or the `ReferralError` (its
stable `code` and the `field` at fault). A refused command records nothing.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.referral.domain import (
    DATA_CATEGORIES,
    SERVICE_CATEGORIES,
    Partner,
    ReferralError,
    has_open_places,
)

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
PARTNER_ID = uuid.UUID("b0b0b0b0-1111-4222-8333-444444444444")


def ids() -> Callable[[], uuid.UUID]:
    """Service ids 00000000-…-000000000001, …02, and so on: predictable in assertions."""
    counter: Iterator[int] = itertools.count(1)
    return lambda: uuid.UUID(int=next(counter))


def a_service(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Budget coaching",
        "category": "debt",
        "languages": ["nl", "fr"],
        "area": "Gent 9000",
        "eligibility": "Residents of Ghent with debts",
    }
    fields.update(overrides)
    return fields


def register(**overrides: Any) -> Partner:
    fields: dict[str, Any] = {
        "partner_id": PARTNER_ID,
        "name": "CAW Oost-Vlaanderen",
        "description": "General welfare work",
        "services": [a_service()],
        "accepted_categories": ["identity", "contact"],
        "contact_email": "referrals@caw.example.org",
        "open_places": 3,
        "new_id": ids(),
        "actor": "admin-1",
        "at": NOW,
    }
    fields.update(overrides)
    return Partner.register(**fields)


def a_partner(**overrides: Any) -> Partner:
    partner = register(**overrides)
    partner.collect_events()
    return partner


def refused(command: Callable[[], Any], code: str, field: str | None) -> ReferralError:
    with pytest.raises(ReferralError) as raised:
        command()
    assert raised.value.code == code
    assert raised.value.field == field
    return raised.value


# -- register --------------------------------------------------------------------------------
def test_registering_a_partner_records_its_directory_fields_and_makes_it_active() -> None:
    partner = register(
        name="  CAW Oost-Vlaanderen ",
        services=[a_service(languages=["NL", "fr", "nl"], area=" Gent 9000 ", eligibility="")],
        accepted_categories=["contact", "identity", "contact"],
    )
    [event] = partner.collect_events()
    assert isinstance(event, Partner.Registered)
    assert event.originator_id == PARTNER_ID and event.timestamp == NOW
    assert event.actor == "admin-1"
    assert event.name == "CAW Oost-Vlaanderen"
    assert event.services == [
        {
            "service_id": uuid.UUID(int=1),
            "name": "Budget coaching",
            "category": "debt",
            "languages": ["nl", "fr"],
            "area": "Gent 9000",
            "eligibility": None,
        }
    ]
    assert event.accepted_categories == ["identity", "contact"]
    assert partner.active is True and partner.open_places == 3
    assert partner.contact_email == "referrals@caw.example.org"


def test_every_service_gets_its_own_id_in_the_order_given() -> None:
    partner = register(services=[a_service(), a_service(name="Housing help", category="housing")])
    assert [s.service_id for s in partner.services] == [uuid.UUID(int=1), uuid.UUID(int=2)]


def test_accepted_categories_are_kept_in_the_canonical_order() -> None:
    partner = register(accepted_categories=list(reversed(DATA_CATEGORIES)))
    assert partner.accepted_categories == list(DATA_CATEGORIES)


def test_a_partner_may_accept_no_data_at_all_and_have_no_contact_or_places() -> None:
    partner = register(accepted_categories=[], contact_email=None, open_places=0, description=" ")
    assert partner.accepted_categories == [] and partner.contact_email is None
    assert partner.description is None and not partner.has_capacity


@pytest.mark.parametrize("category", SERVICE_CATEGORIES)
def test_every_service_category_of_the_list_is_accepted(category: str) -> None:
    assert register(services=[a_service(category=category)]).services[0].category == category


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"services": []}, "services"),
        ({"services": [a_service(name="")]}, "services.0.name"),
        ({"services": [a_service(category="legal")]}, "services.0.category"),
        ({"services": [a_service(languages=["nl", "xx"])]}, "services.0.languages"),
        ({"services": [a_service(languages=["nld"])]}, "services.0.languages"),
        (
            {"services": [a_service(), a_service(name="budget COACHING", category="other")]},
            "services.1.name",
        ),
        ({"services": [a_service(service_id=uuid.uuid4())]}, "services.0.service_id"),
        ({"services": [a_service(name=f"S{i}") for i in range(51)]}, "services"),
        ({"accepted_categories": ["identity", "medical"]}, "accepted_categories"),
        ({"contact_email": "not an address"}, "contact_email"),
        ({"contact_email": "a@b"}, "contact_email"),
        ({"open_places": -1}, "open_places"),
        ({"open_places": True}, "open_places"),
    ],
)
def test_a_partner_breaking_a_rule_is_not_registered(overrides: dict[str, Any], field: str) -> None:
    refused(lambda: register(**overrides), "invalid", field)


# -- update ----------------------------------------------------------------------------------
def test_an_update_records_only_the_fields_that_really_change() -> None:
    partner = a_partner()
    changed = partner.update(
        changes={"name": "CAW Oost-Vlaanderen", "description": "Debt and housing help"},
        new_id=ids(),
        actor="admin-2",
        at=LATER,
    )
    assert changed is True
    [event] = partner.collect_events()
    assert isinstance(event, Partner.Updated)
    assert event.changes == {"description": "Debt and housing help"}
    assert event.actor == "admin-2" and event.timestamp == LATER
    assert partner.description == "Debt and housing help"


def test_an_update_that_changes_nothing_records_nothing() -> None:
    partner = a_partner()
    assert not partner.update(
        changes={"name": partner.name, "accepted_categories": ["contact", "identity"]},
        new_id=ids(),
        actor="admin-1",
        at=LATER,
    )
    assert partner.collect_events() == []


def test_services_named_by_their_id_keep_it_and_new_ones_get_a_new_id() -> None:
    partner = a_partner()
    kept = partner.services[0].service_id
    new_ids = iter([uuid.UUID(int=99)])
    partner.update(
        changes={
            "services": [
                a_service(service_id=kept, languages=["nl", "fr", "en"]),
                a_service(name="Tenant advice", category="housing", area=None),
            ]
        },
        new_id=lambda: next(new_ids),
        actor="admin-1",
        at=LATER,
    )
    assert [(s.service_id, s.name) for s in partner.services] == [
        (kept, "Budget coaching"),
        (uuid.UUID(int=99), "Tenant advice"),
    ]
    assert partner.services[0].languages == ("nl", "fr", "en")
    assert partner.services[1].area is None


def test_clearing_the_description_and_contact_is_a_change() -> None:
    partner = a_partner()
    partner.update(
        changes={"description": None, "contact_email": None}, new_id=ids(), actor="a", at=LATER
    )
    [event] = partner.collect_events()
    assert event.changes == {"description": None, "contact_email": None}  # type: ignore[attr-defined]
    assert partner.description is None and partner.contact_email is None


def test_a_replayed_partner_has_the_same_state_as_the_live_one() -> None:
    partner = register()
    partner.update(
        changes={"services": [a_service(name="Debt mediation")]}, new_id=ids(), actor="a", at=LATER
    )
    partner.set_capacity(open_places=0, actor="a", at=LATER)
    partner.deactivate(actor="a", at=LATER)
    events = partner.collect_events()
    replayed: Any = None
    for event in events:
        replayed = event.mutate(replayed)
    assert vars(replayed) == vars(partner)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "body"),
        ({"open_places": 3}, "open_places"),
        ({"active": False}, "active"),
        ({"name": ""}, "name"),
        ({"services": []}, "services"),
        ({"services": [a_service(category="legal")]}, "services.0.category"),
        ({"services": [a_service(service_id=uuid.uuid4())]}, "services.0.service_id"),
        ({"accepted_categories": ["health"]}, "accepted_categories"),
        ({"contact_email": "nobody"}, "contact_email"),
    ],
)
def test_an_update_breaking_a_rule_is_refused_and_changes_nothing(
    changes: dict[str, Any], field: str
) -> None:
    partner = a_partner()
    before = dict(vars(partner))
    refused(
        lambda: partner.update(changes=changes, new_id=ids(), actor="a", at=LATER),
        "invalid",
        field,
    )
    assert partner.collect_events() == [] and vars(partner) == before


def test_the_same_service_id_twice_is_refused() -> None:
    partner = a_partner()
    kept = partner.services[0].service_id
    refused(
        lambda: partner.update(
            changes={
                "services": [a_service(service_id=kept), a_service(service_id=kept, name="Other")]
            },
            new_id=ids(),
            actor="a",
            at=LATER,
        ),
        "invalid",
        "services.1.service_id",
    )


# -- capacity and activity -------------------------------------------------------------------
def test_setting_the_capacity_records_the_new_number_of_open_places() -> None:
    partner = a_partner()
    assert partner.set_capacity(open_places=0, actor="admin-1", at=LATER)
    [event] = partner.collect_events()
    assert isinstance(event, Partner.CapacitySet) and event.open_places == 0
    assert not partner.has_capacity


def test_setting_the_same_capacity_again_records_nothing() -> None:
    partner = a_partner()
    assert not partner.set_capacity(open_places=3, actor="admin-1", at=LATER)
    assert partner.collect_events() == []


def test_a_negative_capacity_is_refused() -> None:
    partner = a_partner()
    refused(
        lambda: partner.set_capacity(open_places=-2, actor="a", at=LATER), "invalid", "open_places"
    )
    assert partner.open_places == 3 and partner.collect_events() == []


def test_a_partner_registered_without_a_capacity_has_no_limit() -> None:
    partner = register(open_places=None)
    [event] = partner.collect_events()
    assert isinstance(event, Partner.Registered) and event.open_places is None
    assert partner.open_places is None and partner.has_capacity


def test_a_capacity_can_be_limited_and_made_unlimited_again() -> None:
    partner = a_partner(open_places=None)
    assert partner.set_capacity(open_places=0, actor="admin-1", at=LATER)
    assert (partner.open_places, partner.has_capacity) == (0, False)
    assert partner.set_capacity(open_places=None, actor="admin-1", at=LATER)
    _, unlimited = partner.collect_events()
    assert isinstance(unlimited, Partner.CapacitySet) and unlimited.open_places is None
    assert (partner.open_places, partner.has_capacity) == (None, True)
    assert not partner.set_capacity(open_places=None, actor="admin-1", at=LATER)
    assert partner.collect_events() == []


def test_open_places_none_is_no_limit_and_zero_is_full() -> None:
    assert has_open_places(None) and has_open_places(1) and has_open_places(100_000)
    assert not has_open_places(0)


def test_a_partner_registered_with_zero_places_stays_full_when_replayed() -> None:
    partner = register(open_places=0)
    [event] = partner.collect_events()
    replayed = event.mutate(None)
    assert isinstance(replayed, Partner)
    assert (replayed.open_places, replayed.has_capacity) == (0, False)


@pytest.mark.parametrize("places", [-1, True, 1.5, "3"])
def test_open_places_are_a_whole_number_or_none(places: Any) -> None:
    refused(lambda: register(open_places=places), "invalid", "open_places")


def test_deactivating_and_reactivating_each_record_once() -> None:
    partner = a_partner()
    assert partner.deactivate(actor="admin-1", at=LATER)
    assert not partner.deactivate(actor="admin-1", at=LATER)
    assert partner.active is False
    assert partner.reactivate(actor="admin-2", at=LATER)
    assert not partner.reactivate(actor="admin-2", at=LATER)
    events = partner.collect_events()
    assert [type(e) for e in events] == [Partner.Deactivated, Partner.Reactivated]
    assert [e.actor for e in events] == ["admin-1", "admin-2"]  # type: ignore[attr-defined]
    assert partner.active is True


def test_an_inactive_partner_can_still_be_updated_before_it_returns() -> None:
    partner = a_partner()
    partner.deactivate(actor="a", at=LATER)
    assert partner.update(changes={"name": "CAW Gent"}, new_id=ids(), actor="a", at=LATER)
    assert partner.name == "CAW Gent" and not partner.active


def test_a_partner_accepts_a_request_only_for_categories_it_accepts() -> None:
    partner = a_partner()
    assert partner.accepts(["identity"]) and partner.accepts([])
    assert not partner.accepts(["identity", "plan"])

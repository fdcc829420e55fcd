"""Referral: the partner directory (the "social map"), modelled on Open Referral HSDS;
its value objects are checked in `partner_rules.py`.

Pure domain: the standard library and eventsourcing.domain only. A partner is an
organisation a counsellor can refer a client to: its name and description, the services
it offers (each with a category, languages, an area and eligibility notes), the data
categories it accepts in a referral packet, its open places (None: no limit), a contact
address, and whether it is active. Ids and times are passed in.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as AggregateSnapshot
from eventsourcing.utils import register_topic

from services.referral.domain.partner_rules import (
    UPDATABLE,
    check_capacity,
    check_categories,
    check_description,
    check_email,
    check_name,
    check_services,
    services_of,
)
from services.referral.domain.rules import ReferralError


class Partner(Aggregate):
    """One organisation of the social map, owned by the organisation whose admin
    registered it (`owner_org`): that organisation's admins and the network's directory
    administrators change it. Partners registered before owners were kept have none
    (`owner_org` None): only a directory administrator changes them."""

    class Registered(Aggregate.Created):
        # v2 added `owner_org`.
        class_version = 2

        name: str
        description: str | None
        services: list[dict[str, Any]]
        accepted_categories: list[str]
        contact_email: str | None
        # None: no limit (registered without a capacity).
        open_places: int | None
        actor: str
        owner_org: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["owner_org"] = None

    class Updated(Aggregate.Event):
        """Some of name, description, services, accepted categories, contact changed;
        `changes` holds exactly those, with their new values."""

        changes: dict[str, Any]
        actor: str

        def apply(self, aggregate: Partner) -> None:
            for field, value in copy.deepcopy(self.changes).items():
                setattr(aggregate, field, services_of(value) if field == "services" else value)

    class CapacitySet(Aggregate.Event):
        # None: no limit any more.
        open_places: int | None
        actor: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.open_places = self.open_places

    class Deactivated(Aggregate.Event):
        actor: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.active = False

    class Reactivated(Aggregate.Event):
        actor: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.active = True

    class Snapshot(AggregateSnapshot):
        """A partner's state at a version (the application snapshots long-lived partners):
        its services stored as their events store them, made values again on loading."""

        @classmethod
        def take(cls, aggregate: Any) -> Self:
            snapshot = super().take(aggregate)
            snapshot.state["services"] = [s.stored() for s in aggregate.services]
            return snapshot

        def mutate(self, _: None) -> Partner:
            partner = super().mutate(_)
            assert isinstance(partner, Partner)
            stored: list[dict[str, Any]] = partner.services  # type: ignore[assignment]
            partner.services = services_of(stored)
            return partner

    def __init__(
        self,
        name: str,
        description: str | None,
        services: list[dict[str, Any]],
        accepted_categories: list[str],
        contact_email: str | None,
        open_places: int | None,
        actor: str,
        owner_org: str | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.services = services_of(services)
        self.accepted_categories = accepted_categories
        self.contact_email = contact_email
        self.open_places = open_places
        self.active = True
        self.registered_by = actor
        self.owner_org = owner_org

    @classmethod
    def register(
        cls,
        *,
        partner_id: uuid.UUID,
        name: str,
        description: str | None,
        services: list[Mapping[str, Any]],
        accepted_categories: list[str],
        contact_email: str | None,
        open_places: int | None,
        new_id: Callable[[], uuid.UUID],
        actor: str,
        at: datetime,
        owner_org: str | None = None,
    ) -> Partner:
        """A new, active partner, owned by `owner_org`; refused unless every rule holds."""
        checked_name = check_name(name)
        checked_services = check_services(services, known=set(), new_id=new_id)
        categories = check_categories(accepted_categories)
        email = check_email(contact_email)
        places = check_capacity(open_places)
        return cls._create(
            cls.Registered,
            id=partner_id,
            timestamp=at,
            name=checked_name,
            description=check_description(description),
            services=checked_services,
            accepted_categories=categories,
            contact_email=email,
            open_places=places,
            actor=actor,
            owner_org=owner_org,
        )

    # -- commands ------------------------------------------------------------------------
    def update(
        self,
        *,
        changes: Mapping[str, Any],
        new_id: Callable[[], uuid.UUID],
        actor: str,
        at: datetime,
    ) -> bool:
        """Change some of the directory fields; only real changes are recorded.

        True if anything changed (False, and no event, if every value stayed the same).
        """
        unknown = [f for f in changes if f not in UPDATABLE]
        if unknown:
            raise ReferralError("invalid", f"{unknown[0]!r} cannot be updated.", unknown[0])
        if not changes:
            raise ReferralError("invalid", "Name at least one field to change.", "body")
        checked: dict[str, Any] = {}
        for field, value in changes.items():
            if field == "name":
                checked[field] = check_name(value)
            elif field == "description":
                checked[field] = check_description(value)
            elif field == "services":
                known = {s.service_id for s in self.services}
                checked[field] = check_services(value, known=known, new_id=new_id)
            elif field == "accepted_categories":
                checked[field] = check_categories(value)
            else:
                checked[field] = check_email(value)
        real = {f: v for f, v in checked.items() if self._stored(f) != v}
        if not real:
            return False
        self.trigger_event(self.Updated, timestamp=at, changes=real, actor=actor)
        return True

    def _stored(self, field: str) -> Any:
        """A directory field as an event would store it."""
        if field == "services":
            return [s.stored() for s in self.services]
        return getattr(self, field)

    def set_capacity(self, *, open_places: int | None, actor: str, at: datetime) -> bool:
        """Set the number of open places (None: no limit); False (no event) if it is that
        already."""
        places = check_capacity(open_places)
        if places == self.open_places:
            return False
        self.trigger_event(self.CapacitySet, timestamp=at, open_places=places, actor=actor)
        return True

    def deactivate(self, *, actor: str, at: datetime) -> bool:
        """Take the partner off the map for counsellors; False if it was inactive already."""
        if not self.active:
            return False
        self.trigger_event(self.Deactivated, timestamp=at, actor=actor)
        return True

    def reactivate(self, *, actor: str, at: datetime) -> bool:
        """Put the partner back on the map; False if it was active already."""
        if self.active:
            return False
        self.trigger_event(self.Reactivated, timestamp=at, actor=actor)
        return True

    # -- views ---------------------------------------------------------------------------
    def administered_by(self, organisation: str, *, directory_admin: bool) -> bool:
        """Whether an admin of `organisation` (a directory administrator of the network,
        if `directory_admin`) may change this partner."""
        return directory_admin or (self.owner_org is not None and self.owner_org == organisation)

    def accepts(self, categories: list[str]) -> bool:
        """Whether the partner accepts every one of these data categories."""
        return set(categories) <= set(self.accepted_categories)

    @property
    def has_capacity(self) -> bool:
        """Whether the partner takes new referrals as far as places go: no limit, or at
        least one open place."""
        return has_open_places(self.open_places)


def has_open_places(open_places: int | None) -> bool:
    """None is no limit; 0 is full (explicitly, e.g. an older partner registered with 0)."""
    return open_places is None or open_places > 0


# Events stored before the directory moved into `domain/` keep loading.
register_topic("services.referral.domain:Partner", Partner)
for _name in ("Registered", "Updated", "CapacitySet", "Deactivated", "Reactivated"):
    register_topic(f"services.referral.domain:Partner.{_name}", getattr(Partner, _name))

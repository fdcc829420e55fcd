"""Referral: the partner directory (the "social map"), modelled on Open Referral HSDS;
the rules of referral's input shared by the directory and the referrals.

Pure domain: the standard library and eventsourcing.domain only. A partner is an
organisation a counsellor can refer a client to: its name and description, the services
it offers (each with a category, languages, an area and eligibility notes), the data
categories it accepts in a referral packet, its open places (None: no limit), a contact
address, and whether it is active. Ids and times are passed in.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from shared.text import guard_field, guard_text
from shared.vocabulary import DATA_CATEGORIES

SERVICE_CATEGORIES = (
    "training",
    "psychology",
    "health",
    "union",
    "entrepreneurship",
    "debt",
    "housing",
    "language",
    "other",
)
# ISO 639-1: the two-letter language codes.
_ISO_639_1 = """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv
kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr
nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
yi yo za zh zu
"""
LANGUAGES = frozenset(_ISO_639_1.split())
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# The fields `update` may change; capacity and activity have commands of their own.
UPDATABLE = ("name", "description", "services", "accepted_categories", "contact_email")
MAX_SERVICES = 50


class ReferralError(Exception):
    """A rule of referral was broken; `code` is stable, `field` names the input at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _text(value: str | None) -> str | None:
    """Stripped text, or None for nothing at all."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_services(
    services: list[Mapping[str, Any]],
    *,
    known: set[uuid.UUID],
    new_id: Callable[[], uuid.UUID],
) -> list[dict[str, Any]]:
    """The services in their canonical form, each with its id, or a `ReferralError`.

    A service naming a `service_id` keeps it (it must be one of `known`, the partner's
    current services); one without gets a new id from `new_id`.
    """
    if not services:
        raise ReferralError("invalid", "A partner offers at least one service.", "services")
    if len(services) > MAX_SERVICES:
        raise ReferralError(
            "invalid", f"A partner lists at most {MAX_SERVICES} services.", "services"
        )
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    ids: set[uuid.UUID] = set()
    for i, service in enumerate(services):
        at = f"services.{i}"
        guard_field(ReferralError, f"{at}.name", service.get("name"))
        guard_field(ReferralError, f"{at}.area", service.get("area"))
        guard_field(ReferralError, f"{at}.eligibility", service.get("eligibility"), multiline=True)
        name = _text(service.get("name"))
        if name is None:
            raise ReferralError("invalid", "A service has a name.", f"{at}.name")
        if name.casefold() in names:
            raise ReferralError(
                "invalid", f"The partner lists a service named {name!r} twice.", f"{at}.name"
            )
        category = service.get("category")
        if category not in SERVICE_CATEGORIES:
            raise ReferralError(
                "invalid", f"Unknown service category {category!r}.", f"{at}.category"
            )
        languages = [str(code).lower() for code in service.get("languages") or []]
        unknown = [code for code in languages if code not in LANGUAGES]
        if unknown:
            raise ReferralError(
                "invalid",
                f"{unknown[0]!r} is not an ISO 639-1 language code.",
                f"{at}.languages",
            )
        service_id = service.get("service_id")
        if service_id is None:
            service_id = new_id()
        elif service_id not in known:
            raise ReferralError(
                "invalid", "The partner has no service with this id.", f"{at}.service_id"
            )
        if service_id in ids:
            raise ReferralError(
                "invalid", "The partner lists a service id twice.", f"{at}.service_id"
            )
        names.add(name.casefold())
        ids.add(service_id)
        out.append(
            {
                "service_id": service_id,
                "name": name,
                "category": category,
                "languages": list(dict.fromkeys(languages)),
                "area": _text(service.get("area")),
                "eligibility": _text(service.get("eligibility")),
            }
        )
    return out


def check_categories(categories: list[str]) -> list[str]:
    """The accepted data categories, each once, in the canonical order."""
    unknown = [c for c in categories if c not in DATA_CATEGORIES]
    if unknown:
        raise ReferralError(
            "invalid", f"Unknown data category {unknown[0]!r}.", "accepted_categories"
        )
    return [c for c in DATA_CATEGORIES if c in categories]


def check_name(name: str) -> str:
    guard_text(ReferralError, name=name)
    text = _text(name)
    if text is None:
        raise ReferralError("invalid", "A partner has a name.", "name")
    return text


def check_email(email: str | None) -> str | None:
    guard_text(ReferralError, contact_email=email)
    text = _text(email)
    if text is not None and not EMAIL.match(text):
        raise ReferralError(
            "invalid", "The contact address is not an email address.", "contact_email"
        )
    return text


def check_description(description: str | None) -> str | None:
    guard_text(ReferralError, multiline=True, description=description)
    return _text(description)


def check_capacity(open_places: int | None) -> int | None:
    """Open places: a whole number, 0 or more (0: no new referrals for now), or None for a
    partner without a limit."""
    if open_places is None:
        return None
    if isinstance(open_places, bool) or not isinstance(open_places, int) or open_places < 0:
        raise ReferralError(
            "invalid",
            "Open places are a whole number, 0 or more, or null (no limit).",
            "open_places",
        )
    return open_places


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

        def apply(self, aggregate: Any) -> None:
            for field, value in copy.deepcopy(self.changes).items():
                setattr(aggregate, field, value)

    class CapacitySet(Aggregate.Event):
        # None: no limit any more.
        open_places: int | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.open_places = self.open_places

    class Deactivated(Aggregate.Event):
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.active = False

    class Reactivated(Aggregate.Event):
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.active = True

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
        self.services = services
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
                known = {s["service_id"] for s in self.services}
                checked[field] = check_services(value, known=known, new_id=new_id)
            elif field == "accepted_categories":
                checked[field] = check_categories(value)
            else:
                checked[field] = check_email(value)
        real = {f: v for f, v in checked.items() if getattr(self, f) != v}
        if not real:
            return False
        self.trigger_event(self.Updated, timestamp=at, changes=real, actor=actor)
        return True

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

"""What a partner of the directory is made of (Open Referral HSDS): its services (each
with a category, languages, an area and eligibility notes), the data categories it
accepts, its name, contact address and open places; each checked here, in its canonical
form, or a `ReferralError`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.referral.domain.rules import ReferralError, _text
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


@dataclass(frozen=True)
class Service:
    """One service a partner offers, in its canonical form (see `check_services`)."""

    service_id: uuid.UUID
    name: str
    category: str
    languages: tuple[str, ...]
    area: str | None
    eligibility: str | None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Service:
        """A service as its events store it (a dict)."""
        return cls(
            service_id=stored["service_id"],
            name=stored["name"],
            category=stored["category"],
            languages=tuple(stored["languages"]),
            area=stored["area"],
            eligibility=stored["eligibility"],
        )

    def stored(self) -> dict[str, Any]:
        """The service as its events store it."""
        return {
            "service_id": self.service_id,
            "name": self.name,
            "category": self.category,
            "languages": list(self.languages),
            "area": self.area,
            "eligibility": self.eligibility,
        }


def services_of(stored: Iterable[Mapping[str, Any]]) -> tuple[Service, ...]:
    return tuple(Service.of(s) for s in stored)

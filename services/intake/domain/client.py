"""The client (the data subject) and the consents they gave or withdrew."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from services.intake.domain.errors import IntakeError
from shared.text import guard_text
from shared.vocabulary import DATA_CATEGORIES, PURPOSES


@dataclass(frozen=True)
class Consent:
    """A consent as it stands: granted, or withdrawn (or refused: never granted)."""

    consent_id: uuid.UUID
    purpose: str
    partner_id: uuid.UUID | None
    data_categories: list[str]
    granted: bool
    granted_at: datetime | None
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class ConsentChange:
    """One grant (`granted`) or withdrawal, with who recorded it."""

    consent_id: uuid.UUID
    purpose: str
    partner_id: uuid.UUID | None
    data_categories: list[str]
    granted: bool
    at: datetime
    actor: str


# The languages the information on rights and duties is given in.
RIGHTS_LANGUAGES = ("nl", "fr", "en")


@dataclass(frozen=True)
class RightsInformation:
    """The client was informed of their rights and duties: which version of the agency's
    information, in which language, when and by whom."""

    version: str
    language: str
    at: datetime
    actor: str


class Client(Aggregate):
    """A client (the data subject) and the consents they gave or withdrew."""

    class Registered(Aggregate.Created):
        organisation: str
        given_name: str
        family_name: str
        birth_date: date
        email: str
        phone: str | None
        preferred_language: str | None
        actor: str

    class ConsentGranted(Aggregate.Event):
        organisation: str
        consent_id: uuid.UUID
        purpose: str
        partner_id: uuid.UUID | None
        data_categories: list[str]
        actor: str

        def apply(self, aggregate: Client) -> None:
            client: Client = aggregate
            client.consents[_consent_key(self.purpose, self.partner_id)] = Consent(
                consent_id=self.consent_id,
                purpose=self.purpose,
                partner_id=self.partner_id,
                data_categories=list(self.data_categories),
                granted=True,
                granted_at=self.timestamp,
                withdrawn_at=None,
            )
            client.consent_history.append(_history(self, granted=True))

    class ConsentWithdrawn(Aggregate.Event):
        organisation: str
        consent_id: uuid.UUID
        purpose: str
        partner_id: uuid.UUID | None
        data_categories: list[str]
        actor: str

        def apply(self, aggregate: Client) -> None:
            client: Client = aggregate
            key = _consent_key(self.purpose, self.partner_id)
            current = client.consents.get(key)
            client.consents[key] = Consent(
                consent_id=self.consent_id,
                purpose=self.purpose,
                partner_id=self.partner_id,
                data_categories=list(self.data_categories),
                granted=False,
                granted_at=current.granted_at if current else None,
                withdrawn_at=self.timestamp,
            )
            client.consent_history.append(_history(self, granted=False))

    class InformedOfRights(Aggregate.Event):
        organisation: str
        version: str
        language: str
        actor: str

        def apply(self, aggregate: Client) -> None:
            aggregate.rights_information.append(
                RightsInformation(
                    version=self.version,
                    language=self.language,
                    at=self.timestamp,
                    actor=self.actor,
                )
            )

    def __init__(
        self,
        organisation: str,
        given_name: str,
        family_name: str,
        birth_date: date,
        email: str,
        phone: str | None,
        preferred_language: str | None,
        actor: str,
    ) -> None:
        self.organisation = organisation
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.email = email
        self.phone = phone
        self.preferred_language = preferred_language
        self.registered_by = actor
        self.consents: dict[str, Consent] = {}
        """The consent now, per purpose (and partner): `referral:<partner id>`, `guidance:`."""
        self.consent_history: list[ConsentChange] = []
        self.rights_information: list[RightsInformation] = []
        """Each time the client was informed of their rights and duties, oldest first."""

    @classmethod
    def register(
        cls,
        *,
        client_id: uuid.UUID,
        organisation: str,
        given_name: str,
        family_name: str,
        birth_date: date,
        email: str,
        phone: str | None,
        preferred_language: str | None,
        actor: str,
        at: datetime,
    ) -> Client:
        guard_text(
            IntakeError,
            given_name=given_name,
            family_name=family_name,
            email=email,
            phone=phone,
            preferred_language=preferred_language,
        )
        if not given_name.strip():
            raise IntakeError("invalid", "The given name must not be blank.", "given_name")
        if not family_name.strip():
            raise IntakeError("invalid", "The family name must not be blank.", "family_name")
        if birth_date >= at.date():
            raise IntakeError("invalid", "The birth date must lie in the past.", "birth_date")
        return cls._create(
            cls.Registered,
            id=client_id,
            timestamp=at,
            organisation=organisation,
            given_name=given_name.strip(),
            family_name=family_name.strip(),
            birth_date=birth_date,
            email=email,
            phone=phone,
            preferred_language=preferred_language,
            actor=actor,
        )

    def grant_consent(
        self,
        *,
        consent_id: uuid.UUID,
        purpose: str,
        partner_id: uuid.UUID | None,
        data_categories: list[str],
        actor: str,
        at: datetime,
    ) -> None:
        self._check_consent_shape(purpose, partner_id, data_categories)
        self.trigger_event(
            self.ConsentGranted,
            timestamp=at,
            organisation=self.organisation,
            consent_id=consent_id,
            purpose=purpose,
            partner_id=partner_id,
            data_categories=sorted(set(data_categories)),
            actor=actor,
        )

    def withdraw_consent(
        self,
        *,
        consent_id: uuid.UUID,
        purpose: str,
        partner_id: uuid.UUID | None,
        actor: str,
        at: datetime,
    ) -> None:
        """Withdraw (or, without an earlier grant, record the refusal of) a consent."""
        self._check_consent_shape(purpose, partner_id, None)
        current = self.consents.get(_consent_key(purpose, partner_id))
        self.trigger_event(
            self.ConsentWithdrawn,
            timestamp=at,
            organisation=self.organisation,
            consent_id=current.consent_id if current else consent_id,
            purpose=purpose,
            partner_id=partner_id,
            data_categories=list(current.data_categories) if current else [],
            actor=actor,
        )

    def inform_of_rights(
        self,
        *,
        version: str,
        language: str,
        versions: tuple[str, ...],
        actor: str,
        at: datetime,
    ) -> None:
        """Record that the client was informed of their rights and duties, in `version`
        (one of the agency's `versions`) and `language`. Nothing waits on it: a client not
        informed is only flagged."""
        if version not in versions:
            raise IntakeError(
                "invalid",
                f"Unknown version {version!r} of the information (known: {', '.join(versions)}).",
                "version",
            )
        if language not in RIGHTS_LANGUAGES:
            raise IntakeError("invalid", f"Unknown language {language!r}.", "language")
        self.trigger_event(
            self.InformedOfRights,
            timestamp=at,
            organisation=self.organisation,
            version=version,
            language=language,
            actor=actor,
        )

    @property
    def informed_of_rights(self) -> RightsInformation | None:
        """The latest information on rights and duties, if any."""
        return self.rights_information[-1] if self.rights_information else None

    @staticmethod
    def _check_consent_shape(
        purpose: str, partner_id: uuid.UUID | None, data_categories: list[str] | None
    ) -> None:
        if purpose not in PURPOSES:
            raise IntakeError("invalid", f"Unknown purpose {purpose!r}.", "purpose")
        if purpose == "referral":
            if partner_id is None:
                raise IntakeError("invalid", "A referral consent names the partner.", "partner_id")
            if data_categories is not None and not data_categories:
                raise IntakeError(
                    "invalid",
                    "A referral consent names at least one data category.",
                    "data_categories",
                )
        else:
            if partner_id is not None:
                raise IntakeError(
                    "invalid", "Only a referral consent names a partner.", "partner_id"
                )
            if data_categories:
                raise IntakeError(
                    "invalid",
                    "Only a referral consent names data categories.",
                    "data_categories",
                )
        for category in data_categories or ():
            if category not in DATA_CATEGORIES:
                raise IntakeError(
                    "invalid", f"Unknown data category {category!r}.", "data_categories"
                )

    def has_consent(self, purpose: str, partner_id: uuid.UUID | None = None) -> bool:
        current = self.consents.get(_consent_key(purpose, partner_id))
        return bool(current and current.granted)


def _consent_key(purpose: str, partner_id: uuid.UUID | None) -> str:
    return f"{purpose}:{partner_id or ''}"


def _history(
    event: Client.ConsentGranted | Client.ConsentWithdrawn, *, granted: bool
) -> ConsentChange:
    return ConsentChange(
        consent_id=event.consent_id,
        purpose=event.purpose,
        partner_id=event.partner_id,
        data_categories=list(event.data_categories),
        granted=granted,
        at=event.timestamp,
        actor=event.actor,
    )


# Events stored before the client moved here (from `services/intake/domain.py`) keep loading.
register_topic("services.intake.domain:Client", Client)
for _name in ("Registered", "ConsentGranted", "ConsentWithdrawn"):
    register_topic(f"services.intake.domain:Client.{_name}", getattr(Client, _name))

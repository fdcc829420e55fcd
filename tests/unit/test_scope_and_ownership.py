"""Whose data a token may audit (the `audit_scope` claim) and who owns a partner of the
directory; old events (before the scope and the owner were kept) still load."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from services.referral.domain import Partner
from shared.audit.access import DataAccess
from shared.auth import (
    AUDIENCE,
    DEV_ISSUER,
    AuditScope,
    Principal,
    TokenVerifier,
    dev_token,
    principal_from_claims,
)
from shared.errors import Unauthorized
from shared.settings import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "auditor-1",
        "org": "org-b",
        "roles": ["auditor"],
        "iat": now,
        "exp": now + 300,
    }
    base.update(changes)
    return base


@pytest.fixture
def settings() -> Settings:
    return Settings(
        auth_mode="dev",
        jwt_secret=SECRET,
        database_url="postgresql://unused@127.0.0.1:1/unused",
    )


# -- the audit scope ----------------------------------------------------------------------------
def test_without_the_claim_an_auditor_audits_only_the_own_organisation() -> None:
    scope = principal_from_claims(claims()).audit_scope

    assert scope == AuditScope(frozenset({"org-b"}))
    assert scope.covers("org-b") and not scope.covers("org-a") and not scope.covers(None)
    assert scope.recorded() == ["org-b"]


def test_a_list_names_exactly_the_organisations_audited_not_the_own_one_besides() -> None:
    scope = principal_from_claims(claims(audit_scope=["org-c", "org-a"])).audit_scope

    assert scope.covers("org-a") and scope.covers("org-c") and not scope.covers("org-b")
    assert scope.recorded() == ["org-a", "org-c"]


def test_a_star_is_a_supervisory_authority_that_audits_every_organisation() -> None:
    scope = principal_from_claims(claims(audit_scope="*")).audit_scope

    assert scope.everyone and scope.covers("any-org") and scope.recorded() == ["*"]


def test_an_empty_list_audits_no_organisation_at_all() -> None:
    scope = principal_from_claims(claims(audit_scope=[])).audit_scope

    assert not scope.covers("org-b") and scope.recorded() == []


def test_a_principal_built_in_code_audits_its_own_organisation() -> None:
    who = Principal(sub="x", org="org-z", roles=frozenset({"admin"}))

    assert who.audit_scope.covers("org-z") and not who.audit_scope.covers("org-y")


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param("org-a", id="a string other than *"),
        pytest.param(["*"], id="* inside a list"),
        pytest.param([""], id="an empty organisation"),
        pytest.param([1, 2], id="numbers"),
        pytest.param({"org-a": True}, id="an object"),
        pytest.param(True, id="a boolean"),
        pytest.param(None, id="null"),
        pytest.param(["org-a", None], id="a null in the list"),
    ],
)
async def test_a_malformed_audit_scope_is_unauthorised(settings: Settings, claim: Any) -> None:
    token = jwt.encode(claims(audit_scope=claim), SECRET, algorithm="HS256")

    with pytest.raises(Unauthorized) as caught:
        await TokenVerifier(settings).verify(token)

    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("given", "covers_a", "covers_b"),
    [(["org-a"], True, False), ("*", True, True), (None, False, True)],
)
async def test_a_dev_token_carries_the_audit_scope_it_was_minted_with(
    settings: Settings, given: Any, covers_a: bool, covers_b: bool
) -> None:
    token = dev_token(settings, sub="r", org="org-b", roles=["auditor"], audit_scope=given)

    scope = (await TokenVerifier(settings).verify(token)).audit_scope

    assert (scope.covers("org-a"), scope.covers("org-b")) == (covers_a, covers_b)


# -- the partner's owner ------------------------------------------------------------------------
def a_partner(owner_org: str | None) -> Partner:
    return Partner.register(
        partner_id=uuid.uuid4(),
        name="CAW Oost-Vlaanderen",
        description=None,
        services=[{"name": "Budget coaching", "category": "debt"}],
        accepted_categories=["identity"],
        contact_email=None,
        open_places=3,
        new_id=uuid.uuid4,
        actor="admin-1",
        at=NOW,
        owner_org=owner_org,
    )


@pytest.mark.parametrize(
    ("owner", "org", "directory_admin", "allowed"),
    [
        ("org-a", "org-a", False, True),
        ("org-a", "org-b", False, False),
        ("org-a", "org-b", True, True),
        (None, "org-a", False, False),
        (None, "org-a", True, True),
    ],
)
def test_a_partner_is_changed_by_its_owners_admins_and_the_directory_administrators(
    owner: str | None, org: str, directory_admin: bool, allowed: bool
) -> None:
    partner = a_partner(owner)

    assert partner.administered_by(org, directory_admin=directory_admin) is allowed


def stored_as_v1(app: Application, event: Any, dropped: str) -> StoredEvent:
    """The event as it was stored before its class gained `dropped` (version 1)."""
    stored = app.mapper.to_stored_event(event)
    state = app.mapper.transcoder.decode(stored.state)
    del state[dropped], state["class_version"]
    return StoredEvent(
        stored.originator_id,
        stored.originator_version,
        stored.topic,
        app.mapper.transcoder.encode(state),
    )


def test_a_partner_registered_before_owners_were_kept_loads_with_no_owner() -> None:
    app: Application = Application()
    [registered] = a_partner("org-a").collect_events()

    old = app.mapper.to_domain_event(stored_as_v1(app, registered, "owner_org"))
    partner = old.mutate(None)

    assert isinstance(partner, Partner) and partner.owner_org is None
    assert not partner.administered_by("org-a", directory_admin=False)


def test_a_read_recorded_before_the_scope_was_kept_loads_with_no_scope() -> None:
    app: Application = Application()
    who = Principal(sub="r", org="org-a", roles=frozenset({"auditor"}))
    access = DataAccess.record(
        who,
        client_id=uuid.uuid4(),
        purpose="audit",
        resource="audit-events",
        categories=["case-history"],
        at=NOW,
        audit_scope=["org-a"],
    )
    [recorded] = access.collect_events()

    current = app.mapper.to_domain_event(app.mapper.to_stored_event(recorded))
    old = app.mapper.to_domain_event(stored_as_v1(app, recorded, "audit_scope"))

    assert isinstance(current, DataAccess.Recorded) and current.audit_scope == ["org-a"]
    assert isinstance(old, DataAccess.Recorded) and old.audit_scope is None
    assert old.mutate(None).audit_scope is None  # type: ignore[union-attr]

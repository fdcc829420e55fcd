"""oidc mode against a real OpenID provider the tests start (the `oidc-provider-mock`
package, in a thread on 127.0.0.1): discovery by issuer, opaque access tokens from the
provider's real authorisation-code flow checked by RFC 7662 introspection, claim mapping
for Keycloak- and Entra-shaped claims. No PostgreSQL or NATS.

oidc-provider-mock 0.3.4 (the last release for Python 3.11) has no introspection
endpoint: the tests mount authlib's RFC 7662 `IntrospectionEndpoint` (the library the
provider is built on) over the provider's own token store, and list it in the provider's
discovery document, as Keycloak does. Its answer carries the user's claims, as Keycloak's
carries realm roles and mapped claims.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI

from shared.auth import Principal, TokenVerifier, principal_from_claims, require
from shared.errors import PROBLEM_JSON, Unauthorized
from shared.http import service_app
from shared.oidc import discovery
from shared.oidc.claims import ClaimMapping
from shared.oidc.discovery import DiscoveryError, provider_metadata
from shared.settings import Settings
from tests.identity_provider import CLIENT_ID, Provider, running_provider

MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
AUDIT_KEY = base64.b64encode(os.urandom(32)).decode()
UNUSED_DB = "postgresql://unused@127.0.0.1:1/unused"
CLIENT_SECRET = "waypoint-introspection-secret"

Counsellor = Annotated[Principal, Depends(require("counsellor"))]
# authlib warns of its own deprecations inside the provider.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib.*")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with pytest.MonkeyPatch.context() as mp:
        # The provider's token endpoint refuses plain http unless told it is a test.
        mp.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        with running_provider() as p:
            yield p


@pytest.fixture(autouse=True)
def fresh_discovery() -> Iterator[None]:
    discovery.forget()
    yield
    discovery.forget()


def settings_for(issuer: str, **changes: Any) -> Settings:
    given: dict[str, Any] = {
        "auth_mode": "oidc",
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "master_key": MASTER_KEY,
        "audit_signing_key": AUDIT_KEY,
        "database_url": UNUSED_DB,
        "oidc_http_timeout_seconds": 1.0,
    }
    given.update(changes)
    return Settings(**given)


def whoami_app(settings: Settings) -> FastAPI:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(principal: Counsellor) -> dict[str, Any]:
        return {
            "sub": principal.sub,
            "org": principal.org,
            "roles": sorted(principal.roles),
            "partner_id": str(principal.partner_id) if principal.partner_id else None,
        }

    return service_app("testsvc", settings, routers=[router])


async def get(app: FastAPI, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"].endswith("/" + code)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


KEYCLOAK_CLAIMS: dict[str, Any] = {
    # Keycloak: realm roles under realm_access, the organisation from a user-attribute
    # mapper, plus roles of other clients and Keycloak's defaults that mean nothing here.
    "realm_access": {"roles": ["counsellor", "offline_access", "uma_authorization"]},
    "resource_access": {"account": {"roles": ["manage-account"]}},
    "organisation": "org-keycloak",
    "preferred_username": "kim",
}
KEYCLOAK = {"oidc_roles_claim": "realm_access.roles", "oidc_org_claim": "organisation"}


# --- discovery ------------------------------------------------------------------------


async def test_discovery_by_the_issuer_alone_finds_the_jwks_url_and_introspection_endpoint(
    provider: Provider,
) -> None:
    metadata = await provider_metadata(settings_for(provider.issuer))

    assert metadata.jwks_uri == f"{provider.issuer}/jwks"
    assert metadata.introspection_endpoint == f"{provider.issuer}/oauth2/introspect"
    # Only asymmetric algorithms are ever taken from the document.
    assert metadata.algorithms == ("RS256",)


async def test_an_issuer_configured_with_a_trailing_slash_discovers_the_same_provider(
    provider: Provider,
) -> None:
    metadata = await provider_metadata(settings_for(provider.issuer + "/"))

    assert metadata.issuer == provider.issuer
    assert metadata.accepts_issuer(provider.issuer) and metadata.accepts_issuer(
        provider.issuer + "/"
    )
    assert not metadata.accepts_issuer(provider.issuer + "/other")


async def test_a_discovery_document_naming_another_issuer_refuses_the_service_start() -> None:
    def behind_a_misconfigured_proxy(wsgi: Any) -> Any:
        # The provider believes it is reached as another host (Keycloak without its
        # KC_HOSTNAME behind a proxy): its document names that issuer.
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            environ["HTTP_HOST"] = "idp.elsewhere.example"
            return wsgi(environ, start_response)

        return app

    with running_provider(behind_a_misconfigured_proxy) as elsewhere:
        app = whoami_app(settings_for(elsewhere.issuer))
        with pytest.raises(DiscoveryError, match=r"idp\.elsewhere\.example"):
            async with app.router.lifespan_context(app):
                pass
        # Had the service started while the provider was down, its requests would now
        # meet the same document: 503 for the operator to see, never a 500 or a 200.
        discovery.forget()
        for token in ("an-opaque-token", "a.jwt-shaped.token"):
            response = await get(app, "/testsvc/v1/whoami", token)
            assert_problem(response, 503, "service-unavailable")


async def test_a_provider_down_at_start_does_not_stop_the_start_and_a_token_then_gets_503() -> None:
    app = whoami_app(settings_for(f"http://127.0.0.1:{closed_port()}"))

    async with app.router.lifespan_context(app):
        health = await get(app, "/testsvc/healthz")
        response = await get(app, "/testsvc/v1/whoami", "an-opaque-token")

    assert health.status_code == 200
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"]


# --- opaque access tokens ---------------------------------------------------------------


async def test_an_opaque_access_token_from_the_providers_code_flow_is_accepted_via_introspection(
    provider: Provider,
) -> None:
    tokens = provider.sign_in("kim@agency.example", KEYCLOAK_CLAIMS)
    access_token = tokens["access_token"]
    assert access_token.count(".") != 2, "the provider issues opaque access tokens"
    app = whoami_app(settings_for(provider.issuer, **KEYCLOAK))

    async with app.router.lifespan_context(app):
        response = await get(app, "/testsvc/v1/whoami", access_token)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "sub": "kim@agency.example",
        "org": "org-keycloak",
        "roles": ["counsellor"],
        "partner_id": None,
    }
    assert provider.introspections[-1] == access_token


async def test_an_entra_shaped_opaque_token_gets_its_app_roles_mapped_and_the_fixed_organisation(
    provider: Provider,
) -> None:
    token = provider.sign_in(
        "eve@agency.example", {"roles": ["Waypoint.Counsellor", "admin"], "tid": "t-1"}
    )["access_token"]
    entra = {
        "oidc_role_map": {"Waypoint.Counsellor": "counsellor"},
        "oidc_org": "agency-north",
    }
    app = whoami_app(settings_for(provider.issuer, **entra))

    response = await get(app, "/testsvc/v1/whoami", token)

    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["counsellor"]
    assert response.json()["org"] == "agency-north"


async def test_an_unknown_or_revoked_opaque_token_is_refused_with_401(
    provider: Provider,
) -> None:
    tokens = provider.sign_in("lee@agency.example", KEYCLOAK_CLAIMS)
    provider.revoke("lee@agency.example")
    app = whoami_app(settings_for(provider.issuer, **KEYCLOAK))

    for token in ("never-issued-by-the-provider", tokens["access_token"]):
        response = await get(app, "/testsvc/v1/whoami", token)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_introspected_token_for_another_audience_or_issuer_is_refused(
    provider: Provider,
) -> None:
    app = whoami_app(settings_for(provider.issuer, **KEYCLOAK))
    for sub, extra in (
        ("aud@agency.example", {"aud": ["another-api"]}),
        ("iss@agency.example", {"iss": "https://idp.elsewhere.example"}),
    ):
        token = provider.sign_in(sub, {**KEYCLOAK_CLAIMS, **extra})["access_token"]

        assert_problem(await get(app, "/testsvc/v1/whoami", token), 401, "unauthorized")


async def test_an_introspection_answer_is_reused_briefly_and_never_past_the_tokens_expiry(
    provider: Provider,
) -> None:
    token = provider.sign_in("ana@agency.example", KEYCLOAK_CLAIMS)["access_token"]
    settings = settings_for(provider.issuer, **KEYCLOAK, oidc_introspection_cache_seconds=30)
    verifier = TokenVerifier(settings)
    before = len(provider.introspections)

    for _ in range(3):
        assert (await verifier.verify(token)).org == "org-keycloak"

    assert len(provider.introspections) - before == 1
    claims, until = verifier._introspector._answers[token]
    assert claims is not None and until <= claims["exp"]
    # Revoked at the provider: the cached answer stands only until it is asked again.
    provider.revoke("ana@agency.example")
    verifier._introspector._answers[token] = (claims, time.time() - 1)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_an_introspection_endpoint_that_is_down_answers_503_with_retry_after(
    provider: Provider,
) -> None:
    token = provider.sign_in("bo@agency.example", KEYCLOAK_CLAIMS)["access_token"]
    down = f"http://127.0.0.1:{closed_port()}/oauth2/introspect"
    app = whoami_app(settings_for(provider.issuer, **KEYCLOAK, oidc_introspection_url=down))

    response = await get(app, "/testsvc/v1/whoami", token)

    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"]


async def test_an_introspection_endpoint_that_never_answers_gives_503_within_the_timeout(
    provider: Provider,
) -> None:
    token = provider.sign_in("cy@agency.example", KEYCLOAK_CLAIMS)["access_token"]
    with socket.socket() as silent:
        # Accepts connections (the kernel's backlog) and never answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/introspect"
        app = whoami_app(
            settings_for(
                provider.issuer,
                **KEYCLOAK,
                oidc_introspection_url=url,
                oidc_http_timeout_seconds=0.3,
            )
        )
        started = time.monotonic()
        response = await get(app, "/testsvc/v1/whoami", token)
        elapsed = time.monotonic() - started

    assert_problem(response, 503, "service-unavailable")
    assert elapsed < 2


async def test_introspection_without_waypoints_client_credentials_is_refused_by_the_provider(
    provider: Provider,
) -> None:
    token = provider.sign_in("di@agency.example", KEYCLOAK_CLAIMS)["access_token"]
    app = whoami_app(settings_for(provider.issuer, **KEYCLOAK, oidc_client_id=None))

    response = await get(app, "/testsvc/v1/whoami", token)

    # Not the caller's fault: a 503 for the operator's log, not a 401.
    assert_problem(response, 503, "service-unavailable")


# --- claim mapping ----------------------------------------------------------------------


def mapping(**settings: Any) -> ClaimMapping:
    return ClaimMapping.from_settings(settings_for("https://idp.example", **settings))


def test_keycloak_shaped_claims_give_realm_roles_and_the_mapped_organisation() -> None:
    claims = {
        "sub": "f2b1c1de-9b9a-4c4e-8a43-0d3c0f6f9a11",
        **KEYCLOAK_CLAIMS,
        "realm_access": {"roles": ["team_lead", "counsellor", "default-roles-waypoint"]},
        "partner": {"id": "6f1c4b1e-2f1d-4a8a-9f7e-1b2c3d4e5f60"},
    }

    principal = principal_from_claims(
        claims, mapping(**KEYCLOAK, oidc_partner_id_claim="partner.id")
    )

    assert principal.roles == frozenset({"team_lead", "counsellor"})
    assert principal.org == "org-keycloak"
    assert str(principal.partner_id) == "6f1c4b1e-2f1d-4a8a-9f7e-1b2c3d4e5f60"


def test_entra_shaped_claims_map_app_roles_and_take_the_deployments_fixed_organisation() -> None:
    claims = {
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
        "roles": ["Waypoint.Counsellor", "Waypoint.TeamLead", "admin", "Other.App.Role"],
    }
    entra = mapping(
        oidc_role_map={"Waypoint.Counsellor": "counsellor", "Waypoint.TeamLead": "team_lead"},
        oidc_org="agency-north",
    )

    principal = principal_from_claims(claims, entra)

    # With a role map only the roles it names count: the provider's `admin` is not ours.
    assert principal.roles == frozenset({"counsellor", "team_lead"})
    assert principal.org == "agency-north"


def test_roles_from_a_space_separated_scope_and_an_organisation_from_a_url_named_claim() -> None:
    claims = {
        "sub": "svc-1",
        "scope": "openid profile waypoint.auditor",
        "https://waypoint.example/claims/org": "org-z",
    }
    scoped = mapping(
        oidc_roles_claim="scope",
        oidc_role_map={"waypoint.auditor": "auditor"},
        oidc_org_claim="https://waypoint.example/claims/org",
    )

    principal = principal_from_claims(claims, scoped)

    assert principal.roles == frozenset({"auditor"}) and principal.org == "org-z"


def test_the_audit_scope_comes_from_its_mapped_claim_and_is_still_validated() -> None:
    scoped = mapping(oidc_audit_scope_claim="waypoint.audit_orgs", oidc_org="org-a")

    principal = principal_from_claims(
        {"sub": "a", "waypoint": {"audit_orgs": ["org-b", "org-c"]}}, scoped
    )

    assert principal.audit_scope.orgs == frozenset({"org-b", "org-c"})
    with pytest.raises(Unauthorized, match=r"waypoint\.audit_orgs"):
        principal_from_claims({"sub": "a", "waypoint": {"audit_orgs": "org-b"}}, scoped)


def test_the_mapped_claims_keep_the_checks_of_sub_org_and_partner_id() -> None:
    keycloak = mapping(**KEYCLOAK)

    for claims in (
        {"sub": "a", "realm_access": {"roles": ["counsellor"]}},
        {"sub": "a", "organisation": "org\x00a"},
        {"sub": "a", "organisation": "o" * 300},
        {"sub": "a", "organisation": "org-a", "realm_access": {"roles": [1]}},
        {"sub": "a", "organisation": "org-a", "partner_id": "not-a-uuid"},
    ):
        with pytest.raises(Unauthorized):
            principal_from_claims(claims, keycloak)


def test_a_role_map_naming_a_role_waypoint_does_not_have_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="superuser"):
        TokenVerifier(settings_for("https://idp.example", oidc_role_map={"Boss": "superuser"}))


def test_dev_mode_ignores_the_oidc_claim_mapping() -> None:
    settings = Settings(
        auth_mode="dev",
        jwt_secret="unit-test-secret-that-is-long-enough-for-hs256",
        oidc_roles_claim="realm_access.roles",
        oidc_org="fixed",
        database_url=UNUSED_DB,
    )

    assert ClaimMapping.from_settings(settings).roles == "roles"
    assert ClaimMapping.from_settings(settings).fixed_org is None


def test_the_claim_mapping_comes_from_the_guidance_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("GUIDANCE_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "GUIDANCE_AUTH_MODE": "oidc",
        "GUIDANCE_OIDC_ISSUER": "https://login.microsoftonline.com/t-1/v2.0",
        "GUIDANCE_OIDC_ROLE_MAP": '{"Waypoint.Counsellor":"counsellor"}',
        "GUIDANCE_OIDC_ORG": "agency-north",
        "GUIDANCE_OIDC_CLIENT_SECRET": "s3cret",
        "GUIDANCE_MASTER_KEY": MASTER_KEY,
        "GUIDANCE_AUDIT_SIGNING_KEY": AUDIT_KEY,
    }.items():
        monkeypatch.setenv(name, value)

    settings = Settings()
    entra = ClaimMapping.from_settings(settings)

    assert settings.oidc_discovers and settings.oidc_jwks_url is None
    assert entra.role_map == {"Waypoint.Counsellor": "counsellor"}
    assert entra.fixed_org == "agency-north"
    assert "s3cret" not in repr(settings)


async def test_the_providers_id_token_without_kid_verifies_against_its_one_discovered_key(
    provider: Provider,
) -> None:
    tokens = provider.sign_in("kim@agency.example", KEYCLOAK_CLAIMS)
    id_token = tokens["id_token"]
    assert "kid" not in jwt.get_unverified_header(id_token), "the provider signs without kid"
    # An ID token's audience is the client it was issued to.
    app = whoami_app(settings_for(provider.issuer, oidc_audience="waypoint-console", **KEYCLOAK))

    async with app.router.lifespan_context(app):
        response = await get(app, "/testsvc/v1/whoami", id_token)

    assert response.status_code == 200, response.text
    assert response.json()["sub"] == "kim@agency.example"
    assert response.json()["org"] == "org-keycloak"

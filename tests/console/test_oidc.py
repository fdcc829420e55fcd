"""The console's OpenID Connect sign-in (`oidc` mode) against a real provider the test
starts (the `oidc-provider-mock` package on 127.0.0.1, as tests/unit/test_identity_provider.py
runs it, with its RFC 7662 introspection endpoint), and a real system (`waypoint run` in
oidc mode, its APIs verifying the same provider's tokens).

The flows are driven over HTTP as a browser would: httpx follows the console's redirect
to the provider's authorisation page, submits its form, and follows the provider back to
the console's callback. The console under test runs in this process (its settings per
test, e.g. a refresh margin longer than the tokens live); the system's own console is
signed in to once with Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from services.console.main import create_app
from services.console.oidc import FLOW_COOKIE, OidcSignIn
from services.console.sessions import Session, SessionStore
from shared.embedded import EmbeddedPostgres
from shared.settings import Settings
from tests.console.conftest import AXE, CHROMIUM_ARGS, bound, chromium
from tests.console.journey import agreed_plan_of
from tests.identity_provider import Provider, running_provider
from tests.support import waypoint_run

MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
AUDIT_KEY = base64.b64encode(os.urandom(32)).decode()
API_CLIENT, API_SECRET = "waypoint", "waypoint-introspection-secret"
CONSOLE_CLIENT, CONSOLE_SECRET = "waypoint-console", "console-secret"
CONSOLE = "https://console.test"
SESSION_COOKIE = "__Host-waypoint-session"
# Keycloak-shaped claims: realm roles and an organisation from a user-attribute mapper.
KEYCLOAK = {
    "GUIDANCE_OIDC_ROLES_CLAIM": "realm_access.roles",
    "GUIDANCE_OIDC_ORG_CLAIM": "organisation",
}
ORG = "org-oidc"
SERIOUS = ("serious", "critical")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib.*")


def keycloak_user(*roles: str) -> dict[str, Any]:
    return {
        "realm_access": {"roles": [*roles, "offline_access", "uma_authorization"]},
        "organisation": ORG,
        "preferred_username": "kim",
    }


@dataclass
class Recorder:
    """What the console sent the provider: the authorisation requests' queries and the
    token requests' forms."""

    authorize: list[dict[str, list[str]]] = field(default_factory=list)
    token: list[dict[str, list[str]]] = field(default_factory=list)

    def wrap(self, wsgi: Any) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO", "")
            if path == "/oauth2/authorize" and environ["REQUEST_METHOD"] == "GET":
                self.authorize.append(parse_qs(environ.get("QUERY_STRING", "")))
            if path == "/oauth2/token":
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
                self.token.append(parse_qs(body.decode()))
            return wsgi(environ, start_response)

        return app


@dataclass
class OidcSystem:
    base: str
    database_url: str
    provider: Provider
    recorder: Recorder


@pytest.fixture(scope="module")
def oidc_system(
    tmp_path_factory: pytest.TempPathFactory, console_postgres: EmbeddedPostgres
) -> Iterator[OidcSystem]:
    """The provider, and `waypoint run` in oidc mode verifying its tokens."""
    recorder = Recorder()
    tmp = tmp_path_factory.mktemp("console-oidc")
    with pytest.MonkeyPatch.context() as mp:
        # The provider's token endpoint refuses plain http unless told it is a test.
        mp.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        with (
            running_provider(recorder.wrap) as provider,
            waypoint_run(
                tmp,
                name="oidc",
                postgres_url=console_postgres.url,
                settings={
                    "AUTHLIB_INSECURE_TRANSPORT": "1",
                    "GUIDANCE_AUTH_MODE": "oidc",
                    "GUIDANCE_OIDC_ISSUER": provider.issuer,
                    "GUIDANCE_OIDC_CLIENT_ID": API_CLIENT,
                    "GUIDANCE_OIDC_CLIENT_SECRET": API_SECRET,
                    "GUIDANCE_OIDC_INTROSPECTION_CACHE_SECONDS": "0",
                    "GUIDANCE_MASTER_KEY": MASTER_KEY,
                    "GUIDANCE_AUDIT_SIGNING_KEY": AUDIT_KEY,
                    "GUIDANCE_CONSOLE_OIDC_CLIENT_ID": CONSOLE_CLIENT,
                    "GUIDANCE_CONSOLE_OIDC_CLIENT_SECRET": CONSOLE_SECRET,
                    "GUIDANCE_CONSOLE_OIDC_PROVIDER_NAME": "Test IdP",
                    **KEYCLOAK,
                },
            ) as running,
        ):
            yield OidcSystem(running.base, running.database_url, provider, recorder)


def console_settings(system: OidcSystem, **changes: Any) -> Settings:
    given: dict[str, Any] = {
        "auth_mode": "oidc",
        "database_url": system.database_url,
        "oidc_issuer": system.provider.issuer,
        "oidc_client_id": API_CLIENT,
        "oidc_client_secret": API_SECRET,
        "oidc_introspection_cache_seconds": 0,
        "oidc_roles_claim": KEYCLOAK["GUIDANCE_OIDC_ROLES_CLAIM"],
        "oidc_org_claim": KEYCLOAK["GUIDANCE_OIDC_ORG_CLAIM"],
        "master_key": MASTER_KEY,
        "audit_signing_key": AUDIT_KEY,
        "console_api_url": system.base,
        "console_oidc_client_id": CONSOLE_CLIENT,
        "console_oidc_client_secret": CONSOLE_SECRET,
        **changes,
    }
    return Settings(**given)


@dataclass
class Browser:
    """httpx as a browser: the console (in this process, over https) and the provider."""

    http: httpx.AsyncClient
    store: SessionStore

    async def session(self) -> Session | None:
        return await self.store.get(self.http.cookies.get(SESSION_COOKIE, domain="console.test"))

    async def sign_in(self, sub: str, next_path: str = "/") -> httpx.Response:
        """From the sign-in page's button through the provider's form and back."""
        start = await self.http.get("/sign-in/start", params={"next": next_path})
        assert start.status_code == 303, start.text
        form = await self.http.get(start.headers["location"])
        assert form.status_code == 200 and 'name="sub"' in form.text, form.text
        # The form posts to its own address, as a browser would.
        authorised = await self.http.post(str(form.url), data={"sub": sub})
        assert authorised.status_code == 302, authorised.text
        return await self.http.get(authorised.headers["location"])


@asynccontextmanager
async def console(system: OidcSystem, **changes: Any) -> AsyncIterator[Browser]:
    settings = console_settings(system, **changes)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with (
            httpx.AsyncClient(
                base_url=CONSOLE,
                mounts={CONSOLE: transport},
                headers={"Accept-Language": "en"},
                timeout=30,
            ) as http,
        ):
            yield Browser(http, app.state.sessions)


async def test_sign_in_with_pkce_lands_signed_in_with_the_mapped_roles_and_calls_the_apis(
    oidc_system: OidcSystem,
) -> None:
    provider, recorder = oidc_system.provider, oidc_system.recorder
    provider.put_user("kim@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system) as browser:
        page = await browser.http.get("/sign-in")
        assert page.status_code == 200
        assert "Sign in with 127.0.0.1" in page.text
        # The form leads on to the provider: the page's CSP allows that origin.
        assert f"form-action 'self' {provider.issuer}" in page.headers["content-security-policy"]

        landed = await browser.sign_in("kim@agency.example", next_path="/clients/new")

        assert landed.status_code == 303, landed.text
        assert landed.headers["location"] == "/clients/new"
        cookie = next(
            c for c in landed.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
        session = await browser.session()
        assert session is not None
        assert session.subject == "kim@agency.example"
        assert session.organisation == ORG
        # Only Waypoint's roles, as the APIs map them (not offline_access and the like).
        assert session.roles == ("counsellor",)
        assert session.refresh_token and session.id_token and session.token_expires_at
        # The worklist comes from the APIs, called with the provider's access token,
        # which they check at the provider (introspection: it is an opaque token).
        before = len(provider.introspections)
        worklist = await browser.http.get("/")
        assert worklist.status_code == 200, worklist.text
        assert '<h1 class="utrecht-heading-1">Worklist</h1>' in worklist.text
        assert session.access_token in provider.introspections[before:]
        # The tokens are kept sealed on the server; the browser never sees them.
        row = await browser.store.pool.fetchrow(
            "SELECT access_token, refresh_token, id_token FROM console.sessions WHERE id_hash = $1",
            session.id_hash,
        )
        for name, plain in (
            ("access_token", session.access_token),
            ("refresh_token", session.refresh_token),
            ("id_token", session.id_token),
        ):
            assert plain.encode() not in row[name]
        assert session.access_token not in worklist.text

    # PKCE S256, state and nonce went to the provider; the verifier came with the code.
    sent = recorder.authorize[-1]
    assert sent["client_id"] == [CONSOLE_CLIENT]
    assert sent["redirect_uri"] == [f"{CONSOLE}/sign-in/callback"]
    assert sent["scope"] == ["openid profile email offline_access"]
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["state"][0] and sent["nonce"][0]
    exchange = next(t for t in reversed(recorder.token) if t.get("code_verifier"))
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(exchange["code_verifier"][0].encode()).digest())
        .decode()
        .rstrip("=")
    )
    assert sent["code_challenge"] == [challenge]


async def test_a_callback_with_another_state_a_provider_error_or_a_used_code_signs_nobody_in(
    oidc_system: OidcSystem,
) -> None:
    oidc_system.provider.put_user("lee@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system) as browser:
        start = await browser.http.get("/sign-in/start")
        query = parse_qs(urlsplit(start.headers["location"]).query)
        state = query["state"][0]

        # A state this browser did not start (a forged or crossed callback).
        forged = await browser.http.get(
            "/sign-in/callback", params={"state": "not-" + state, "code": "anything"}
        )
        assert forged.status_code == 400
        assert "You are not signed in" in forged.text
        assert "not from this site" in forged.text
        # The provider's refusal (the person pressed Deny).
        denied = await browser.http.get(
            "/sign-in/callback", params={"state": state, "error": "access_denied"}
        )
        assert denied.status_code == 400
        assert "cancelled at the identity provider" in denied.text
        # No flow at all (the cookie expired or was never set).
        browser.http.cookies.delete(FLOW_COOKIE)
        stale = await browser.http.get("/sign-in/callback", params={"state": state, "code": "x"})
        assert stale.status_code == 400
        assert await browser.session() is None

        # A code used once already (or expired): the provider refuses it at the exchange.
        start = await browser.http.get("/sign-in/start")
        form = await browser.http.get(start.headers["location"])
        authorised = await browser.http.post(str(form.url), data={"sub": "lee@agency.example"})
        callback = authorised.headers["location"]
        flow_cookie = browser.http.cookies.get(FLOW_COOKIE)
        assert flow_cookie
        assert (await browser.http.get(callback)).status_code == 303
        assert await browser.session() is not None
        await browser.http.post("/sign-out", data={"csrf_token": csrf(await browser.http.get("/"))})
        browser.http.cookies.set(FLOW_COOKIE, flow_cookie, domain="console.test")
        replayed = await browser.http.get(callback)
        assert replayed.status_code == 400, replayed.text
        assert "did not accept this sign-in (invalid_grant)" in replayed.text
        assert await browser.session() is None
        assert SESSION_COOKIE not in replayed.headers.get("set-cookie", "")

        # In French, too (the language chosen is kept at sign-out: forgotten here).
        browser.http.cookies.delete("waypoint-language")
        french = await browser.http.get(
            "/sign-in/callback",
            params={"state": "x", "code": "y"},
            headers={"Accept-Language": "fr"},
        )
        assert french.status_code == 400 and "êtes pas connecté" in french.text


async def test_an_id_token_carrying_another_nonce_is_refused(oidc_system: OidcSystem) -> None:
    """An ID token minted for another authorisation request (a replayed or injected
    one) does not carry this flow's nonce: nobody is signed in."""
    oidc_system.provider.put_user("ida@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system) as browser:
        start = await browser.http.get("/sign-in/start")
        url = urlsplit(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        query["nonce"] = "a-nonce-of-another-request"
        form = await browser.http.get(url._replace(query=urlencode(query)).geturl())
        authorised = await browser.http.post(str(form.url), data={"sub": "ida@agency.example"})

        refused = await browser.http.get(authorised.headers["location"])

        assert refused.status_code == 400, refused.text
        assert "could not be verified" in refused.text
        assert await browser.session() is None


def test_the_flow_cookie_opens_only_as_sealed_and_for_ten_minutes() -> None:
    flow = OidcSignIn(
        Settings(
            auth_mode="oidc",
            oidc_issuer="https://idp.example",
            master_key=MASTER_KEY,
            audit_signing_key=AUDIT_KEY,
        )
    )
    fresh = flow.seal_flow({"state": "s", "at": int(time.time())})
    assert flow.open_flow(fresh) == {"state": "s", "at": pytest.approx(time.time(), abs=5)}
    tampered = fresh[:-2] + ("A" if fresh[-2] != "A" else "B") + fresh[-1]
    old = flow.seal_flow({"state": "s", "at": int(time.time()) - 601})
    for cookie in (tampered, old, "", "not-base64!", "x" * 3000):
        assert flow.open_flow(cookie) is None


async def test_an_access_token_within_the_margin_of_its_expiry_is_refreshed_and_the_session_kept(
    oidc_system: OidcSystem,
) -> None:
    oidc_system.provider.put_user("ana@agency.example", keycloak_user("counsellor"))
    # The provider's tokens live an hour: a margin of two makes every page refresh.
    async with console(oidc_system, console_oidc_refresh_margin_seconds=7200) as browser:
        await browser.sign_in("ana@agency.example")
        before = await browser.session()  # as signed in (only pages refresh)
        assert before is not None
        refreshes = sum(
            t.get("grant_type") == ["refresh_token"] for t in oidc_system.recorder.token
        )

        worklist = await browser.http.get("/")

        assert worklist.status_code == 200, worklist.text
        after = await browser.session()
        assert after is not None and after.id_hash == before.id_hash
        assert after.access_token != before.access_token
        assert after.roles == ("counsellor",)
        assert refreshed(oidc_system) > refreshes
        # The old access token is no longer accepted by the APIs; the new one is.
        assert (await api_whoami(oidc_system, before.access_token)) == 401
        assert (await api_whoami(oidc_system, after.access_token)) == 200


async def test_two_console_processes_refresh_one_session_once(oidc_system: OidcSystem) -> None:
    # The provider takes a refresh token once (it rotates them): two processes of the
    # console (GUIDANCE_WORKERS > 1) that find the same session due must not both refresh.
    oidc_system.provider.put_user("cy@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system) as first, console(oidc_system) as second:
        await first.sign_in("cy@agency.example")
        cookie = first.http.cookies.get(SESSION_COOKIE, domain="console.test")
        assert cookie
        second.http.cookies.set(SESSION_COOKIE, cookie, domain="console.test")
        session = await first.session()
        assert session is not None
        # Due: the access token expires within the refresh margin (60 s by default).
        await first.store.pool.execute(
            "UPDATE console.sessions SET token_expires_at = now() + interval '5 seconds' "
            "WHERE id_hash = $1",
            session.id_hash,
        )
        before = refreshed(oidc_system)

        pages = await asyncio.gather(*(b.http.get("/") for b in (first, second) * 3))

        assert [p.status_code for p in pages] == [200] * 6, [p.text[:200] for p in pages]
        assert refreshed(oidc_system) == before + 1
        after = await second.session()
        assert after is not None and after.access_token != session.access_token


async def test_a_refused_refresh_ends_the_session_and_sign_in_returns_to_the_page(
    oidc_system: OidcSystem,
) -> None:
    provider = oidc_system.provider
    provider.put_user("bo@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system, console_oidc_refresh_margin_seconds=7200) as browser:
        await browser.sign_in("bo@agency.example")
        session = await browser.session()
        assert session is not None
        provider.revoke("bo@agency.example")  # its refresh token too

        page = await browser.http.get("/clients/new?name=x")

        assert page.status_code == 303
        assert page.headers["location"] == "/sign-in?next=%2Fclients%2Fnew%3Fname%3Dx"
        assert await browser.store.reload(session) is None
        # Signing in again returns there (only paths of this site are ever gone back to).
        landed = await browser.sign_in("bo@agency.example", next_path="/clients/new?name=x")
        assert landed.headers["location"] == "/clients/new?name=x"
        elsewhere = await browser.sign_in("bo@agency.example", next_path="https://evil.example/")
        assert elsewhere.headers["location"] == "/"


async def test_logout_ends_the_session_and_continues_at_the_providers_end_session(
    oidc_system: OidcSystem,
) -> None:
    provider = oidc_system.provider
    provider.put_user("eve@agency.example", keycloak_user("counsellor"))
    async with console(oidc_system) as browser:
        await browser.sign_in("eve@agency.example")
        session = await browser.session()
        assert session is not None

        out = await browser.http.post(
            "/sign-out", data={"csrf_token": csrf(await browser.http.get("/"))}
        )

        assert out.status_code == 303
        target = urlsplit(out.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == (
            f"{provider.issuer}/oauth2/end_session"
        )
        params = parse_qs(target.query)
        assert params["id_token_hint"] == [session.id_token]
        assert params["post_logout_redirect_uri"] == [f"{CONSOLE}/sign-in"]
        assert params["client_id"] == [CONSOLE_CLIENT]
        assert await browser.store.reload(session) is None
        assert (await browser.http.get("/")).headers["location"] == "/sign-in"
        # The provider's page confirms, then sends the browser back to the sign-in page.
        confirm = await browser.http.get(out.headers["location"])
        action = re.search(r'<form method="post" action="([^"]+)"', confirm.text)
        assert action, confirm.text
        back = await browser.http.post(
            provider.issuer + action.group(1),
            data={"redirect_uri": params["post_logout_redirect_uri"][0]},
        )
        assert back.headers["location"] == f"{CONSOLE}/sign-in"


async def test_a_person_without_a_waypoint_role_is_told_so_and_not_signed_in(
    oidc_system: OidcSystem,
) -> None:
    oidc_system.provider.put_user("max@agency.example", {"preferred_username": "max"})
    async with console(oidc_system) as browser:
        refused = await browser.sign_in("max@agency.example")
        assert refused.status_code == 403
        assert "has no access to Waypoint" in refused.text
        assert await browser.session() is None


@pytest.mark.browser
async def test_chromium_signs_in_through_the_provider_and_out_again(
    oidc_system: OidcSystem, screenshots: Path
) -> None:
    """The system's own console (as `waypoint run` serves it) in Chromium."""
    from playwright.async_api import async_playwright

    oidc_system.provider.put_user("noor@agency.example", keycloak_user("counsellor"))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            context = bound(await browser.new_context(locale="nl-NL"))
            page = await context.new_page()
            await page.goto(oidc_system.base + "/")
            assert page.url == oidc_system.base + "/sign-in"
            await page.screenshot(path=screenshots / "oidc-sign-in.png", full_page=True)
            await page.evaluate(AXE.read_text())
            found = await page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})"
            )
            assert not [v["id"] for v in found["violations"] if v.get("impact") in SERIOUS]
            await page.get_by_role("button", name="Inloggen met Test IdP").click()
            await page.wait_for_url(oidc_system.provider.issuer + "/oauth2/authorize**")
            await page.fill('input[name="sub"]', "noor@agency.example")
            await page.get_by_role("button", name="Authorize").click()
            await page.wait_for_url(oidc_system.base + "/")
            assert await page.locator("h1").inner_text() == "Werklijst"
            await page.screenshot(path=screenshots / "oidc-signed-in.png", full_page=True)
            await page.click("#sign-out")
            await page.wait_for_url(oidc_system.provider.issuer + "/oauth2/end_session**")
            await page.get_by_role("button", name="End session").click()
            await page.wait_for_url(oidc_system.base + "/sign-in")
            await page.goto(oidc_system.base + "/")
            assert page.url == oidc_system.base + "/sign-in"
        finally:
            await browser.close()


def counsellor_of(organisation: str, name: str) -> dict[str, Any]:
    return {**keycloak_user("counsellor"), "organisation": organisation, "preferred_username": name}


@pytest.mark.browser
async def test_a_counsellor_of_another_organisation_sees_nothing_of_the_first(
    oidc_system: OidcSystem, screenshots: Path
) -> None:
    """Two organisations in one system: the second's counsellor, signed in to the
    system's console, meets the first's client, case and plan as pages that do not
    exist (nothing of them shown), and lists and counts only their own (the first's
    follow-up, due check-ins and bottleneck not among them)."""
    from playwright.async_api import async_playwright

    provider = oidc_system.provider
    first = provider.sign_in("ann@first.example", counsellor_of("org-first", "ann"))
    client_id, case_id, plan_id = agreed_plan_of(oidc_system.base, first["access_token"])
    with httpx.Client(
        base_url=oidc_system.base,
        headers={"Authorization": f"Bearer {first['access_token']}"},
    ) as api:
        [followup] = api.get("/followup/v1/followups", params={"case_id": case_id}).json()
        r = api.post(
            f"/followup/v1/followups/{followup['followup_id']}/action-checks",
            json={
                "action_id": followup["actions"][0]["action_id"],
                "status": "partly",
                "bottleneck": "Noor Claes waits for an answer",
            },
        )
        assert r.status_code == 201, r.text
    second = provider.sign_in("ben@second.example", counsellor_of("org-second", "ben"))
    with httpx.Client(
        base_url=oidc_system.base,
        headers={"Authorization": f"Bearer {second['access_token']}"},
    ) as api:
        own = api.post(
            "/intake/v1/clients",
            json={
                "given_name": "Bram",
                "family_name": "Tweede",
                "birth_date": "1979-06-01",
                "email": "bram@example.org",
            },
        ).json()["client_id"]
        r = api.post(
            f"/intake/v1/clients/{own}/consents", json={"purpose": "guidance", "granted": True}
        )
        assert r.status_code == 201, r.text
        r = api.post("/intake/v1/cases", json={"client_id": own, "career_question": "Next?"})
        assert r.status_code == 201, r.text
    names, ids = ("Noor", "Claes", "What next?"), (client_id, case_id, plan_id)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            context = bound(await browser.new_context(locale="en-GB"))
            page = await context.new_page()
            await page.goto(oidc_system.base + "/sign-in")
            await page.get_by_role("button", name="Sign in with Test IdP").click()
            await page.wait_for_url(provider.issuer + "/oauth2/authorize**")
            await page.fill('input[name="sub"]', "ben@second.example")
            await page.get_by_role("button", name="Authorize").click()
            await page.wait_for_url(oidc_system.base + "/")

            async def shown(name: str) -> None:
                await page.screenshot(path=screenshots / f"other-org-{name}.png", full_page=True)
                await page.evaluate(AXE.read_text())
                found = await page.evaluate(
                    "async () => await axe.run(document, {resultTypes: ['violations']})"
                )
                assert not [v["id"] for v in found["violations"] if v.get("impact") in SERIOUS]
                # Nothing of theirs: no name anywhere in the page, no id in what it says
                # (its own address is in its forms' `next`, as on every page).
                whole = str(await page.content())
                said = await page.title() + str(await page.locator("main").inner_html())
                leaked = [s for s in names if s in whole] + [s for s in ids if s in said]
                assert not leaked, f"{page.url} shows {leaked}"

            # Their worklist and client list: their own case, counted as one; no check-in
            # of the first organisation's follow-up.
            await shown("worklist")
            assert await page.locator("caption", has_text="case").inner_text() == (
                "1 case, newest first"
            )
            assert "No check-ins are due." in await page.locator("main").inner_text()
            assert "No open follow-up has a bottleneck." in await page.locator("main").inner_text()
            await page.goto(oidc_system.base + "/clients?whose=all")
            await shown("clients")
            rows = page.locator("#clients tbody tr")
            assert await rows.count() == 1
            assert "Bram Tweede" in await rows.inner_text()
            assert await page.locator("#clients caption").inner_text() == "1 case, newest first"

            # The first organisation's pages: not found, whatever the address.
            for path in (
                f"/clients/{client_id}",
                f"/cases/{case_id}",
                f"/cases/{case_id}/plan",
                f"/cases/{case_id}/followup",
                f"/plans/{plan_id}",
                f"/plans/{plan_id}/versions",
                f"/plans/{plan_id}/document",
                f"/clients/{client_id}/export",
            ):
                answer = await page.goto(oidc_system.base + path)
                assert answer is not None and answer.status == 404, (path, answer and answer.status)
                await shown("not-found")
                assert await page.locator("h1").inner_text() == "Page not found", path
        finally:
            await browser.close()


# --- helpers ------------------------------------------------------------------------


def refreshed(system: OidcSystem) -> int:
    """How many refresh-token grants the provider has been asked for."""
    return sum(t.get("grant_type") == ["refresh_token"] for t in system.recorder.token)


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def api_whoami(system: OidcSystem, token: str) -> int:
    async with httpx.AsyncClient(base_url=system.base) as http:
        r = await http.get("/followup/v1/worklist", headers={"Authorization": f"Bearer {token}"})
    return r.status_code

"""Signing in with OpenID Connect (`oidc` mode): the authorisation code flow with PKCE.

`/sign-in` shows one button, "Sign in with <provider>"; it leads to `/sign-in/start`,
which sends the browser to the provider's authorisation endpoint (found by discovery from
GUIDANCE_OIDC_ISSUER, the issuer the APIs verify) with `state`, `nonce` and an S256 code
challenge. What the callback needs to check the answer (state, nonce, code verifier, the
page to return to) travels in a short-lived cookie, sealed with the session key.
`/sign-in/callback` trades the code for tokens (authlib's client), verifies the ID token
(signature against the provider's JWKS, iss, aud, exp, nonce) and reads the person's
roles, organisation and partner from the access token exactly as the APIs do
(shared.auth.TokenVerifier, through the deployment's claim mapping), so the console shows
what the APIs will allow. The tokens stay on the server, sealed in the session.

Before the access token expires (GUIDANCE_CONSOLE_OIDC_REFRESH_MARGIN_SECONDS) a request
refreshes it with the refresh token; if the provider refuses, the session ends and the
person signs in again, back to the page they were on. Logout ends the session and, when
the provider names an `end_session_endpoint`, continues there (RP-initiated logout with
`id_token_hint` and `post_logout_redirect_uri`).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import secrets
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import asyncpg

# authlib asks for `httpx2`, its fork of httpx; the pinned httpx serves it still. Its
# deprecation module adds an "always" filter when first imported: import it first, so
# that the "ignore" below is the one that applies.
import authlib.deprecate  # noqa: F401
import httpx
import jwt
from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.i18n import N_
from services.console.sessions import Sealer, Session, SessionStore
from services.console.signin import start_session
from services.console.web import View, safe_next, view
from shared.auth import TokenVerifier
from shared.errors import Problem, Unavailable
from shared.oidc.discovery import (
    ASYMMETRIC,
    WELL_KNOWN,
    DiscoveryError,
    accepted_issuers,
    normalise_issuer,
)
from shared.oidc.jwks import JwksCache, KeysUnavailable
from shared.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

log = logging.getLogger(__name__)
Page = Annotated[View, Depends(view)]

# The flow's cookie: what the callback checks the provider's answer against.
FLOW_COOKIE = "__Host-waypoint-oidc-flow"
FLOW_SECONDS = 600
FLOW_BINDING = b"waypoint console oidc flow"
# The token endpoint may be slower than discovery or keys (it checks a password, a code).
TOKEN_TIMEOUT_SECONDS = 10.0

EXPIRED = N_(
    "This sign-in cannot be completed: it was started too long ago, in another window, or "
    "not from this site. Nothing happened; sign in again."
)
CANCELLED = N_("The sign-in was cancelled at the identity provider. Sign in again to continue.")
PROVIDER_ERROR = N_(
    "The identity provider could not sign you in (%(error)s). Sign in again; if this keeps "
    "happening, tell your administrator."
)
CODE_REFUSED = N_(
    "The identity provider did not accept this sign-in (%(error)s); it may have taken too "
    "long. Sign in again."
)
NOT_VERIFIED = N_(
    "The identity provider's answer could not be verified, so you are not signed in. Sign "
    "in again; if this keeps happening, tell your administrator."
)
NO_ACCESS = N_(
    "You are signed in at the identity provider, but your account has no access to "
    "Waypoint (no role or organisation of Waypoint). Ask your administrator."
)
UNREACHABLE = N_(
    "The identity provider cannot be reached just now. Nothing happened; try again in a moment."
)
NOT_CONFIGURED = N_(
    "Signing in is not set up on this server (GUIDANCE_CONSOLE_OIDC_CLIENT_ID is missing). "
    "Tell your administrator."
)


class SignInFailed(Exception):
    """The callback cannot sign this person in: a page says why; no session."""

    def __init__(
        self, status: int, message: str, *, ends_flow: bool = True, **values: object
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.values = status, message, values
        # A callback that is not this browser's flow (another state) leaves the flow be:
        # a forged callback must not spoil the person's own sign-in under way.
        self.ends_flow = ends_flow


class ProviderUnreachable(Exception):
    """Discovery failed (the provider is down, or its document cannot be trusted)."""


@dataclass(frozen=True)
class Provider:
    """What the console needs of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def provider_name(settings: Settings) -> str:
    host = urlsplit(settings.oidc_issuer or "").hostname
    return settings.console_oidc_provider_name or host or ""


class OidcSignIn:
    """oidc mode's sign-in routes, token refresh and logout."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = APIRouter()
        self.router.add_api_route("/sign-in", self.page, methods=["GET"], name="oidc_sign_in")
        self.router.add_api_route("/sign-in/start", self.start_flow, methods=["GET"])
        self.router.add_api_route(
            "/sign-in/callback", self.callback, methods=["GET"], name="oidc_callback"
        )
        self.sealer = Sealer(settings.master_key_bytes, settings.master_key_previous_bytes)
        # The access token checked as the APIs check it, for the roles the console shows.
        self.verifier = TokenVerifier(settings)
        self._provider: Provider | None = None
        self._provider_lock = asyncio.Lock()
        self._failed_at: float | None = None
        self._keys: JwksCache | None = None
        self._refreshing: dict[bytes, asyncio.Lock] = {}

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if not self.settings.console_oidc_client_id:
            log.error("oidc mode: GUIDANCE_CONSOLE_OIDC_CLIENT_ID is not set; nobody can sign in")
        await self.verifier.start()

    async def close(self) -> None:
        await self.verifier.close()
        if self._keys is not None:
            await self._keys.close()

    # --- discovery --------------------------------------------------------------------

    async def provider(self) -> Provider:
        if self._provider is not None:
            return self._provider
        async with self._provider_lock:
            if self._provider is not None:
                return self._provider
            if self._failed_at is not None and time.monotonic() - self._failed_at < 5.0:
                raise ProviderUnreachable("discovery failed moments ago")
            try:
                self._provider = await self._discover()
            except (httpx.HTTPError, ValueError) as e:
                # DiscoveryError is a ValueError: logged as such, retried shortly, as a
                # provider reconfigured while we run may well be fixed.
                self._failed_at = time.monotonic()
                log.warning("console: OpenID discovery failed: %s", e)
                raise ProviderUnreachable(str(e)) from e
            self._keys = JwksCache(
                self._provider.jwks_uri,
                timeout=self.settings.oidc_http_timeout_seconds,
                max_age=self.settings.oidc_jwks_max_age_seconds,
                min_age=self.settings.oidc_jwks_min_age_seconds,
                unknown_kid_interval=self.settings.oidc_unknown_kid_interval_seconds,
            )
            self._keys.start()
            return self._provider

    async def _discover(self) -> Provider:
        issuer = self.settings.oidc_issuer
        assert issuer, "oidc mode has an issuer (see Settings._secrets)"
        url = normalise_issuer(issuer) + WELL_KNOWN
        async with httpx.AsyncClient(timeout=self.settings.oidc_http_timeout_seconds) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise DiscoveryError(f"{url} did not answer a JSON object")
        named = document.get("issuer")
        if not isinstance(named, str) or normalise_issuer(named) != normalise_issuer(issuer):
            raise DiscoveryError(f"the discovery document names issuer {named!r}, not {issuer!r}")

        def endpoint(name: str, required: bool = True) -> str | None:
            value = document.get(name)
            if isinstance(value, str) and value.startswith(("https://", "http://")):
                return value
            if required or value is not None:
                raise DiscoveryError(f"the discovery document's {name} is not a URL")
            return None

        listed = document.get("id_token_signing_alg_values_supported")
        algorithms = tuple(
            a for a in (listed if isinstance(listed, list) else ["RS256"]) if a in ASYMMETRIC
        )
        if not algorithms:
            raise DiscoveryError("the provider signs ID tokens with no asymmetric algorithm")
        return Provider(
            issuer=named,
            authorization_endpoint=endpoint("authorization_endpoint") or "",
            token_endpoint=endpoint("token_endpoint") or "",
            jwks_uri=self.settings.oidc_jwks_url or endpoint("jwks_uri") or "",
            end_session_endpoint=endpoint("end_session_endpoint", required=False),
            algorithms=algorithms,
        )

    # --- the flow ---------------------------------------------------------------------

    def client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        secret = self.settings.console_oidc_client_secret
        return AsyncOAuth2Client(
            client_id=self.settings.console_oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            # A public client (no secret) proves itself with PKCE alone.
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TOKEN_TIMEOUT_SECONDS,
        )

    def redirect_uri(self, request: Request) -> str:
        return self.settings.console_oidc_redirect_uri or str(request.url_for("oidc_callback"))

    async def page(self, page: Page, next: str = "/") -> HTMLResponse:
        return page.render(
            "sign_in_oidc.html",
            provider=provider_name(self.settings),
            next=safe_next(next),
            configured=bool(self.settings.console_oidc_client_id),
        )

    async def start_flow(self, request: Request, page: Page, next: str = "/") -> Response:
        """To the provider's authorisation endpoint, the flow's secrets in a cookie."""
        if not self.settings.console_oidc_client_id:
            return self.failed(page, SignInFailed(503, NOT_CONFIGURED))
        try:
            provider = await self.provider()
        except ProviderUnreachable:
            return self.failed(page, SignInFailed(503, UNREACHABLE))
        flow = {
            "state": secrets.token_urlsafe(32),
            "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(64),  # 86 characters (RFC 7636: 43 to 128)
            "next": safe_next(next),
            "at": int(time.time()),
        }
        redirect_uri = self.redirect_uri(request)
        async with self.client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                provider.authorization_endpoint,
                state=flow["state"],
                code_verifier=flow["verifier"],
                nonce=flow["nonce"],
                scope=self.settings.console_oidc_scopes,
                ui_locales=page.language,
            )
        flow["redirect_uri"] = redirect_uri
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            FLOW_COOKIE,
            self.seal_flow(flow),
            max_age=FLOW_SECONDS,
            httponly=True,
            # Lax: the browser sends it on the provider's top-level redirect back.
            samesite="lax",
            secure=True,
            path="/",
        )
        return response

    def seal_flow(self, flow: dict[str, Any]) -> str:
        sealed = self.sealer.seal(json.dumps(flow), FLOW_BINDING)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open_flow(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > 2000:
            return None
        try:
            sealed = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            flow = json.loads(self.sealer.open(sealed, FLOW_BINDING))
        except (ValueError, InvalidTag):
            return None
        if not isinstance(flow, dict) or int(flow.get("at", 0)) + FLOW_SECONDS < time.time():
            return None
        return flow

    async def callback(self, request: Request, page: Page) -> Response:
        try:
            return await self._callback(request, page)
        except SignInFailed as e:
            return self.failed(page, e)

    def failed(self, page: View, error: SignInFailed) -> Response:
        response = page.render(
            "error.html",
            status=error.status,
            title=page.gettext(N_("You are not signed in")),
            message=page.gettext(error.message, **error.values),
        )
        if error.ends_flow:
            response.delete_cookie(
                FLOW_COOKIE, path="/", secure=True, httponly=True, samesite="lax"
            )
        return response

    async def _callback(self, request: Request, page: Page) -> Response:
        flow = self.open_flow(request.cookies.get(FLOW_COOKIE))
        given = request.query_params
        state = given.get("state")
        if flow is None or not state or not hmac.compare_digest(state, str(flow["state"])):
            raise SignInFailed(400, EXPIRED, ends_flow=flow is None)
        if "error" in given:
            error = given["error"][:100]
            if error == "access_denied":
                raise SignInFailed(400, CANCELLED)
            raise SignInFailed(400, PROVIDER_ERROR, error=error)
        code = given.get("code")
        if not code:
            raise SignInFailed(400, EXPIRED)
        try:
            provider = await self.provider()
        except ProviderUnreachable as e:
            raise SignInFailed(503, UNREACHABLE) from e
        try:
            async with self.client(str(flow["redirect_uri"])) as client:
                token = await client.fetch_token(
                    provider.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=str(flow["verifier"]),
                )
        except OAuthError as e:
            log.info("console: the provider refused the code: %s", e.error)
            raise SignInFailed(400, CODE_REFUSED, error=str(e.error)[:100]) from e
        except (httpx.HTTPError, ValueError) as e:
            log.warning("console: the token endpoint failed: %s", e)
            raise SignInFailed(503, UNREACHABLE) from e
        id_token = token.get("id_token")
        access_token = token.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            log.warning("console: the token response lacks an ID or access token")
            raise SignInFailed(502, NOT_VERIFIED)
        await self.verify_id_token(provider, id_token, nonce=str(flow["nonce"]))
        principal = await self.principal(access_token)
        response = await start_session(
            page,
            subject=principal.sub,
            organisation=principal.org,
            roles=sorted(principal.roles),
            partner_id=str(principal.partner_id) if principal.partner_id else None,
            access_token=access_token,
            next_path=str(flow["next"]),
            refresh_token=token.get("refresh_token"),
            id_token=id_token,
            token_expires_at=expiry(token),
        )
        response.delete_cookie(FLOW_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response

    async def verify_id_token(
        self, provider: Provider, id_token: str, nonce: str | None
    ) -> dict[str, Any]:
        """The ID token's claims: signed by the provider's key, for this client, by this
        issuer, not expired, and (at sign-in) carrying the nonce this flow sent."""
        assert self._keys is not None
        client_id = self.settings.console_oidc_client_id
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self._keys.key(kid if isinstance(kid, str) else None)
            if key is None:
                raise jwt.InvalidTokenError(f"no published key for kid {kid!r}")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=list(provider.algorithms),
                audience=client_id,
                issuer=accepted_issuers(provider.issuer),
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            if len(audiences) > 1 and claims.get("azp") != client_id:
                raise jwt.InvalidTokenError("azp is not this client")
            if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
                raise jwt.InvalidTokenError("the nonce is not this flow's")
        except KeysUnavailable as e:
            raise SignInFailed(503, UNREACHABLE) from e
        except (jwt.PyJWTError, ValueError) as e:
            log.warning("console: ID token refused: %s", e)
            raise SignInFailed(400, NOT_VERIFIED) from e
        return claims

    async def principal(self, access_token: str) -> Any:
        """Who the APIs will take the access token's holder for."""
        try:
            return await self.verifier.verify(access_token)
        except Unavailable as e:
            raise SignInFailed(503, UNREACHABLE) from e
        except Problem as e:
            log.info("console: a signed-in person's access token is refused: %s", e)
            raise SignInFailed(403, NO_ACCESS) from e

    # --- refresh ----------------------------------------------------------------------

    async def refresh_session(self, request: Request, session: Session) -> Session | None:
        """The session, its access token refreshed when it expires within the margin;
        None when the refresh fails (the session is then gone)."""
        margin = timedelta(seconds=self.settings.console_oidc_refresh_margin_seconds)
        due = session.token_expires_at
        if due is None or datetime.now(UTC) < due - margin:
            return session
        store: SessionStore = request.app.state.sessions
        lock = self._refreshing.setdefault(session.id_hash, asyncio.Lock())
        try:
            # One refresh at a time per session: in this process (the lock), and across
            # the console's processes (the session's row lock in the database).
            async with lock, store.exclusive(session) as conn:
                # Another request of this browser may have refreshed it meanwhile.
                current = await store.reload(session, conn)
                if current is None:
                    return None
                if current.token_expires_at is None or (
                    datetime.now(UTC) < current.token_expires_at - margin
                ):
                    return current
                return await self._refresh(store, current, conn)
        finally:
            if not lock.locked():
                self._refreshing.pop(session.id_hash, None)

    async def _refresh(
        self, store: SessionStore, session: Session, conn: asyncpg.Connection
    ) -> Session | None:
        expired = session.token_expires_at is not None and session.token_expires_at <= datetime.now(
            UTC
        )
        if not session.refresh_token:
            if expired:
                await store.delete(session, conn)
                return None
            return session
        try:
            provider = await self.provider()
            async with self.client() as client:
                token = await client.refresh_token(
                    provider.token_endpoint, refresh_token=session.refresh_token
                )
            access_token = token.get("access_token")
            if not isinstance(access_token, str):
                raise OAuthError(error="no_access_token")
            id_token = token.get("id_token")
            if isinstance(id_token, str):
                await self.verify_id_token(provider, id_token, nonce=None)
            principal = await self.verifier.verify(access_token)
        except (OAuthError, SignInFailed, Problem, ProviderUnreachable, httpx.HTTPError) as e:
            unreachable = isinstance(e, ProviderUnreachable | httpx.HTTPError | Unavailable) or (
                isinstance(e, SignInFailed) and e.status == 503
            )
            if unreachable and not expired:
                # The provider is away for now; the token still serves a while.
                log.warning("console: refresh failed, retried on the next page: %s", e)
                return session
            # Refused (the refresh token is revoked or expired, the person lost access),
            # or the provider is away past the token's expiry: sign in again.
            log.info("console: refresh failed, the session ends: %s", e)
            await store.delete(session, conn)
            return None
        if principal.sub != session.subject or principal.org != session.organisation:
            # Another person's tokens: never.
            log.warning("console: a refresh returned another subject; the session ends")
            await store.delete(session, conn)
            return None
        return await store.update_tokens(
            session,
            access_token=access_token,
            refresh_token=token.get("refresh_token") or session.refresh_token,
            id_token=id_token if isinstance(id_token, str) else session.id_token,
            token_expires_at=expiry(token),
            roles=sorted(principal.roles),
            partner_id=str(principal.partner_id) if principal.partner_id else None,
            conn=conn,
        )

    # --- logout -----------------------------------------------------------------------

    async def sign_out_to(self, request: Request, session: Session | None) -> str | None:
        """The provider's end_session_endpoint (RP-initiated logout), if it has one."""
        try:
            provider = await self.provider()
        except ProviderUnreachable:
            return None
        if not provider.end_session_endpoint:
            return None
        params = {
            "client_id": self.settings.console_oidc_client_id or "",
            "post_logout_redirect_uri": self.settings.console_oidc_post_logout_redirect_uri
            or str(request.url_for("oidc_sign_in")),
        }
        if session is not None and session.id_token:
            params["id_token_hint"] = session.id_token
        joiner = "&" if "?" in provider.end_session_endpoint else "?"
        return provider.end_session_endpoint + joiner + urlencode(params)


def expiry(token: dict[str, Any]) -> datetime | None:
    """When the access token expires (authlib adds `expires_at` from `expires_in`)."""
    at = token.get("expires_at")
    if isinstance(at, int | float) and not isinstance(at, bool):
        return datetime.fromtimestamp(at, UTC)
    return None

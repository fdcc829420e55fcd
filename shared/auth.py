"""Bearer JWT authentication and role checks, as one FastAPI dependency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWK

from shared.errors import Forbidden, Problem, Unauthorized, Unavailable
from shared.oidc.claims import DEFAULT_MAPPING, MISSING, ClaimMapping
from shared.oidc.discovery import (
    DiscoveryError,
    ProviderMetadata,
    accepted_issuers,
    provider_metadata,
    provider_unavailable,
)
from shared.oidc.introspection import Introspector, is_jwt
from shared.oidc.jwks import JwksCache, KeysUnavailable
from shared.settings import Settings
from shared.text import clean

DEV_ISSUER = "guidance-dev"
AUDIENCE = "guidance"
ROLES = frozenset({"counsellor", "team_lead", "partner", "auditor", "admin", "directory_admin"})
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# The `audit_scope` claim naming every organisation: a supervisory authority.
ALL_ORGS = "*"
MAX_CLAIM_CHARS = 255
# Real tokens are well under 2 KB; a larger one is refused unread (and never cached).
MAX_TOKEN_BYTES = 8192

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditScope:
    """Whose audit views a caller may read: the organisations the token's `audit_scope`
    names, `*` for every one; without the claim, the caller's own organisation only."""

    orgs: frozenset[str] = field(default_factory=frozenset)
    everyone: bool = False

    def covers(self, org: str | None) -> bool:
        return self.everyone or (org is not None and org in self.orgs)

    def recorded(self) -> list[str]:
        """As a recorded read keeps it: `["*"]`, or the organisations, sorted."""
        return [ALL_ORGS] if self.everyone else sorted(self.orgs)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified claims that handlers and queries need."""

    sub: str
    org: str
    roles: frozenset[str] = field(default_factory=frozenset)
    partner_id: uuid.UUID | None = None
    # The `audit_scope` claim as the token gave it; None: the token has none.
    audit_claim: AuditScope | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def counsellor_filter(self, value: str | None) -> str | None:
        """A list's `?counsellor=`: `me` is the caller, anything else a counsellor's sub."""
        return self.sub if value == "me" else value

    @property
    def audit_scope(self) -> AuditScope:
        """The organisations whose audit views this caller may read: never implied beyond
        the caller's own organisation (an auditor or admin of B does not read A)."""
        if self.audit_claim is not None:
            return self.audit_claim
        return AuditScope(frozenset({self.org}))


class TokenVerifier:
    """Verifies tokens: HS256 with the dev secret, or RS256/ES256 against the provider's
    keys in oidc mode (shared/oidc/jwks.py: fetched off the request path, refreshed in
    the background; `start` and `close` run in the service's lifespan, else it starts on
    first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: JwksCache | None = None
        # token -> (principal, expiry, the provider's key that verified it).
        self._verified: dict[str, tuple[Principal, float, PyJWK | None]] = {}
        self.mapping = ClaimMapping.from_settings(settings)
        self._introspector = Introspector(settings)
        self._algorithms = [a for a in settings.oidc_algorithms if a[:2] in ("RS", "ES", "PS")]
        self._discovery: asyncio.Task[None] | None = None
        # Without a JWKS URL the key set is found by discovery, on the first token.
        if settings.auth_mode == "oidc" and settings.oidc_jwks_url:
            self._jwks = self._key_set(settings.oidc_jwks_url)

    def _key_set(self, url: str) -> JwksCache:
        s = self.settings
        return JwksCache(
            url,
            timeout=s.oidc_http_timeout_seconds,
            max_age=s.oidc_jwks_max_age_seconds,
            min_age=s.oidc_jwks_min_age_seconds,
            unknown_kid_interval=s.oidc_unknown_kid_interval_seconds,
        )

    async def start(self) -> None:
        if self._jwks is not None:
            self._jwks.start()
        elif self.settings.auth_mode == "oidc":
            # Discover the provider and fetch its keys in the background, so that the
            # first tokens find them; a provider down now is met again by those tokens.
            self._discovery = asyncio.create_task(self._warm_up())

    async def _warm_up(self) -> None:
        with contextlib.suppress(Problem):
            await self._keys()

    async def close(self) -> None:
        if self._discovery is not None:
            self._discovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._discovery
        if self._jwks is not None:
            await self._jwks.close()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; a token seen before is not verified again
        until it expires (a signature check costs more than the rest of a request), nor
        once the provider no longer publishes the key that verified it. In oidc mode an
        opaque (non-JWT) access token is checked by RFC 7662 introspection."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("The token is too large.", headers=_challenge())
        hit = self._verified.get(token)
        if hit is not None:
            key = hit[2]
            if hit[1] > time.time() and (
                key is None or (self._jwks is not None and self._jwks.holds(key))
            ):
                return hit[0]
            # Expired, or its key is no longer published: verified afresh (and refused).
            del self._verified[token]
        if self.settings.auth_mode == "oidc" and not is_jwt(token):
            # The introspector keeps its own short cache of answers.
            return await self._introspect(token)
        principal, expires, key = await self._verify(token)
        if len(self._verified) >= 10_000:
            self._verified.clear()
        self._verified[token] = (principal, expires, key)
        return principal

    async def _introspect(self, token: str) -> Principal:
        metadata = await self._provider()
        if not metadata.introspection_endpoint:
            log.debug("token refused: not a JWT, and no introspection endpoint")
            raise Unauthorized("The token is not valid.", headers=_challenge())
        return principal_from_claims(await self._introspector.claims(token, metadata), self.mapping)

    async def _provider(self) -> ProviderMetadata:
        try:
            return await provider_metadata(self.settings)
        except DiscoveryError as e:
            # A start checks the document (and stops on this); a provider that was down
            # then and answers nonsense now is the operator's to fix, not the caller's.
            log.error("OpenID discovery: %s", e)
            raise provider_unavailable("The identity provider is misconfigured.") from e

    async def _keys(self) -> JwksCache:
        """The provider's key set: configured, or found by discovery on first use."""
        if self._jwks is None:
            metadata = await self._provider()
            if not metadata.jwks_uri:
                raise provider_unavailable("The identity provider publishes no keys.")
            if self._jwks is None:  # another request may have got here first
                self._algorithms = list(metadata.algorithms)
                self._jwks = self._key_set(metadata.jwks_uri)
                self._jwks.start()
        return self._jwks

    async def _verify(self, token: str) -> tuple[Principal, float, PyJWK | None]:
        s = self.settings
        signing_key: PyJWK | None = None
        try:
            if s.auth_mode == "oidc":
                signing_key = await self._signing_key(token)
                # The PyJWK itself, not its .key: it binds the key's algorithm, so a
                # header naming another one is refused (else a TypeError, a 500).
                claims = jwt.decode(
                    token,
                    signing_key,
                    algorithms=self._algorithms,
                    audience=s.oidc_audience,
                    issuer=accepted_issuers(s.oidc_issuer or ""),
                    leeway=s.oidc_leeway_seconds,
                    options={"require": REQUIRED_CLAIMS},
                )
            else:
                assert s.jwt_secret
                claims = jwt.decode(
                    token,
                    s.jwt_secret,
                    algorithms=["HS256"],
                    audience=AUDIENCE,
                    issuer=DEV_ISSUER,
                    options={"require": REQUIRED_CLAIMS},
                )
        except (jwt.PyJWTError, ValueError) as e:
            # The library's reason helps a forger more than a caller: it stays in the log.
            log.debug("token refused: %s", e)
            raise Unauthorized("The token is not valid.", headers=_challenge()) from e
        return principal_from_claims(claims, self.mapping), float(claims["exp"]), signing_key

    async def _signing_key(self, token: str) -> PyJWK:
        """The provider's key the token names (its only key, for a token without kid)."""
        # The key set first: a provider that cannot be found is the operator's 503,
        # whatever the token.
        keys = await self._keys()
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is not None and not isinstance(kid, str):
            raise jwt.InvalidTokenError("kid is not a string")
        try:
            key = await keys.key(kid)
        except KeysUnavailable as e:
            # The token may well be good: the provider is what cannot be reached.
            # Debug only: anyone can send junk kids; the failed fetch is logged once.
            log.debug("token with unknown kid %r: %s", kid[:64] if kid else kid, e)
            raise Unavailable(
                "The identity provider's keys cannot be fetched just now. Retry shortly.",
                headers={"Retry-After": str(e.retry_after)},
            ) from e
        if key is None:
            raise jwt.InvalidTokenError(f"no published key for kid {kid!r}")
        return key


def principal_from_claims(
    claims: dict[str, Any], mapping: ClaimMapping = DEFAULT_MAPPING
) -> Principal:
    """The principal of verified claims, read where `mapping` says the provider puts them."""
    roles = mapping.roles_of(claims)
    org = mapping.org_of(claims)
    if roles is None:
        raise Unauthorized(
            f"Claim '{mapping.roles}' must be a list of strings or a space-separated string.",
            headers=_challenge(),
        )
    if not isinstance(org, str) or not org:
        raise Unauthorized(f"Claim '{mapping.org}' is required.", headers=_challenge())
    if "sub" not in claims:
        raise Unauthorized("Claim 'sub' is required.", headers=_challenge())
    sub = str(claims["sub"])
    # The caller's names go into events and read models as they are (actor, organisation):
    # they are held to the rule of every stored text, and to a sane length.
    for name, value in (("sub", sub), ("org", org)):
        if len(value) > MAX_CLAIM_CHARS or not clean(value):
            raise Unauthorized(
                f"Claim '{name}' must be a plain name of at most {MAX_CLAIM_CHARS} characters.",
                headers=_challenge(),
            )
    partner_id = None
    raw_partner = mapping.partner_id_of(claims)
    if raw_partner is not None:
        try:
            partner_id = uuid.UUID(str(raw_partner))
        except ValueError as e:
            raise Unauthorized(
                f"Claim '{mapping.partner_id}' must be a UUID.", headers=_challenge()
            ) from e
    return Principal(
        sub=sub,
        org=org,
        roles=frozenset(roles) & ROLES,
        partner_id=partner_id,
        audit_claim=audit_scope_claim(claims, mapping),
    )


def audit_scope_claim(
    claims: dict[str, Any], mapping: ClaimMapping = DEFAULT_MAPPING
) -> AuditScope | None:
    """The `audit_scope` claim: `"*"` or a list of organisation ids; absent is None."""
    value = mapping.audit_scope_of(claims)
    if value is MISSING:
        return None
    if value == ALL_ORGS:
        return AuditScope(everyone=True)
    if (
        isinstance(value, list)
        and all(isinstance(o, str) and o and o != ALL_ORGS for o in value)
        and len(value) <= 1000
    ):
        return AuditScope(frozenset(value))
    raise Unauthorized(
        f"Claim '{mapping.audit_scope}' must be \"*\" or a list of organisation ids.",
        headers=_challenge(),
    )


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="waypoint"'}


# The scheme `authenticate` declares, so that every OpenAPI operation behind it names
# bearer JWT (Swagger's Authorize button). auto_error=False: it only names the scheme;
# the token is read and checked below.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="A JWT from the identity provider; in dev mode `waypoint token --role ROLE`.",
)


async def authenticate(
    request: Request, declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    """The one dependency: the verified caller, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.", headers=_challenge())
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers holding one of `roles`, else 403."""

    # async: a plain `def` dependency would cost a hop through the threadpool.
    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
        return principal

    return check


# Who a route lets in, named once for every service (a service's own sets, such as the
# partner directory's, are named where they are used, never `Reader`).
Counsellor = Annotated[Principal, Depends(require("counsellor"))]
TeamLead = Annotated[Principal, Depends(require("team_lead"))]
Staff = Annotated[Principal, Depends(require("counsellor", "team_lead"))]


def dev_token(
    settings: Settings,
    *,
    sub: str,
    org: str,
    roles: Iterable[str],
    partner_id: uuid.UUID | None = None,
    audit_scope: str | Iterable[str] | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """Mint a dev-mode token (HS256); refuses outside dev mode."""
    if settings.auth_mode != "dev" or not settings.jwt_secret:
        raise RuntimeError("dev tokens exist only in dev mode")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "org": org,
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if partner_id is not None:
        claims["partner_id"] = str(partner_id)
    if audit_scope is not None:
        claims["audit_scope"] = audit_scope if isinstance(audit_scope, str) else list(audit_scope)
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")

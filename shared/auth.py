"""Bearer JWT authentication and role checks, as one FastAPI dependency."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized
from shared.oidc.claims import DEFAULT_MAPPING, MISSING, ClaimMapping
from shared.oidc.discovery import (
    DiscoveryError,
    ProviderMetadata,
    accepted_issuers,
    provider_metadata,
    provider_unavailable,
)
from shared.oidc.introspection import Introspector, is_jwt
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

    @property
    def audit_scope(self) -> AuditScope:
        """The organisations whose audit views this caller may read: never implied beyond
        the caller's own organisation (an auditor or admin of B does not read A)."""
        if self.audit_claim is not None:
            return self.audit_claim
        return AuditScope(frozenset({self.org}))


class TokenVerifier:
    """Verifies tokens: HS256 with the dev secret, or RS256/ES256 against a JWKS in oidc mode."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}
        self.mapping = ClaimMapping.from_settings(settings)
        self._introspector = Introspector(settings)
        self._algorithms = [a for a in settings.oidc_algorithms if a[:2] in ("RS", "ES", "PS")]
        # Without a JWKS URL the key set is found by discovery, on the first token.
        if settings.auth_mode == "oidc" and settings.oidc_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; a token seen before is not verified again
        until it expires (a signature check costs more than the rest of a request)."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("The token is too large.", headers=_challenge())
        hit = self._verified.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= 10_000:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    async def verify_async(self, token: str) -> Principal:
        """`verify`, and in oidc mode what needs the provider: discovery, and an opaque
        (non-JWT) access token checked by RFC 7662 introspection."""
        s = self.settings
        if s.auth_mode != "oidc":
            return self.verify(token)
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("The token is too large.", headers=_challenge())
        if is_jwt(token):
            if self._jwks is None:
                metadata = await self._provider()
                if metadata.jwks_uri:
                    self._algorithms = list(metadata.algorithms)
                    self._jwks = jwt.PyJWKClient(metadata.jwks_uri, cache_keys=True)
            return self.verify(token)
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

    def _verify(self, token: str) -> tuple[Principal, float]:
        s = self.settings
        if s.auth_mode == "oidc" and self._jwks is None:
            # The key set is not known yet (discovery runs on the async path).
            raise provider_unavailable("The identity provider's keys are not known yet.")
        try:
            if self._jwks is not None:
                algorithms = self._algorithms
                # The PyJWK itself, not its .key: it binds the key's algorithm, so a
                # header naming another one is refused (else a TypeError, a 500).
                signing_key = self._jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token,
                    signing_key,
                    algorithms=algorithms,
                    audience=s.oidc_audience,
                    issuer=accepted_issuers(s.oidc_issuer or ""),
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
        return principal_from_claims(claims, self.mapping), float(claims["exp"])


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


async def authenticate(request: Request) -> Principal:
    """The one dependency: the verified caller, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.", headers=_challenge())
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify_async(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through callers holding one of `roles`, else 403."""

    # async: a plain `def` dependency would cost a hop through the threadpool.
    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
        return principal

    return check


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

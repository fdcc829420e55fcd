"""Opaque access tokens: RFC 7662 token introspection.

A bearer token that is not a JWT is sent to the provider's introspection endpoint (POST
form `token=...`, HTTP Basic with Waypoint's client id and secret); its answer's claims go
through the deployment's claim mapping like a JWT's. Answers are reused briefly, never
past the token's `exp`; an unknown or inactive token is 401, a provider that cannot be
reached 503 with Retry-After (the caller's token may be fine).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from shared.errors import Unauthorized
from shared.oidc.discovery import ProviderMetadata, provider_unavailable
from shared.settings import Settings

log = logging.getLogger(__name__)

MAX_CACHED = 10_000


def is_jwt(token: str) -> bool:
    """A JWS compact serialisation has three dot-separated segments (RFC 7515 §7.1)."""
    return token.count(".") == 2


def _refused() -> Unauthorized:
    return Unauthorized(
        "The token is not valid.", headers={"WWW-Authenticate": 'Bearer realm="waypoint"'}
    )


class Introspector:
    """Asks the provider about opaque tokens; remembers its answers briefly (refusals
    too, so that junk tokens do not each cost the provider a request)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # token -> (active claims, or None for a refusal; reuse until, wall clock)
        self._answers: dict[str, tuple[dict[str, Any] | None, float]] = {}

    async def claims(self, token: str, metadata: ProviderMetadata) -> dict[str, Any]:
        """The active token's claims, checked for issuer, audience and expiry; else 401."""
        now = time.time()
        hit = self._answers.get(token)
        if hit is not None and hit[1] > now:
            if hit[0] is None:
                raise _refused()
            return hit[0]
        answer = await self._ask(token, metadata)
        claims = self._check(answer, metadata, now)
        ttl = self.settings.oidc_introspection_cache_seconds
        until = now + ttl
        if claims is not None and isinstance(claims.get("exp"), int | float):
            until = min(until, float(claims["exp"]))
        if len(self._answers) >= MAX_CACHED:
            self._answers.clear()
        if ttl > 0:
            self._answers[token] = (claims, until)
        if claims is None:
            raise _refused()
        return claims

    async def _ask(self, token: str, metadata: ProviderMetadata) -> dict[str, Any]:
        s = self.settings
        endpoint = metadata.introspection_endpoint
        assert endpoint, "only called with an introspection endpoint"
        auth = None
        if s.oidc_client_id:
            secret = s.oidc_client_secret.get_secret_value() if s.oidc_client_secret else ""
            auth = httpx.BasicAuth(s.oidc_client_id, secret)
        try:
            async with httpx.AsyncClient(timeout=s.oidc_http_timeout_seconds, auth=auth) as client:
                response = await client.post(
                    endpoint,
                    data={"token": token, "token_type_hint": "access_token"},
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as e:
            log.warning("token introspection at %s failed: %r", endpoint, e)
            raise provider_unavailable(
                "The identity provider is not reachable to check the token; retry shortly."
            ) from e
        if response.status_code != 200:
            # 401/403: Waypoint's own client credentials are wrong; 5xx: the provider is
            # in trouble. Neither is the caller's fault.
            log.error("token introspection at %s answered %s", endpoint, response.status_code)
            raise provider_unavailable(
                "The identity provider could not check the token; retry shortly."
            )
        try:
            answer = response.json()
        except ValueError as e:
            log.error("token introspection at %s did not answer JSON", endpoint)
            raise provider_unavailable(
                "The identity provider could not check the token; retry shortly."
            ) from e
        if not isinstance(answer, dict):
            raise provider_unavailable(
                "The identity provider could not check the token; retry shortly."
            )
        return answer

    def _check(
        self, answer: dict[str, Any], metadata: ProviderMetadata, now: float
    ) -> dict[str, Any] | None:
        """The answer's claims if the token is one for us; None to refuse it."""
        why = _refusal(answer, metadata, self.settings.oidc_audience, now)
        if why is not None:
            # The reason helps a forger more than a caller: it stays in the log.
            log.debug("opaque token refused: %s", why)
            return None
        return answer


def _refusal(
    answer: dict[str, Any], metadata: ProviderMetadata, audience: str, now: float
) -> str | None:
    if answer.get("active") is not True:
        return "not active"
    exp = answer.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp <= now):
        return "expired"
    if "iss" in answer and not metadata.accepts_issuer(answer["iss"]):
        return f"issuer {answer['iss']!r}"
    aud = answer.get("aud")
    if aud is not None:
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or audience not in audiences:
            return f"audience {aud!r}"
    token_type = answer.get("token_type")
    if token_type is not None and str(token_type).lower() not in ("bearer", "access_token"):
        # A refresh token is active too, but it is no access token.
        return f"token type {token_type!r}"
    if not answer.get("sub"):
        return "no sub"
    return None

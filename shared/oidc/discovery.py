"""OpenID discovery: the provider configured by its issuer alone.

`provider_metadata(settings)` reads `<issuer>/.well-known/openid-configuration` once per
process (OpenID Connect Discovery 1.0 §4) and keeps the JWKS URL, the signing algorithms
and the RFC 7662 introspection endpoint; settings given explicitly win over the document.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from shared.errors import RETRY_AFTER_SECONDS, Unavailable
from shared.settings import Settings

log = logging.getLogger(__name__)

# Asymmetric signatures only: `none` and the HMAC family (keyed with a public key, anyone
# could sign) are never taken from a document, whatever it lists.
ASYMMETRIC = (
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
)
WELL_KNOWN = "/.well-known/openid-configuration"
# After the provider could not be reached, requests within this long are answered 503 at
# once rather than each waiting for its own timeout.
FAILURE_BACKOFF_SECONDS = 5.0


class DiscoveryError(ValueError):
    """The discovery document is unusable: a configuration fault, refused at start."""


@dataclass(frozen=True)
class ProviderMetadata:
    """What Waypoint needs of the provider, from discovery or from settings."""

    issuer: str
    jwks_uri: str | None
    algorithms: tuple[str, ...]
    introspection_endpoint: str | None

    def accepts_issuer(self, iss: object) -> bool:
        return isinstance(iss, str) and normalise_issuer(iss) == normalise_issuer(self.issuer)


def normalise_issuer(issuer: str) -> str:
    """An issuer without its trailing slash: Keycloak names none, Entra's v2.0 form does,
    and operators copy either; they name the same provider."""
    return issuer.rstrip("/")


def accepted_issuers(issuer: str) -> list[str]:
    """Both spellings of an issuer, for a token's `iss`."""
    bare = normalise_issuer(issuer)
    return [bare, bare + "/"]


def provider_unavailable(detail: str) -> Unavailable:
    return Unavailable(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class _Unreachable(Exception):
    """The provider did not answer usably just now (network, timeout, 5xx)."""


provider_unavailable_errors: tuple[type[Exception], ...] = (httpx.HTTPError, _Unreachable)


_cache: dict[tuple[Any, ...], ProviderMetadata] = {}
_failed: dict[tuple[Any, ...], float] = {}


def _key(settings: Settings) -> tuple[Any, ...]:
    return (
        settings.oidc_issuer,
        settings.oidc_jwks_url,
        settings.oidc_introspection_url,
        tuple(settings.oidc_algorithms),
        settings.oidc_discovers,
    )


def _configured_algorithms(settings: Settings) -> tuple[str, ...]:
    return tuple(a for a in settings.oidc_algorithms if a in ASYMMETRIC)


async def provider_metadata(settings: Settings) -> ProviderMetadata:
    """The provider's metadata (cached for the process). Raises `DiscoveryError` for a
    document that cannot be trusted, `Unavailable` (503) while the provider is down."""
    key = _key(settings)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    assert settings.oidc_issuer, "oidc mode has an issuer (see Settings._secrets)"
    if not settings.oidc_discovers:
        metadata = ProviderMetadata(
            issuer=settings.oidc_issuer,
            jwks_uri=settings.oidc_jwks_url,
            algorithms=_configured_algorithms(settings),
            introspection_endpoint=settings.oidc_introspection_url,
        )
    else:
        failed = _failed.get(key)
        if failed is not None and time.monotonic() - failed < FAILURE_BACKOFF_SECONDS:
            raise provider_unavailable("The identity provider is not reachable; retry shortly.")
        try:
            metadata = _from_document(settings, await _fetch(settings))
        except provider_unavailable_errors as e:
            _failed[key] = time.monotonic()
            log.warning("OpenID discovery at %s failed: %s", settings.oidc_issuer, e)
            raise provider_unavailable(
                "The identity provider is not reachable; retry shortly."
            ) from e
        except DiscoveryError:
            # Not fetched again for every request (each would wait for the provider).
            _failed[key] = time.monotonic()
            raise
        _failed.pop(key, None)
    _cache[key] = metadata
    return metadata


async def _fetch(settings: Settings) -> dict[str, Any]:
    assert settings.oidc_issuer
    url = normalise_issuer(settings.oidc_issuer) + WELL_KNOWN
    async with httpx.AsyncClient(timeout=settings.oidc_http_timeout_seconds) as client:
        response = await client.get(url, headers={"Accept": "application/json"})
    if response.status_code >= 500:
        raise _Unreachable(f"{url} answered {response.status_code}")
    if response.status_code != 200:
        raise DiscoveryError(f"{url} answered {response.status_code}, not a discovery document")
    try:
        document = response.json()
    except ValueError as e:
        raise DiscoveryError(f"{url} did not answer JSON") from e
    if not isinstance(document, dict):
        raise DiscoveryError(f"{url} did not answer a JSON object")
    return document


def _url(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise DiscoveryError(f"the discovery document's {name} is not a URL")
    return value


def _from_document(settings: Settings, document: dict[str, Any]) -> ProviderMetadata:
    assert settings.oidc_issuer
    issuer = document.get("issuer")
    # OpenID Discovery §4.3: the document must name the issuer it was fetched for, or it
    # is some other provider's (a typo, a proxy, an attacker); a trailing slash aside.
    if not isinstance(issuer, str) or normalise_issuer(issuer) != normalise_issuer(
        settings.oidc_issuer
    ):
        raise DiscoveryError(
            f"the discovery document names issuer {issuer!r}, "
            f"not the configured {settings.oidc_issuer!r}"
        )
    jwks_uri = settings.oidc_jwks_url or _url(document, "jwks_uri")
    if not jwks_uri:
        raise DiscoveryError("the discovery document has no jwks_uri")
    listed = document.get("id_token_signing_alg_values_supported")
    algorithms = _configured_algorithms(settings)
    if isinstance(listed, list):
        offered = tuple(a for a in listed if isinstance(a, str) and a in ASYMMETRIC)
        if "oidc_algorithms" in settings.model_fields_set:
            # Algorithms the operator named explicitly narrow what the document offers.
            offered = tuple(a for a in offered if a in algorithms)
        algorithms = offered
    if not algorithms:
        raise DiscoveryError("the provider offers no asymmetric signing algorithm")
    return ProviderMetadata(
        issuer=issuer,
        jwks_uri=jwks_uri,
        algorithms=algorithms,
        introspection_endpoint=settings.oidc_introspection_url
        or _url(document, "introspection_endpoint"),
    )


def forget() -> None:
    """Drop every cached document (tests; a provider reconfigured without a restart)."""
    _cache.clear()
    _failed.clear()


async def check_provider(settings: Settings) -> None:
    """At a service's start: a discovery document that cannot be trusted stops the start
    (`DiscoveryError`); a provider that is down only delays discovery to the first token,
    so an IdP outage never keeps a service from starting."""
    if not settings.oidc_discovers:
        return
    try:
        await provider_metadata(settings)
    except Unavailable:
        log.warning(
            "the identity provider %s is not reachable at start; discovery retries on the "
            "first token",
            settings.oidc_issuer,
        )

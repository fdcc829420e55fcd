"""The identity provider's signing keys (its JWKS), kept off the request path.

One `JwksCache` per verifier. Its keys are fetched with `httpx.AsyncClient` and a short
timeout, at start-up and then in the background whenever they reach their age: the
provider's `Cache-Control: max-age`, capped by `oidc_jwks_max_age_seconds` (so a key the
provider removed is refused within that bound, without a restart) and floored by
`oidc_jwks_min_age_seconds` (so `no-store` does not make us poll it). Concurrent needs
share one fetch. A token naming a key the set lacks fetches the set at once (a freshly
rotated key is accepted at once), at most once per `oidc_unknown_kid_interval_seconds`,
so that junk key ids cannot make us hammer the provider.

While the provider cannot be reached (timeout, refused, 5xx, not a JWKS) the keys last
fetched stay in use, and a key that is not among them raises `KeysUnavailable`: the
caller's token may be good, the provider is what failed (503, not 401). Nothing here
blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWTError

log = logging.getLogger(__name__)

# A JWKS document is a few KB; a larger answer is not one.
MAX_DOCUMENT_BYTES = 512 * 1024
# After a failed fetch the background retries this soon (or at the max age, if shorter).
RETRY_SECONDS = 5.0
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


class KeysUnavailable(Exception):
    """The key a token names is not known and the provider cannot be asked just now."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the identity provider's keys cannot be fetched; retry in {retry_after}s")
        self.retry_after = retry_after


class FetchFailed(Exception):
    """The provider did not give a JWKS document (why, in the message)."""


def provider_max_age(cache_control: str | None) -> float | None:
    """The seconds `Cache-Control` allows keeping the answer: 0 for no-store/no-cache,
    None when it says nothing about it."""
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0.0
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None


class JwksCache:
    """The provider's current signing keys; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        max_age: float,
        min_age: float,
        unknown_kid_interval: float,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_age = max_age
        self.min_age = min(min_age, max_age)
        self.unknown_kid_interval = unknown_kid_interval
        # The last set fetched: by kid, and all of them (a key without kid is only
        # usable when it is the only one). Kept when a fetch fails.
        self._by_kid: dict[str, PyJWK] = {}
        self._keys: list[PyJWK] = []
        # The same JWK (by its JSON) keeps its PyJWK across fetches, so a token verified
        # with it need not be verified again: `holds` compares identities.
        self._by_json: dict[str, PyJWK] = {}
        self.loaded = False
        self.failing = False
        self.fetches = 0
        self._next_refresh = 0.0
        self._last_on_demand = -math.inf
        # Bound to the running loop on first use (start() or a first verification).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start fetching the keys, and keep them fresh in the background. Not awaited:
        a provider that does not answer must not hold up a service's start; the first
        tokens wait for this fetch (they would need it anyway)."""
        self._ensure_running()

    async def settled(self) -> None:
        """Wait for the fetch under way, if any (for tests and tools)."""
        if self._inflight is not None and not self._inflight.done():
            await asyncio.shield(self._inflight)

    async def close(self) -> None:
        """Stop the background refresh and close the HTTP client."""
        tasks = [t for t in (self._runner, self._inflight) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
        self._loop = self._client = self._runner = self._inflight = None

    def _ensure_running(self) -> None:
        """The HTTP client and the background refresh, on the running loop; a first fetch
        under way when no key has been fetched yet. A verifier used by another loop (a
        test's) gets its own of both; the keys carry over."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._runner = self._inflight = None
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._run(), name="jwks-refresh")
        if not self.loaded and self._inflight is None:
            self._inflight = loop.create_task(self._fetch(), name="jwks-fetch")

    async def _run(self) -> None:
        while True:
            delay = self._next_refresh - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            await self._refresh()

    async def _refresh(self) -> None:
        """Fetch the set, or join the fetch under way (single-flight)."""
        if self._inflight is None or self._inflight.done():
            assert self._loop is not None
            self._inflight = self._loop.create_task(self._fetch(), name="jwks-fetch")
        # Shielded: a caller that gives up (a cancelled request) leaves it to the others.
        await asyncio.shield(self._inflight)

    # --- lookup --------------------------------------------------------------------------

    async def key(self, kid: str | None) -> PyJWK | None:
        """The key a token names (a token without `kid`: the set's only key), None when
        the provider's current set has no such key; raises KeysUnavailable when the set
        could not be fetched and does not hold it."""
        self._ensure_running()
        found = self._lookup(kid)
        if found is not None:
            return found
        now = time.monotonic()
        if self._inflight is not None and not self._inflight.done():
            await asyncio.shield(self._inflight)
        elif now - self._last_on_demand >= self.unknown_kid_interval:
            self._last_on_demand = now
            await self._refresh()
        found = self._lookup(kid)
        if found is not None:
            return found
        if self.failing or not self.loaded:
            raise KeysUnavailable(self._retry_after())
        return None

    def holds(self, key: PyJWK) -> bool:
        """Whether `key` is still in the provider's set (as of the last fetch)."""
        return any(k is key for k in self._keys)

    def _lookup(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return self._keys[0] if len(self._keys) == 1 else None
        return self._by_kid.get(kid)

    def _retry_after(self) -> int:
        """Seconds until a fetch may happen again (the background's or a token's)."""
        now = time.monotonic()
        allowed = max(now, self._last_on_demand + self.unknown_kid_interval)
        return max(1, math.ceil(min(self._next_refresh, allowed) - now))

    # --- fetching ------------------------------------------------------------------------

    async def _fetch(self) -> None:
        """One fetch; never raises (a failure keeps the keys and is logged)."""
        self.fetches += 1
        try:
            try:
                document, cache_control = await self._get()
                keys = self._parse(document)
            except (FetchFailed, asyncio.CancelledError):
                raise
            except Exception as e:
                # Whatever the provider sends must not end as a 500 of every request
                # sharing this fetch: it counts as a failed fetch (with its traceback).
                log.exception("JWKS %s: unexpected failure", self.url)
                raise FetchFailed(f"{type(e).__name__}: {e}") from e
        except FetchFailed as e:
            level = logging.DEBUG if self.failing else logging.WARNING
            log.log(
                level, "JWKS %s not fetched (keeping %d keys): %s", self.url, len(self._keys), e
            )
            self.failing = True
            self._next_refresh = time.monotonic() + min(self.max_age, RETRY_SECONDS)
            return
        if self.failing:
            log.info("JWKS %s fetched again", self.url)
        self._install(keys)
        told = provider_max_age(cache_control)
        age = self.max_age if told is None else min(self.max_age, max(self.min_age, told))
        self._next_refresh = time.monotonic() + age
        self.failing = False
        self.loaded = True

    async def _get(self) -> tuple[Any, str | None]:
        assert self._client is not None
        body = bytearray()
        try:
            # The whole exchange within the timeout (httpx's applies to each read).
            async with (
                asyncio.timeout(self.timeout),
                self._client.stream(
                    "GET", self.url, headers={"Accept": "application/json"}
                ) as response,
            ):
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise FetchFailed("the document is too large")
                cache_control = response.headers.get("cache-control")
        except TimeoutError as e:
            raise FetchFailed(f"no answer within {self.timeout}s") from e
        except httpx.HTTPError as e:
            raise FetchFailed(f"{type(e).__name__}: {e}") from e
        try:
            return json.loads(body), cache_control
        except ValueError as e:
            raise FetchFailed("the answer is not JSON") from e

    def _parse(self, document: Any) -> dict[str, PyJWK]:
        """The signing keys of a JWKS document; keys this library cannot use, or meant
        for encryption, are left out (as the provider's other clients would)."""
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise FetchFailed("the answer is not a JWK set")
        keys: dict[str, PyJWK] = {}
        for jwk in document["keys"]:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            text = json.dumps(jwk, sort_keys=True)
            known = self._by_json.get(text)
            if known is None:
                try:
                    known = PyJWK(jwk)
                except (PyJWTError, ValueError, TypeError, KeyError, AttributeError) as e:
                    log.debug("JWKS %s: a key left out: %s", self.url, e)
                    continue
            keys[text] = known
        return keys

    def _install(self, by_json: dict[str, PyJWK]) -> None:
        keys = list(by_json.values())
        removed = [k.key_id for k in self._keys if not any(k is n for n in keys)]
        if removed and self.loaded:
            log.info("JWKS %s: keys no longer published, no longer trusted: %s", self.url, removed)
        self._keys = keys
        self._by_kid = {k.key_id: k for k in keys if k.key_id is not None}
        self._by_json = by_json

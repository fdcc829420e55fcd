"""The verifier refuses an oversized token before it parses, verifies or caches it (a
100 KB bearer token was accepted, and whole tokens are the cache's keys)."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.auth import AUDIENCE, DEV_ISSUER, MAX_TOKEN_BYTES, TokenVerifier
from shared.errors import Unauthorized
from shared.settings import Settings

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def signed(padding: int) -> str:
    claims = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "u",
        "org": "o",
        "roles": ["counsellor"],
        "exp": int(time.time()) + 600,
        "padding": "p" * padding,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(Settings(auth_mode="dev", jwt_secret=SECRET))


async def test_a_validly_signed_token_over_the_size_limit_is_refused_and_not_cached(
    verifier: TokenVerifier,
) -> None:
    small, large = signed(100), signed(MAX_TOKEN_BYTES)
    assert len(small) < MAX_TOKEN_BYTES < len(large)

    assert (await verifier.verify(small)).sub == "u"
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(large)

    assert caught.value.detail == "The token is too large."
    assert small in verifier._verified
    assert large not in verifier._verified


async def test_a_token_at_the_size_limit_is_still_verified(verifier: TokenVerifier) -> None:
    # The limit is generous: a token with a few KB of claims passes.
    token = signed(MAX_TOKEN_BYTES // 2)

    assert len(token) <= MAX_TOKEN_BYTES
    assert (await verifier.verify(token)).org == "o"

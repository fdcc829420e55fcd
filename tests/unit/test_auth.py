"""shared.auth and shared.settings: dev HS256 tokens, oidc against a real JWKS endpoint, roles.

No PostgreSQL or NATS: every Settings here is built by hand (the database URL is never used),
and the oidc tests serve their JWKS document from a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from shared.auth import (
    AUDIENCE,
    DEV_ISSUER,
    Principal,
    TokenVerifier,
    dev_token,
    principal_from_claims,
    require,
)
from shared.errors import PROBLEM_JSON, Unauthorized, Unavailable
from shared.http import service_app
from shared.settings import DEV_MASTER_KEY, Settings, run_jwt_secret

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
UNUSED_DB = "postgresql://unused@127.0.0.1:1/unused"
IDP = "https://idp.example"
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
AUDIT_KEY = base64.b64encode(os.urandom(32)).decode()
ORG = "org-a"

Counsellor = Annotated[Principal, Depends(require("counsellor"))]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(
    issuer: str = DEV_ISSUER, *, drop: tuple[str, ...] = (), **changes: Any
) -> dict[str, Any]:
    """A valid claim set for `issuer`, with some claims changed or dropped."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-1",
        "org": ORG,
        "roles": ["counsellor"],
        "iat": now,
        "exp": now + 300,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if k not in drop}


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """An HS256 token made without PyJWT (which refuses a PEM key as an HMAC secret)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unsigned(payload: dict[str, Any], **header: Any) -> str:
    """An `alg: none` token."""
    head = {"alg": "none", "typ": "JWT", **header}
    return f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(payload).encode())}."


async def refuses(verifier: TokenVerifier, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    problem = caught.value
    assert problem.status == 401
    assert problem.headers is not None and problem.headers["WWW-Authenticate"].startswith("Bearer")
    return problem


# --- dev mode ----------------------------------------------------------------------------


@pytest.fixture
def dev_settings() -> Settings:
    return Settings(
        auth_mode="dev", jwt_secret=SECRET, master_key=MASTER_KEY, database_url=UNUSED_DB
    )


@pytest.fixture
def dev_verifier(dev_settings: Settings) -> TokenVerifier:
    return TokenVerifier(dev_settings)


async def test_a_dev_token_signed_with_the_secret_verifies_to_its_principal(
    dev_settings: Settings, dev_verifier: TokenVerifier
) -> None:
    partner = uuid.uuid4()
    token = dev_token(
        dev_settings, sub="u-7", org="org-b", roles=["partner", "auditor"], partner_id=partner
    )

    principal = await dev_verifier.verify(token)

    assert principal == Principal(
        sub="u-7", org="org-b", roles=frozenset({"partner", "auditor"}), partner_id=partner
    )
    assert principal.has("auditor", "admin") and not principal.has("counsellor")


async def test_a_hand_made_hs256_token_with_the_right_claims_verifies(
    dev_verifier: TokenVerifier,
) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")

    assert (await dev_verifier.verify(token)).sub == "user-1"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(jwt.encode(claims(), SECRET + "x", algorithm="HS256"), id="wrong secret"),
        pytest.param(
            jwt.encode(claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256"), id="expired"
        ),
        pytest.param(jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"), id="iss"),
        pytest.param(jwt.encode(claims(aud="other-app"), SECRET, algorithm="HS256"), id="aud"),
        pytest.param(jwt.encode(claims(drop=("sub",)), SECRET, algorithm="HS256"), id="no sub"),
        pytest.param(jwt.encode(claims(drop=("exp",)), SECRET, algorithm="HS256"), id="no exp"),
        pytest.param(jwt.encode(claims(drop=("iss",)), SECRET, algorithm="HS256"), id="no iss"),
        pytest.param(jwt.encode(claims(drop=("aud",)), SECRET, algorithm="HS256"), id="no aud"),
        pytest.param(jwt.encode(claims(drop=("org",)), SECRET, algorithm="HS256"), id="no org"),
        pytest.param(jwt.encode(claims(org=""), SECRET, algorithm="HS256"), id="empty org"),
        pytest.param(jwt.encode(claims(org=42), SECRET, algorithm="HS256"), id="org not str"),
        pytest.param(
            jwt.encode(claims(roles="counsellor"), SECRET, algorithm="HS256"), id="roles a string"
        ),
        pytest.param(jwt.encode(claims(roles=[1, 2]), SECRET, algorithm="HS256"), id="roles ints"),
        pytest.param(
            jwt.encode(claims(partner_id="not-a-uuid"), SECRET, algorithm="HS256"),
            id="partner_id not a uuid",
        ),
        pytest.param(unsigned(claims()), id="alg none"),
        pytest.param(jwt.encode(claims(), SECRET * 2, algorithm="HS512"), id="HS512"),
        pytest.param("not-a-jwt", id="garbage"),
    ],
)
async def test_dev_mode_refuses_a_token_that_is_wrong_in_any_way(
    dev_verifier: TokenVerifier, token: str
) -> None:
    await refuses(dev_verifier, token)


def test_roles_the_system_does_not_know_are_dropped_from_the_principal() -> None:
    principal = principal_from_claims(claims(roles=["counsellor", "superuser"]))

    assert principal.roles == frozenset({"counsellor"})


def test_a_token_without_roles_gives_a_principal_with_no_roles() -> None:
    principal = principal_from_claims(claims(drop=("roles",)))

    assert principal.roles == frozenset() and principal.org == ORG


def test_dev_tokens_cannot_be_minted_in_oidc_mode(oidc_settings: Settings) -> None:
    with pytest.raises(RuntimeError):
        dev_token(oidc_settings, sub="u", org=ORG, roles=["admin"])


# --- oidc mode: a real JWKS endpoint -------------------------------------------------------


@dataclass
class Idp:
    """A fake identity provider: its signing keys and a JWKS endpoint on 127.0.0.1 that
    a test can rotate (`publish`), make answer 500 or never answer (`mode`), and give a
    Cache-Control header. `hits` counts the fetches."""

    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    jwks_url: str
    hits: list[str]
    keys: list[dict[str, Any]] = field(default_factory=list)
    # "ok", "500", "junk" (200, not JSON) or "hang" (accepts and never answers)
    mode: str = "ok"
    cache_control: str | None = None
    released: threading.Event = field(default_factory=threading.Event)

    def rsa_public_pem(self) -> bytes:
        return self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def publish(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)

    def fetches(self) -> int:
        return sum(1 for path in self.hits if path == "/jwks.json")


def _jwk(public_jwk: str, **extra: str) -> dict[str, Any]:
    return {**json.loads(public_jwk), "use": "sig", **extra}


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str | None) -> dict[str, Any]:
    extra = {"kid": kid} if kid is not None else {}
    return _jwk(RSAAlgorithm.to_jwk(key.public_key()), alg="RS256", **extra)


@contextlib.contextmanager
def serve_idp(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[Idp]:
    """An Idp publishing rsa-1 and ec-1, served until the block ends."""
    state = Idp(rsa_key, ec_key, "", [])
    state.publish(
        rsa_jwk(rsa_key, "rsa-1"),
        # No "alg": PyJWT infers ES256 from the P-256 curve.
        _jwk(ECAlgorithm.to_jwk(ec_key.public_key()), kid="ec-1"),
    )

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            if state.mode == "hang":
                # Connected, never answered (until the test is over).
                state.released.wait(60)
                self.close_connection = True
                return
            if state.mode == "500":
                self.send_error(500)
                return
            document = json.dumps({"keys": state.keys}).encode()
            if state.mode == "junk":
                document = b"<html>Maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            if state.cache_control is not None:
                self.send_header("Cache-Control", state.cache_control)
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        state.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        yield state
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def signing_keys() -> tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]:
    """The provider's RSA and EC keys, and a spare RSA key for rotations."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="module")
def idp(signing_keys: tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, Any]) -> Iterator[Idp]:
    """A provider shared by the tests that do not change it."""
    with serve_idp(signing_keys[0], signing_keys[1]) as state:
        yield state


@pytest.fixture
def provider(
    signing_keys: tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, Any],
) -> Iterator[Idp]:
    """A provider of the test's own, to rotate keys on or to break."""
    with serve_idp(signing_keys[0], signing_keys[1]) as state:
        yield state


def oidc(jwks_url: str, **given: Any) -> Settings:
    return Settings(
        auth_mode="oidc",
        oidc_jwks_url=jwks_url,
        oidc_issuer=IDP,
        master_key=MASTER_KEY,
        audit_signing_key=AUDIT_KEY,
        database_url=UNUSED_DB,
        **given,
    )


@pytest.fixture
def oidc_settings(idp: Idp) -> Settings:
    return oidc(idp.jwks_url)


@pytest.fixture
async def oidc_verifier(oidc_settings: Settings) -> AsyncIterator[TokenVerifier]:
    verifier = TokenVerifier(oidc_settings)
    yield verifier
    await verifier.close()


def rs256(idp: Idp, payload: dict[str, Any], kid: str = "rsa-1") -> str:
    return jwt.encode(payload, idp.rsa_key, algorithm="RS256", headers={"kid": kid})


def es256(idp: Idp, payload: dict[str, Any], kid: str = "ec-1") -> str:
    return jwt.encode(payload, idp.ec_key, algorithm="ES256", headers={"kid": kid})


async def test_an_rs256_token_from_the_idp_verifies(idp: Idp, oidc_verifier: TokenVerifier) -> None:
    principal = await oidc_verifier.verify(rs256(idp, claims(IDP, roles=["team_lead"])))

    assert principal.sub == "user-1" and principal.roles == frozenset({"team_lead"})


async def test_an_es256_token_from_the_idp_verifies(idp: Idp, oidc_verifier: TokenVerifier) -> None:
    principal = await oidc_verifier.verify(es256(idp, claims(IDP)))

    assert principal.org == ORG and principal.has("counsellor")


async def test_the_jwks_document_is_fetched_once_and_then_cached(
    idp: Idp, oidc_verifier: TokenVerifier
) -> None:
    before = len(idp.hits)

    for _ in range(3):
        await oidc_verifier.verify(rs256(idp, claims(IDP)))
        await oidc_verifier.verify(es256(idp, claims(IDP)))

    assert len(idp.hits) - before == 1


@pytest.mark.parametrize(
    ("configured", "in_token"),
    [(IDP + "/", IDP), (IDP, IDP + "/")],
    ids=["configured with the slash", "token with the slash"],
)
async def test_an_issuer_differing_only_by_a_trailing_slash_is_the_same_issuer(
    idp: Idp, oidc_settings: Settings, configured: str, in_token: str
) -> None:
    verifier = TokenVerifier(oidc_settings.model_copy(update={"oidc_issuer": configured}))

    assert (await verifier.verify(rs256(idp, claims(in_token)))).sub == "user-1"
    await refuses(verifier, rs256(idp, claims(IDP + "/realms/other")))
    await refuses(verifier, rs256(idp, claims(IDP + "//")))


async def test_a_keycloak_shaped_token_is_read_through_the_configured_claim_mapping(
    idp: Idp, oidc_settings: Settings
) -> None:
    mapped = oidc_settings.model_copy(
        update={"oidc_roles_claim": "realm_access.roles", "oidc_org_claim": "organisation"}
    )
    token = rs256(
        idp,
        claims(
            IDP,
            drop=("roles", "org"),
            realm_access={"roles": ["team_lead", "offline_access"]},
            organisation="org-kc",
        ),
    )

    principal = await TokenVerifier(mapped).verify(token)

    assert principal.roles == frozenset({"team_lead"}) and principal.org == "org-kc"


async def test_an_hs256_token_signed_with_the_public_key_bytes_is_refused(
    idp: Idp, oidc_verifier: TokenVerifier
) -> None:
    token = hand_signed(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(IDP), idp.rsa_public_pem()
    )

    await refuses(oidc_verifier, token)


async def test_an_hs256_token_with_any_secret_is_refused_even_when_hs256_is_configured(
    idp: Idp,
) -> None:
    settings = Settings(
        auth_mode="oidc",
        oidc_jwks_url=idp.jwks_url,
        oidc_issuer=IDP,
        oidc_algorithms=["HS256", "RS256", "ES256"],
        jwt_secret=SECRET,
        master_key=MASTER_KEY,
        audit_signing_key=AUDIT_KEY,
        database_url=UNUSED_DB,
    )
    token = hand_signed({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(IDP), b"s3cret")

    await refuses(TokenVerifier(settings), token)
    await refuses(TokenVerifier(settings), jwt.encode(claims(IDP), SECRET, algorithm="HS256"))


async def test_a_token_signed_by_a_key_the_idp_does_not_publish_is_refused(
    idp: Idp, oidc_verifier: TokenVerifier
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    unknown_kid = jwt.encode(claims(IDP), stranger, algorithm="RS256", headers={"kid": "rogue"})
    known_kid = jwt.encode(claims(IDP), stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    no_kid = jwt.encode(claims(IDP), idp.rsa_key, algorithm="RS256")

    # The library's reason (it names the unknown key) is logged, not told the caller.
    assert (await refuses(oidc_verifier, unknown_kid)).detail == "The token is not valid."
    await refuses(oidc_verifier, known_kid)
    await refuses(oidc_verifier, no_kid)


async def test_a_token_whose_algorithm_does_not_match_its_key_is_refused_not_a_crash(
    idp: Idp, oidc_verifier: TokenVerifier
) -> None:
    # RS256 in the header, but the kid of the EC key (used to escape as a TypeError: a 500).
    await refuses(oidc_verifier, rs256(idp, claims(IDP), kid="ec-1"))
    await refuses(oidc_verifier, es256(idp, claims(IDP), kid="rsa-1"))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(claims(DEV_ISSUER), id="dev issuer"),
        pytest.param(claims("https://other-idp.example"), id="other issuer"),
        pytest.param(claims(IDP, aud="someone-else"), id="other audience"),
        pytest.param(claims(IDP, drop=("exp",)), id="no exp"),
        pytest.param(claims(IDP, exp=int(time.time()) - 60), id="expired"),
        pytest.param(claims(IDP, drop=("sub",)), id="no sub"),
        pytest.param(claims(IDP, drop=("org",)), id="no org"),
        pytest.param(claims(IDP, org="org\u0000a"), id="NUL in org"),
        pytest.param(claims(IDP, sub="user\u001b[2J"), id="escape in sub"),
        pytest.param(claims(IDP, sub="u" * 256), id="sub of 256 characters"),
        pytest.param(claims(IDP, org="o" * 256), id="org of 256 characters"),
    ],
)
async def test_oidc_mode_refuses_a_well_signed_token_with_wrong_claims(
    idp: Idp, oidc_verifier: TokenVerifier, payload: dict[str, Any]
) -> None:
    await refuses(oidc_verifier, rs256(idp, payload))


async def test_an_unsigned_token_naming_a_published_key_is_refused(
    oidc_verifier: TokenVerifier,
) -> None:
    await refuses(oidc_verifier, unsigned(claims(IDP), kid="rsa-1"))


# --- oidc mode: the provider's keys change, stall or fail ---------------------------------


@contextlib.asynccontextmanager
async def verifying(settings: Settings) -> AsyncIterator[TokenVerifier]:
    """A verifier started as a service's lifespan starts it (its first fetch done),
    closed at the end."""
    verifier = TokenVerifier(settings)
    await verifier.start()
    assert verifier._jwks is not None
    await verifier._jwks.settled()
    try:
        yield verifier
    finally:
        await verifier.close()


def unavailable(problem: pytest.ExceptionInfo[Unavailable]) -> None:
    assert problem.value.status == 503
    assert problem.value.headers is not None
    assert int(problem.value.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    "cache_control",
    [
        pytest.param(None, id="no Cache-Control: the configured bound"),
        pytest.param("public, max-age=86400", id="a longer max-age: capped by the bound"),
    ],
)
async def test_a_key_the_provider_removed_is_refused_within_the_configured_bound(
    provider: Idp, signing_keys: Any, cache_control: str | None
) -> None:
    spare = signing_keys[2]
    provider.cache_control = cache_control
    async with verifying(oidc(provider.jwks_url, oidc_jwks_max_age_seconds=1)) as verifier:
        seen = rs256(provider, claims(IDP))
        assert (await verifier.verify(seen)).sub == "user-1"

        provider.publish(rsa_jwk(spare, "rsa-2"))
        await asyncio.sleep(1.8)  # the bound, and time for the fetch

        # Neither the token verified before (cached) nor a new one signed with it.
        await refuses(verifier, seen)
        assert seen not in verifier._verified
        await refuses(verifier, rs256(provider, claims(IDP, sub="user-2")))
        new = jwt.encode(claims(IDP), spare, algorithm="RS256", headers={"kid": "rsa-2"})
        assert (await verifier.verify(new)).sub == "user-1"


async def test_the_providers_cache_control_max_age_shortens_the_keys_life_below_the_bound(
    provider: Idp, signing_keys: Any
) -> None:
    provider.cache_control = "public, max-age=1"
    settings = oidc(provider.jwks_url, oidc_jwks_max_age_seconds=300, oidc_jwks_min_age_seconds=0)
    async with verifying(settings) as verifier:
        seen = rs256(provider, claims(IDP))
        assert (await verifier.verify(seen)).sub == "user-1"

        provider.publish(rsa_jwk(signing_keys[2], "rsa-2"))
        await asyncio.sleep(1.8)

        await refuses(verifier, seen)


async def test_a_newly_published_key_is_accepted_at_once(provider: Idp, signing_keys: Any) -> None:
    spare = signing_keys[2]
    async with verifying(oidc(provider.jwks_url)) as verifier:
        assert (await verifier.verify(rs256(provider, claims(IDP)))).sub == "user-1"
        before = provider.fetches()

        provider.publish(*provider.keys, rsa_jwk(spare, "rsa-3"))
        token = jwt.encode(claims(IDP), spare, algorithm="RS256", headers={"kid": "rsa-3"})

        assert (await verifier.verify(token)).sub == "user-1"
        assert provider.fetches() == before + 1


async def test_junk_key_ids_fetch_the_key_set_at_most_once_per_interval(provider: Idp) -> None:
    settings = oidc(provider.jwks_url, oidc_unknown_kid_interval_seconds=1)
    async with verifying(settings) as verifier:
        before = provider.fetches()

        # Twenty at once share one fetch; twenty more right after fetch nothing.
        concurrent = [
            refuses(verifier, rs256(provider, claims(IDP), kid=f"junk-{n}")) for n in range(20)
        ]
        await asyncio.gather(*concurrent)
        assert provider.fetches() == before + 1
        for n in range(20):
            await refuses(verifier, rs256(provider, claims(IDP), kid=f"more-junk-{n}"))
        assert provider.fetches() == before + 1

        # The next interval allows one more.
        await asyncio.sleep(1.1)
        for n in range(5):
            await refuses(verifier, rs256(provider, claims(IDP), kid=f"later-junk-{n}"))
        assert provider.fetches() == before + 2


async def test_while_the_jwks_endpoint_hangs_healthz_answers_at_once_and_an_unknown_kid_gets_503(
    provider: Idp,
) -> None:
    app = whoami_app(oidc(provider.jwks_url, oidc_http_timeout_seconds=1))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        await app.state.verifier._jwks.settled()  # the keys fetched at start-up
        provider.mode = "hang"
        unknown = asyncio.create_task(get(app, rs256(provider, claims(IDP), kid="rsa-9")))
        await asyncio.sleep(0.2)  # its fetch is waiting for the provider now
        assert not unknown.done()

        started = time.perf_counter()
        health = await client.get("/testsvc/healthz")
        health_took = time.perf_counter() - started
        started = time.perf_counter()
        known = await get(app, rs256(provider, claims(IDP)))
        known_took = time.perf_counter() - started
        refused = await unknown

    assert health.status_code == 200 and health_took < 0.1, health_took
    assert known.status_code == 200 and known_took < 0.1, known_took
    assert_problem(refused, 503, "service-unavailable")
    assert int(refused.headers["retry-after"]) >= 1
    assert provider.fetches() >= 2  # at start-up, and the one that hung


@pytest.mark.parametrize("mode", ["500", "junk", "hang"])
async def test_while_the_provider_fails_a_known_kid_verifies_and_an_unknown_kid_gets_503(
    provider: Idp, mode: str
) -> None:
    settings = oidc(provider.jwks_url, oidc_http_timeout_seconds=0.5)
    async with verifying(settings) as verifier:
        provider.mode = mode

        with pytest.raises(Unavailable) as caught:
            await verifier.verify(rs256(provider, claims(IDP), kid="rsa-9"))
        unavailable(caught)
        # A new token (not from the cache) with a key fetched before the outage.
        assert (await verifier.verify(es256(provider, claims(IDP, sub="u-2")))).sub == "u-2"
        # Still the provider's fault, not the caller's, while the retry is not yet due.
        with pytest.raises(Unavailable) as caught:
            await verifier.verify(rs256(provider, claims(IDP), kid="rsa-10"))
        unavailable(caught)


@pytest.mark.parametrize("started", [True, False], ids=["started", "started by the token"])
async def test_a_provider_refusing_connections_from_the_start_gives_503_not_401(
    started: bool,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/jwks.json"
        token = jwt.encode(claims(IDP), SECRET, algorithm="HS256", headers={"kid": "rsa-1"})
        verifier = TokenVerifier(oidc(url))
        try:
            if started:
                await verifier.start()
            # Several at once: they share the first fetch, and all get 503.
            outcomes = await asyncio.gather(
                *(verifier.verify(token) for _ in range(3)), return_exceptions=True
            )
        finally:
            await verifier.close()
    for outcome in outcomes:
        assert isinstance(outcome, Unavailable), outcome
        assert outcome.headers is not None and int(outcome.headers["Retry-After"]) >= 1


async def test_a_key_the_library_cannot_read_is_left_out_and_the_others_still_verify(
    provider: Idp,
) -> None:
    broken = {"kty": "RSA", "kid": "broken", "n": 12345, "e": ["AQAB"], "use": "sig"}
    provider.publish(broken, *provider.keys, {"kty": "RSA", "kid": "enc", "use": "enc"})
    async with verifying(oidc(provider.jwks_url)) as verifier:
        assert (await verifier.verify(rs256(provider, claims(IDP)))).sub == "user-1"
        await refuses(verifier, rs256(provider, claims(IDP), kid="broken"))


@pytest.mark.parametrize("published_kid", [None, "only-1"])
async def test_a_token_without_kid_verifies_against_a_key_set_of_exactly_one_key(
    provider: Idp, published_kid: str | None
) -> None:
    provider.publish(rsa_jwk(provider.rsa_key, published_kid))
    async with verifying(oidc(provider.jwks_url)) as verifier:
        no_kid = jwt.encode(claims(IDP), provider.rsa_key, algorithm="RS256")

        assert (await verifier.verify(no_kid)).sub == "user-1"
        # Another key's kid still needs that key.
        await refuses(verifier, rs256(provider, claims(IDP), kid="other"))

    # Only then: with two keys published, a token without kid names neither.
    provider.publish(rsa_jwk(provider.rsa_key, "rsa-1"), rsa_jwk(provider.rsa_key, "rsa-x"))
    async with verifying(oidc(provider.jwks_url)) as verifier:
        await refuses(verifier, jwt.encode(claims(IDP), provider.rsa_key, algorithm="RS256"))


@pytest.mark.parametrize(
    ("iat", "exp", "accepted"),
    [
        pytest.param(2, 300, True, id="iat 2 s ahead"),
        pytest.param(50, 300, True, id="iat 50 s ahead"),
        pytest.param(-300, -30, True, id="expired 30 s ago"),
        pytest.param(90, 300, False, id="iat 90 s ahead"),
        pytest.param(-300, -90, False, id="expired 90 s ago"),
    ],
)
async def test_clock_skew_within_the_leeway_is_accepted_and_beyond_it_refused(
    idp: Idp, oidc_verifier: TokenVerifier, iat: int, exp: int, accepted: bool
) -> None:
    now = int(time.time())
    token = rs256(idp, claims(IDP, iat=now + iat, exp=now + exp))

    if accepted:
        assert (await oidc_verifier.verify(token)).sub == "user-1"
    else:
        await refuses(oidc_verifier, token)


async def test_the_leeway_is_a_setting(idp: Idp) -> None:
    now = int(time.time())
    async with verifying(oidc(idp.jwks_url, oidc_leeway_seconds=0)) as verifier:
        await refuses(verifier, rs256(idp, claims(IDP, iat=now + 5)))
    async with verifying(oidc(idp.jwks_url, oidc_leeway_seconds=120)) as verifier:
        assert (await verifier.verify(rs256(idp, claims(IDP, iat=now + 90)))).sub == "user-1"


async def test_a_service_fetches_the_keys_at_start_up_and_stops_refreshing_at_shutdown(
    provider: Idp,
) -> None:
    app = whoami_app(oidc(provider.jwks_url, oidc_jwks_max_age_seconds=0.2))

    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.1)
        assert provider.fetches() == 1  # before any request
        await asyncio.sleep(0.5)
        assert provider.fetches() >= 2  # refreshed in the background
    stopped = provider.fetches()
    await asyncio.sleep(0.5)

    assert provider.fetches() == stopped


@pytest.mark.parametrize(
    "given",
    [
        {"oidc_http_timeout_seconds": 0},
        {"oidc_http_timeout_seconds": 31},
        {"oidc_jwks_max_age_seconds": 0},
        {"oidc_jwks_max_age_seconds": 86_401},
        {"oidc_jwks_min_age_seconds": -1},
        {"oidc_unknown_kid_interval_seconds": -1},
        {"oidc_leeway_seconds": -1},
        {"oidc_leeway_seconds": 601},
    ],
    ids=lambda given: "{}={}".format(*next(iter(given.items()))),
)
def test_key_settings_out_of_their_bounds_are_refused(given: dict[str, Any]) -> None:
    name = next(iter(given))
    with pytest.raises(ValidationError, match=name):
        oidc("https://idp.example/jwks.json", **given)


# --- settings ------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("GUIDANCE_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    "missing",
    [
        "GUIDANCE_OIDC_ISSUER",
        "GUIDANCE_MASTER_KEY",
        "GUIDANCE_AUDIT_SIGNING_KEY",
    ],
)
def test_oidc_mode_without_its_issuer_master_key_or_audit_key_is_refused(
    clean_env: pytest.MonkeyPatch, missing: str
) -> None:
    given: dict[str, Any] = {
        "oidc_jwks_url": "https://idp.example/jwks.json",
        "oidc_issuer": IDP,
        "master_key": MASTER_KEY,
        "audit_signing_key": AUDIT_KEY,
    }
    del given[missing.removeprefix("GUIDANCE_").lower()]

    with pytest.raises(ValidationError, match=missing):
        Settings(auth_mode="oidc", **given)


def test_oidc_mode_without_a_jwks_url_discovers_it_unless_discovery_is_turned_off(
    clean_env: pytest.MonkeyPatch,
) -> None:
    given: dict[str, Any] = {
        "oidc_issuer": IDP,
        "master_key": MASTER_KEY,
        "audit_signing_key": AUDIT_KEY,
    }

    assert Settings(auth_mode="oidc", **given).oidc_discovers
    with pytest.raises(ValidationError, match="GUIDANCE_OIDC_JWKS_URL"):
        Settings(auth_mode="oidc", oidc_discovery=False, **given)


@pytest.mark.parametrize("auth_mode", ["dev", "oidc"])
@pytest.mark.parametrize(
    "master_key",
    [
        pytest.param(base64.b64encode(os.urandom(16)).decode(), id="16 bytes"),
        pytest.param(base64.b64encode(os.urandom(33)).decode(), id="33 bytes"),
        pytest.param("not base64 at all!", id="not base64"),
    ],
)
def test_a_master_key_that_is_not_32_bytes_of_base64_is_refused(
    clean_env: pytest.MonkeyPatch, auth_mode: str, master_key: str
) -> None:
    with pytest.raises(ValidationError, match="GUIDANCE_MASTER_KEY"):
        Settings(
            auth_mode=auth_mode,
            oidc_jwks_url="https://idp.example/jwks.json",
            oidc_issuer=IDP,
            master_key=master_key,
            audit_signing_key=AUDIT_KEY,
        )


def test_dev_mode_gets_a_random_signing_secret_of_the_run_and_the_dev_master_key_by_default(
    clean_env: pytest.MonkeyPatch,
) -> None:
    settings = Settings()

    assert settings.auth_mode == "dev"
    # No secret known to all: a random one, the same for every Settings of the process.
    assert settings.jwt_secret == run_jwt_secret() == Settings().jwt_secret
    assert settings.jwt_secret is not None and len(settings.jwt_secret) >= 40
    assert "dev-secret" not in settings.jwt_secret
    assert settings.master_key == DEV_MASTER_KEY
    assert len(settings.master_key_bytes) == 32


def test_settings_come_from_the_guidance_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GUIDANCE_AUTH_MODE", "oidc")
    clean_env.setenv("GUIDANCE_OIDC_JWKS_URL", "https://idp.example/jwks.json")
    clean_env.setenv("GUIDANCE_OIDC_ISSUER", IDP)
    clean_env.setenv("GUIDANCE_MASTER_KEY", MASTER_KEY)
    clean_env.setenv("GUIDANCE_AUDIT_SIGNING_KEY", AUDIT_KEY)
    clean_env.setenv("GUIDANCE_AUDIT_CHECKPOINT_EVERY", "250")

    settings = Settings()

    assert (settings.auth_mode, settings.oidc_issuer) == ("oidc", IDP)
    assert settings.master_key_bytes == base64.b64decode(MASTER_KEY)
    assert settings.audit_signing_seed == base64.b64decode(AUDIT_KEY)
    assert settings.audit_checkpoint_every == 250
    assert settings.oidc_algorithms == ["RS256", "ES256"]


# --- the dependencies, through a service app ------------------------------------------------


def whoami_app(settings: Settings) -> FastAPI:
    router = APIRouter()

    @router.get("/whoami")
    def whoami(principal: Counsellor) -> dict[str, str]:
        return {"sub": principal.sub, "org": principal.org}

    return service_app("testsvc", settings, routers=[router])


async def get(app: FastAPI, token: str | None = None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/testsvc/v1/whoami", headers=headers)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status and body["type"].endswith("/" + code)
    assert body["title"] and body["detail"]


async def test_a_request_without_a_token_gets_401_problem_json_with_a_bearer_challenge(
    dev_settings: Settings,
) -> None:
    response = await get(whoami_app(dev_settings))

    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_request_with_another_scheme_or_a_bad_token_gets_401(
    dev_settings: Settings,
) -> None:
    app = whoami_app(dev_settings)
    good = dev_token(dev_settings, sub="u", org=ORG, roles=["counsellor"])

    for response in (
        await get(app, good, scheme="Basic"),
        await get(app, jwt.encode(claims(), "another-secret-that-is-also-long-enough")),
    ):
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_caller_without_the_role_gets_403_problem_json(dev_settings: Settings) -> None:
    token = dev_token(dev_settings, sub="u", org=ORG, roles=["partner", "auditor"])

    response = await get(whoami_app(dev_settings), token)

    assert_problem(response, 403, "forbidden")
    assert "counsellor" in response.json()["detail"]


async def test_a_caller_with_the_role_gets_through(dev_settings: Settings) -> None:
    token = dev_token(dev_settings, sub="u-1", org=ORG, roles=["admin", "counsellor"])

    response = await get(whoami_app(dev_settings), token)

    assert response.status_code == 200
    assert response.json() == {"sub": "u-1", "org": ORG}


async def test_in_oidc_mode_the_app_lets_an_idp_token_through_and_turns_away_a_forged_one(
    idp: Idp, oidc_settings: Settings
) -> None:
    app = whoami_app(oidc_settings)

    ok = await get(app, es256(idp, claims(IDP)))
    mismatched = await get(app, rs256(idp, claims(IDP), kid="ec-1"))

    assert ok.status_code == 200 and ok.json()["sub"] == "user-1"
    assert_problem(mismatched, 401, "unauthorized")


async def test_a_verified_token_is_remembered_only_until_it_expires() -> None:
    settings = Settings(auth_mode="dev")
    verifier = TokenVerifier(settings)
    token = dev_token(settings, sub="u", org="o", roles=["counsellor"], ttl_seconds=1)
    assert (await verifier.verify(token)).sub == "u"
    assert (await verifier.verify(token)).sub == "u"  # from the cache
    await asyncio.sleep(1.6)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


def test_a_counsellor_filter_of_me_is_the_caller_and_any_other_value_a_counsellor() -> None:
    who = Principal(sub="anna.c", org="org-a", roles=frozenset({"team_lead"}))
    assert who.counsellor_filter("me") == "anna.c"
    assert who.counsellor_filter("bram.c") == "bram.c"
    assert who.counsellor_filter(None) is None

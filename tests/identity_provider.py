"""A real OpenID provider for the tests (the `oidc-provider-mock` package, in a thread on
127.0.0.1), with an RFC 7662 introspection endpoint mounted over its token store: the
oidc-mode unit tests and the console's sign-in tests use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask
import httpx
import oidc_provider_mock
import werkzeug.serving
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from oidc_provider_mock._storage import AccessToken, storage

CLIENT_ID = "waypoint"


REDIRECT = "http://127.0.0.1/callback"


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662 over the provider's token store; any registered-or-not client may ask,
    as the provider accepts any client (it authenticates the client all the same)."""

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return storage.get_access_token(token_string)

    def check_permission(self, token: Any, client: Any, request: Any) -> bool:
        return True

    def introspect_token(self, token: AccessToken) -> dict[str, Any]:
        return {
            "active": True,
            "token_type": "Bearer",
            "client_id": CLIENT_ID,
            "scope": token.scope,
            "iss": flask.request.host_url.rstrip("/"),
            "exp": int(token.expires_at.timestamp()),
            "iat": int(time.time()),
            # The user's claims (realm roles, an organisation, or an `aud`/`iss` a test
            # sets to see it refused), then the subject the token was issued to.
            **token.get_user().claims,
            "sub": token.user_id,
        }


@dataclass
class Provider:
    issuer: str
    introspections: list[str] = field(default_factory=list)

    def put_user(self, sub: str, claims: dict[str, Any]) -> None:
        httpx.put(f"{self.issuer}/users/{sub}", json=claims).raise_for_status()

    def revoke(self, sub: str) -> None:
        httpx.post(f"{self.issuer}/users/{sub}/revoke-tokens").raise_for_status()

    def sign_in(self, sub: str, claims: dict[str, Any] | None = None) -> dict[str, Any]:
        """The authorisation-code flow as a browser and a client run it: the user
        consents at the authorisation endpoint, the client trades the code for tokens."""
        if claims is not None:
            self.put_user(sub, claims)
        with httpx.Client(base_url=self.issuer) as client:
            consent = client.post(
                "/oauth2/authorize",
                params={
                    "client_id": "waypoint-console",
                    "redirect_uri": REDIRECT,
                    "response_type": "code",
                    "scope": "openid profile",
                },
                data={"sub": sub},
            )
            assert consent.status_code == 302, consent.text
            code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
            tokens = client.post(
                "/oauth2/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                auth=("waypoint-console", "console-secret"),
            )
            assert tokens.status_code == 200, tokens.text
            body: dict[str, Any] = tokens.json()
            return body


@contextmanager
def running_provider(
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[Provider]:
    app = oidc_provider_mock.app()
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    provider = Provider(f"http://127.0.0.1:{server.server_port}")
    endpoint = Introspection()

    @app.post("/oauth2/introspect")
    def introspect() -> Any:
        provider.introspections.append(flask.request.form.get("token", ""))
        authorization = flask.g._authlib_authorization_server
        if "introspection" not in authorization._endpoints:
            endpoint.server = authorization
            authorization.register_endpoint(endpoint)
        return authorization.create_endpoint_response("introspection")

    discovery_view = app.view_functions["oidc-provider-mock.openid_config"]

    def openid_config() -> Any:
        document = discovery_view().get_json()
        document["introspection_endpoint"] = flask.url_for("introspect", _external=True)
        return flask.jsonify(document)

    app.view_functions["oidc-provider-mock.openid_config"] = openid_config
    if wrap is not None:
        app.wsgi_app = wrap(app.wsgi_app)  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""OpenID Connect: the provider's keys (jwks)."""

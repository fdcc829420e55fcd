"""The identity provider in oidc mode: discovery, the provider's keys (jwks), claim
mapping, token introspection."""

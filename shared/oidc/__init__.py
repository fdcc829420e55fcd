"""The identity provider in oidc mode: discovery, claim mapping, token introspection."""

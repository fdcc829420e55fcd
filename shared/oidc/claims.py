"""Claim mapping: where a provider puts what Waypoint calls roles, org, partner_id and
audit_scope (Keycloak: `realm_access.roles`; Entra ID: `roles` app roles, `scp`; any:
`scope`), and how its role names translate to ours. The checks on the values stay in
`shared.auth.principal_from_claims`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.settings import Settings

# A claim that is not there (as opposed to one that is null).
MISSING: Any = object()


@dataclass(frozen=True)
class ClaimMapping:
    """Claim paths (a name, or a dotted path into nested objects) and the role map."""

    roles: str = "roles"
    role_map: Mapping[str, str] = field(default_factory=dict)
    org: str = "org"
    # One organisation for every caller: a deployment serving one agency (Entra ID has
    # no organisation claim without an extension attribute).
    fixed_org: str | None = None
    partner_id: str = "partner_id"
    audit_scope: str = "audit_scope"
    # A space-separated string of roles, as `scope` and Entra's `scp` are; dev tokens,
    # which we mint ourselves, always hold a list, so a string there is a malformed token.
    roles_as_string: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> ClaimMapping:
        """The deployment's mapping in oidc mode; dev tokens always use our own names."""
        if settings.auth_mode != "oidc":
            return DEFAULT_MAPPING
        # Imported here: shared.auth imports this module.
        from shared.auth import ROLES

        unknown = sorted(set(settings.oidc_role_map.values()) - ROLES)
        if unknown:
            raise ValueError(
                f"GUIDANCE_OIDC_ROLE_MAP maps to unknown roles {unknown}; known: {sorted(ROLES)}"
            )
        return cls(
            roles=settings.oidc_roles_claim,
            role_map=dict(settings.oidc_role_map),
            org=settings.oidc_org_claim,
            fixed_org=settings.oidc_org or None,
            partner_id=settings.oidc_partner_id_claim,
            audit_scope=settings.oidc_audit_scope_claim,
        )

    def roles_of(self, claims: Mapping[str, Any]) -> list[str] | None:
        """The caller's role names in our terms; None: the claim is of no usable shape."""
        value = claim(claims, self.roles)
        if value is MISSING or value is None:
            names: list[str] = []
        elif isinstance(value, str) and self.roles_as_string:
            # `scope` (RFC 8693 §4.2) and Entra's `scp` are space-separated strings.
            names = value.split()
        elif isinstance(value, list) and all(isinstance(r, str) for r in value):
            names = value
        else:
            return None
        if not self.role_map:
            return names
        # With a map, only the roles it names count: a provider role that happens to be
        # called `admin` does not make its holder our admin unless the map says so.
        return [self.role_map[n] for n in names if n in self.role_map]

    def org_of(self, claims: Mapping[str, Any]) -> Any:
        if self.fixed_org is not None:
            return self.fixed_org
        value = claim(claims, self.org)
        return None if value is MISSING else value

    def partner_id_of(self, claims: Mapping[str, Any]) -> Any:
        value = claim(claims, self.partner_id)
        return None if value is MISSING else value

    def audit_scope_of(self, claims: Mapping[str, Any]) -> Any:
        """The audit scope's value, or MISSING."""
        return claim(claims, self.audit_scope)


DEFAULT_MAPPING = ClaimMapping(roles_as_string=False)


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The value at `path`: a claim of that exact name first (URL-named claims hold dots),
    else the dotted walk into nested objects; MISSING when absent."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value

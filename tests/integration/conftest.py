"""Fixtures most integration tests share: a fresh organisation, its counsellor, and a
platform admin (a test module may define its own of the same name)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import bearer, new_org


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return bearer(token("admin", org="platform", sub="admin-1"))


@pytest.fixture
def org() -> str:
    return new_org()


@pytest.fixture
def counsellor(token: Any, org: str) -> dict[str, str]:
    return bearer(token("counsellor", org=org, sub="counsellor-1"))

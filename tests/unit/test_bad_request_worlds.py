"""The bad-request tables' shared worlds (tests/bad_requests.py `Worlds`): built once for
the rows that leave them as they were, built afresh after a row that fails, so one wrong
answer (which may have changed the world) does not fail every row after it."""

from __future__ import annotations

import pytest

from tests.bad_requests import Worlds


async def test_rows_share_a_world_until_one_fails_and_the_next_row_builds_a_fresh_one() -> None:
    built: list[int] = []

    async def build() -> int:
        built.append(len(built))
        return built[-1]

    worlds: Worlds[int] = Worlds()
    async with worlds.use("plan", build) as first:
        pass
    async with worlds.use("plan", build) as again:
        assert again == first
    async with worlds.use("other", build) as other:
        assert other != first
    with pytest.raises(AssertionError):
        async with worlds.use("plan", build):
            raise AssertionError("the row changed its world")
    async with worlds.use("plan", build) as fresh:
        assert fresh not in (first, other)
    assert built == [0, 1, 2]

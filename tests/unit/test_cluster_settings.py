"""Settings a deployment of several replicas on a NATS cluster needs."""

from __future__ import annotations

import pytest

from shared.settings import Settings, nats_servers


def test_a_nats_url_may_list_a_clusters_servers() -> None:
    url = "nats://a:4222, nats://b:4222,nats://c:4222"
    assert nats_servers(url) == ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
    assert Settings(nats_url=url).nats_servers == nats_servers(url)
    assert Settings(nats_url="nats://one:4222").nats_servers == ["nats://one:4222"]


def test_a_nats_url_naming_no_server_is_refused() -> None:
    with pytest.raises(ValueError):
        nats_servers(" , ")


def test_connections_carry_the_replicas_name_or_the_role() -> None:
    named = Settings(db_application_name="web-2", role="web").pg
    assert named.asyncpg_kwargs()["server_settings"] == {"application_name": "web-2"}
    assert "application_name=web-2" in named.dsn()
    assert Settings(role="relay").pg.application_name == "waypoint-relay"

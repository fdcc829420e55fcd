"""Snapshots of long-lived aggregates on the real PostgreSQL (issue #19): a partner that
changes its open places for years, and a client's consent index, load from their latest
snapshot and the events after it, to the same state as from all their events; no
snapshotted aggregate holds personal data (a snapshot's state is not sealed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import psycopg
import pytest
from eventsourcing.domain import Aggregate

from services.followup.application import FollowUpApplication
from services.intake.application import IntakeApplication
from services.planning.application import PlanningApplication
from services.referral.application import ReferralApplication
from services.referral.domain import ConsentReferrals, Partner
from shared.privacy import KeyVault
from shared.runtime import key_vault
from shared.settings import Settings


class SnapshotTestApp(ReferralApplication):
    name = "snapshottest"


class NoSnapshotsApp(ReferralApplication):
    """The same store read without snapshots: every event replayed."""

    name = "snapshottest"
    snapshotting_intervals: ClassVar[dict[Any, int]] = {}


@pytest.fixture(scope="module")
def vault(settings: Settings) -> KeyVault:
    return key_vault(settings)


@pytest.fixture(scope="module")
def apps(settings: Settings, vault: KeyVault) -> Iterator[tuple[SnapshotTestApp, NoSnapshotsApp]]:
    with psycopg.connect(settings.pg.dsn(), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS snapshottest CASCADE")
    snapshotting = SnapshotTestApp(settings, vault)
    replaying = NoSnapshotsApp(settings, vault)
    yield snapshotting, replaying
    snapshotting.close()
    replaying.close()


def snapshot_versions(settings: Settings, aggregate_id: uuid.UUID) -> list[int]:
    with psycopg.connect(settings.pg.dsn()) as conn:
        rows = conn.execute(
            "SELECT originator_version FROM snapshottest.snapshottest_snapshots "
            "WHERE originator_id = %s ORDER BY originator_version",
            (aggregate_id,),
        ).fetchall()
    return [r[0] for r in rows]


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_a_partner_loads_from_its_snapshot_to_the_state_of_all_its_events(
    apps: tuple[SnapshotTestApp, NoSnapshotsApp], settings: Settings
) -> None:
    app, replay = apps
    partner_id = uuid.uuid4()
    app.register_partner(
        partner_id,
        name="Jobhuis Gent",
        description="Training towards work.",
        services=[{"name": "Job coaching", "category": "training", "languages": ["nl", "fr"]}],
        accepted_categories=["identity", "contact"],
        contact_email="intake@jobhuis.example",
        open_places=3,
        actor="admin",
        owner_org="org-a",
    )
    for places in range(1, 121):
        app.change(
            lambda: app.load(Partner, partner_id),
            None,
            lambda partner, at, n=places: partner.set_capacity(open_places=n, actor="a", at=at),
        )
    # Version 121: snapshots at 50 and 100 (taken by the group commit's saves).
    assert snapshot_versions(settings, partner_id) == [50, 100]

    loaded = app.load(Partner, partner_id)
    replayed = replay.load(Partner, partner_id)
    assert loaded.version == replayed.version == 121
    assert loaded.open_places == 120
    assert state(loaded) == state(replayed)
    # Its services are values again, as after replaying (not the dicts a snapshot stores).
    assert loaded.services == replayed.services
    assert loaded.services[0].languages == ("nl", "fr")
    # A command on the loaded partner goes on from there.
    app.change(
        lambda: app.load(Partner, partner_id),
        121,
        lambda partner, at: partner.deactivate(actor="a", at=at),
    )
    assert replay.load(Partner, partner_id).active is False


def test_a_consent_index_loads_from_its_snapshot(
    apps: tuple[SnapshotTestApp, NoSnapshotsApp], settings: Settings
) -> None:
    app, replay = apps
    client_id, partner_id = uuid.uuid4(), uuid.uuid4()
    index = ConsentReferrals.start(client_id, partner_id, app.clock())
    referrals = [uuid.uuid4() for _ in range(60)]
    app.save(index)
    for referral_id in referrals:
        index = app.load(ConsentReferrals, index.id)
        index.attach(referral_id, app.clock())
        app.save(index)
    assert snapshot_versions(settings, index.id) == [50]
    loaded = app.load(ConsentReferrals, index.id)
    assert loaded.referral_ids == referrals
    assert state(loaded) == state(replay.load(ConsentReferrals, index.id))


@pytest.mark.parametrize(
    "application",
    [IntakeApplication, PlanningApplication, FollowUpApplication, ReferralApplication],
)
def test_no_snapshotted_aggregate_holds_personal_data(application: type) -> None:
    """A snapshot stores the aggregate's state as it is, unsealed: only aggregates none of
    whose events has a personal field may be snapshotted."""
    for aggregate in application.snapshotting_intervals:
        events = [
            v
            for v in vars(aggregate).values()
            if isinstance(v, type) and issubclass(v, Aggregate.Event)
        ]
        assert events, aggregate
        sealed = [e for e in events if e in application.personal_data]
        assert sealed == [], f"{aggregate.__name__} is snapshotted but {sealed} hold personal data"

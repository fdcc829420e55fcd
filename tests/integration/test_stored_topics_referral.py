"""A referral store written before the aggregates moved into `services/referral/domain/`
still loads and replays.

The events' topics name the module that defined their class when they were stored
(`services.referral.domain:Partner.Registered`, `services.referral.lifecycle:Referral.Sent`,
…), and a created event also names its aggregate's class (`originator_topic`). The store
here is written through the application, then its topics are rewritten to those old
strings: every aggregate loads as it was, and the projection, replayed from the start,
makes the same rows.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from services.referral.application import ProposalFacts, ReferralApplication
from services.referral.domain import ConsentReferrals, Partner, Referral
from services.referral.projections import ReferralProjection
from services.referral.read_models import SCHEMA_SQL as READ_MODELS_SQL
from shared.runtime import key_vault
from shared.settings import Settings
from tests.conftest import fresh_database

# The module of each aggregate now → where it was when older events were stored.
OLD_MODULES = {
    "services.referral.domain.partner:": "services.referral.domain:",
    "services.referral.domain.referral:": "services.referral.lifecycle:",
    "services.referral.domain.consent_referrals:": "services.referral.lifecycle:",
}
VIEWS = ("partners_view", "referrals_view")


def write_store(app: ReferralApplication) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A partner through every change, and a referral through its whole loop; their ids
    and the id of the referral's consent index."""
    at = app.clock()
    step = timedelta(hours=1)
    partner_id, referral_id = uuid.uuid4(), uuid.uuid4()
    client_id, case_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    partner = app.register_partner(
        partner_id,
        name="Zorgacademie Midden",
        description="Vocational courses.",
        services=[{"name": "Retraining", "category": "training", "languages": ["nl"]}],
        accepted_categories=["contact", "career_question"],
        contact_email="intake@zorgacademie.example.org",
        open_places=3,
        actor="admin-1",
        owner_org="org-a",
    )
    partner.update(
        changes={"contact_email": "aanmelding@zorgacademie.example.org"},
        new_id=app.new_id,
        actor="admin-1",
        at=at + step,
    )
    partner.set_capacity(open_places=2, actor="admin-1", at=at + 2 * step)
    partner.deactivate(actor="admin-1", at=at + 3 * step)
    partner.reactivate(actor="admin-1", at=at + 4 * step)
    app.save(partner)
    facts = ProposalFacts(
        case={"organisation": "org-a", "client_id": client_id},
        partner={"active": True, "open_places": 2, "accepted_categories": ["contact"]},
        consent={"granted": True, "data_categories": ["contact"], "consent_id": consent_id},
    )
    referral = app.propose_referral(
        referral_id,
        facts,
        organisation="org-a",
        case_id=case_id,
        partner_id=partner_id,
        reason="Wants to retrain as a care assistant.",
        data_categories=["contact"],
        actor="counsellor-1",
    )
    t = referral.created_on
    referral.send(actor="counsellor-1", at=t + step)
    referral.acknowledge(actor="partner-1", at=t + 2 * step)
    referral.accept(actor="partner-1", at=t + 3 * step)
    referral.report_outcome(
        outcome="completed", notes="Certified.", actor="partner-1", at=t + 4 * step
    )
    referral.close(note="Discussed.", actor="counsellor-1", at=t + 5 * step)
    referral.record_resumption(
        resumes=True,
        resume_on=(t + 6 * step).date(),
        note=None,
        actor="counsellor-1",
        at=t + 6 * step,
    )
    app.save(referral)
    return partner_id, referral_id, ConsentReferrals.id_for(client_id, partner_id)


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if not k.startswith("_")} | {
        "id": aggregate.id,
        "version": aggregate.version,
    }


async def replayed(app: ReferralApplication, conn: asyncpg.Connection) -> dict[str, list[Any]]:
    """The projection's rows after a replay of the whole log into empty read models."""
    for view in VIEWS:
        await conn.execute(f"DROP TABLE IF EXISTS referral.{view}")
    projection = ReferralProjection(app, {})
    await projection.setup(conn)
    notifications = await asyncio.to_thread(app.recorder.select_notifications, 1, 10_000)
    assert notifications
    await projection.handle(conn, notifications)
    rows = {}
    for view in VIEWS:
        found = await conn.fetch(f"SELECT * FROM referral.{view} ORDER BY 1")
        rows[view] = [dict(r) for r in found]
    return rows


async def test_a_store_with_the_old_topics_loads_and_replays_to_the_same_rows(
    settings: Settings, database_url: str
) -> None:
    with fresh_database(database_url, "waypoint_topics") as url:
        own = Settings(**{**settings.model_dump(), "database_url": url})
        vault = await asyncio.to_thread(key_vault, own)
        app = await asyncio.to_thread(ReferralApplication, own, vault)
        conn = await asyncpg.connect(**own.pg.asyncpg_kwargs())
        try:
            ids = await asyncio.to_thread(write_store, app)
            kinds = (Partner, Referral, ConsentReferrals)
            before = [state_of(app.repository.get(i)) for i in ids]
            assert [type(app.repository.get(i)) for i in ids] == list(kinds)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS referral.follower_positions "
                "(name text PRIMARY KEY, position bigint NOT NULL)"
            )
            await conn.execute(READ_MODELS_SQL)
            rows = await replayed(app, conn)
            assert len(rows["partners_view"]) == 1 and len(rows["referrals_view"]) == 1
            assert rows["referrals_view"][0]["status"] == "closed"

            # The store as it was written before the move: every topic, and the aggregate's
            # class each created event names, in the old modules.
            table = f'"{app.recorder.datastore.schema}"."{app.recorder.events_table_name}"'
            for new, old in OLD_MODULES.items():
                await conn.execute(
                    f"UPDATE {table} SET topic = replace(topic, $1, $2), "
                    "state = convert_to(replace(convert_from(state, 'UTF8'), $1, $2), 'UTF8')",
                    new,
                    old,
                )
            stored = {r["topic"] for r in await conn.fetch(f"SELECT topic FROM {table}")}
            assert "services.referral.domain:Partner.Registered" in stored
            assert "services.referral.lifecycle:Referral.Proposed" in stored
            assert "services.referral.lifecycle:ConsentReferrals.Attached" in stored
            assert not any(".domain.partner:" in t or ".domain.referral:" in t for t in stored)

            # A new application (nothing cached) loads each aggregate as it was …
            again = await asyncio.to_thread(ReferralApplication, own, vault)
            try:
                loaded = [await asyncio.to_thread(again.repository.get, i) for i in ids]
                assert [type(a) for a in loaded] == list(kinds)
                assert [state_of(a) for a in loaded] == before
                # … and the projection replays the old store from the start to the same rows.
                assert await replayed(again, conn) == rows
            finally:
                again.close()
        finally:
            await conn.close()
            app.close()

"""Every reaction of referral to another service's event, registered by contract class.

Referral never reads another service's tables. Two read models (one on intake's stream,
one on planning's) keep what referral knows of clients, cases and plans:

- `referral.consents`: the current state of each referral consent per (client, purpose,
  partner). A newer event wins: a change is applied only when its log `position` is
  above the stored one, so a late, older event cannot undo a newer one. Only consents
  of purpose `referral` are kept (referral has no use for the others).
- `referral.cases`: each case's client and organisation, and whether it was accepted.
- `referral.client_languages`: each client's preferred language (not personal), the
  default language of the referral letter the counsellor prints.
- `referral.statistics_consents`: whether each client's latest word on the `statistics`
  consent was a withdrawal (a newer event wins, as for the consents): the team lead's
  network report leaves those clients' referrals out.
- `referral.sealed_copies`: copies of what a packet may carry, per data category. The
  personal values stay sealed exactly as published, each with the id of the event it
  came from and its field name (the AAD it was sealed with), so it opens only with the
  client's key at read time. Assessments and the plan summary are not personal and are
  kept as plain jsonb; `detail` holds non-personal context (goal id, assessor, ...).

- `referral.legal_holds`: the cases under a legal hold (intake's `LegalHoldPlaced`,
  dropped on `LegalHoldLifted`): retention removes no packet of a client with a held case.

And one reaction: a withdrawn referral consent reaches the referrals resting on it
(`referral-consents`). The tables' SQL and the writer of a copy are in `read_models.py`,
their queries in `queries.py`.
"""

from __future__ import annotations

import asyncpg
from eventsourcing.domain import Aggregate

from services.referral.application import ReferralApplication
from services.referral.read_models import SCHEMA_SQL, Copy, write_copies, write_copy
from shared.contracts.intake import (
    AssessmentRecordedV1,
    CaseAcceptedV1,
    CaseOpenedV1,
    CaseReassignedV1,
    ClientRegisteredV1,
    ConsentGrantedV1,
    ConsentWithdrawnV1,
)
from shared.contracts.planning import GoalAddedV1, PlanAgreedV1
from shared.contracts.privacy import LegalHoldLiftedV1, LegalHoldPlacedV1
from shared.messaging.envelope import CloudEvent
from shared.messaging.reactions import Reactions, ReadModel

CLIENT_FIELDS = {
    "given_name": "identity",
    "family_name": "identity",
    "birth_date": "identity",
    "email": "contact",
    "phone": "contact",
}


# -- intake ------------------------------------------------------------------------------------
async def on_client_registered(
    conn: asyncpg.Connection, registered: ClientRegisteredV1, event: CloudEvent
) -> None:
    client_id = registered.client_id
    if registered.preferred_language:
        await conn.execute(
            "INSERT INTO referral.client_languages (client_id, preferred_language) "
            "VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING",
            client_id,
            registered.preferred_language,
        )
    copies: list[Copy] = [
        (field, client_id, None, category, value, None)
        for field, category in CLIENT_FIELDS.items()
        if (value := getattr(registered, field)) is not None
    ]
    await write_copies(conn, event, copies)


async def _consent_changed(
    conn: asyncpg.Connection,
    change: ConsentGrantedV1 | ConsentWithdrawnV1,
    event: CloudEvent,
    granted: bool,
) -> None:
    if change.purpose == "statistics":
        await conn.execute(
            "INSERT INTO referral.statistics_consents (client_id, withdrawn, changed_at, "
            "source_position) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET "
            "withdrawn = EXCLUDED.withdrawn, changed_at = EXCLUDED.changed_at, "
            "source_position = EXCLUDED.source_position "
            "WHERE referral.statistics_consents.source_position < EXCLUDED.source_position",
            change.client_id,
            not granted,
            event.time,
            event.position or 0,
        )
        return
    if change.purpose != "referral" or change.partner_id is None:
        return
    await conn.execute(
        "INSERT INTO referral.consents (client_id, purpose, partner_id, data_categories, "
        "granted, consent_id, organisation, changed_at, source_position, event_id) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
        "ON CONFLICT (client_id, purpose, partner_id) DO UPDATE SET "
        "data_categories = CASE WHEN EXCLUDED.granted THEN EXCLUDED.data_categories "
        "ELSE referral.consents.data_categories END, "
        "granted = EXCLUDED.granted, consent_id = EXCLUDED.consent_id, "
        "organisation = EXCLUDED.organisation, changed_at = EXCLUDED.changed_at, "
        "source_position = EXCLUDED.source_position, event_id = EXCLUDED.event_id "
        "WHERE referral.consents.source_position < EXCLUDED.source_position",
        change.client_id,
        change.purpose,
        change.partner_id,
        list(change.data_categories),
        granted,
        change.consent_id,
        change.organisation,
        event.time,
        event.position or 0,
        event.id,
    )


async def on_consent_granted(
    conn: asyncpg.Connection, granted: ConsentGrantedV1, event: CloudEvent
) -> None:
    await _consent_changed(conn, granted, event, True)


async def on_consent_withdrawn(
    conn: asyncpg.Connection, withdrawn: ConsentWithdrawnV1, event: CloudEvent
) -> None:
    await _consent_changed(conn, withdrawn, event, False)


# After the case's row is written (`c`, in the same statement): its counsellor onto its
# referrals listed before the counsellor was known here.
COUNSELLOR_OF_REFERRALS = (
    "UPDATE referral.referrals_view r SET counsellor = c.counsellor FROM c "
    "WHERE r.case_id = c.case_id AND r.counsellor IS NULL AND c.counsellor IS NOT NULL"
)


async def on_case_opened(conn: asyncpg.Connection, opened: CaseOpenedV1, event: CloudEvent) -> None:
    await conn.execute(
        "WITH c AS (INSERT INTO referral.cases (case_id, client_id, organisation, counsellor) "
        "VALUES ($1,$2,$3,$4) ON CONFLICT (case_id) DO UPDATE "
        "SET counsellor = coalesce(referral.cases.counsellor, EXCLUDED.counsellor) "
        f"RETURNING case_id, counsellor) {COUNSELLOR_OF_REFERRALS}",
        opened.case_id,
        opened.client_id,
        opened.organisation,
        opened.actor,
    )
    await write_copy(
        conn,
        event,
        field="career_question",
        client_id=opened.client_id,
        case_id=opened.case_id,
        category="career_question",
        value=opened.career_question,
    )


async def on_case_accepted(
    conn: asyncpg.Connection, accepted: CaseAcceptedV1, event: CloudEvent
) -> None:
    # It may come before CaseOpened: it carries all a row needs (the counsellor since
    # it carries one).
    await conn.execute(
        "WITH c AS (INSERT INTO referral.cases (case_id, client_id, organisation, accepted, "
        "counsellor) VALUES ($1,$2,$3,true,$4) ON CONFLICT (case_id) DO UPDATE "
        "SET accepted = true, "
        "counsellor = coalesce(referral.cases.counsellor, EXCLUDED.counsellor) "
        f"RETURNING case_id, counsellor) {COUNSELLOR_OF_REFERRALS}",
        accepted.case_id,
        accepted.client_id,
        accepted.organisation,
        accepted.counsellor,
    )


async def on_assessment_recorded(
    conn: asyncpg.Connection, recorded: AssessmentRecordedV1, event: CloudEvent
) -> None:
    await write_copy(
        conn,
        event,
        field="scores",
        client_id=recorded.client_id,
        case_id=recorded.case_id,
        category="assessments",
        value=dict(recorded.scores),
        detail={"assessment_id": recorded.assessment_id, "assessor": recorded.assessor},
    )


# -- planning ----------------------------------------------------------------------------------
async def on_plan_agreed(conn: asyncpg.Connection, agreed: PlanAgreedV1, event: CloudEvent) -> None:
    """Keep only the latest agreed version of a case's plan summary."""
    newer = await conn.fetchval(
        "SELECT true FROM referral.sealed_copies WHERE case_id = $1 AND category = 'plan' "
        "AND field = 'summary' AND (value->>'version')::int >= $2 LIMIT 1",
        agreed.case_id,
        agreed.version,
    )
    if newer:
        return
    await conn.execute(
        "DELETE FROM referral.sealed_copies WHERE case_id = $1 AND category = 'plan' "
        "AND field = 'summary'",
        agreed.case_id,
    )
    summary = {
        "plan_id": agreed.plan_id,
        "version": agreed.version,
        "actions": [
            {
                "action_id": a.action_id,
                "goal_id": a.goal_id,
                "owner": a.owner,
                "due_date": a.due_date,
                "status": a.status,
            }
            for a in agreed.actions
        ],
    }
    await write_copy(
        conn,
        event,
        field="summary",
        client_id=agreed.client_id,
        case_id=agreed.case_id,
        category="plan",
        value=summary,
    )


async def on_goal_added(conn: asyncpg.Connection, added: GoalAddedV1, event: CloudEvent) -> None:
    await write_copy(
        conn,
        event,
        field="title",
        client_id=added.client_id,
        case_id=added.case_id,
        category="plan",
        value=added.title,
        detail={
            "plan_id": added.plan_id,
            "goal_id": added.goal_id,
            "priority": added.priority,
            "target_date": added.target_date,
        },
    )


async def on_case_reassigned(
    conn: asyncpg.Connection, reassigned: CaseReassignedV1, event: CloudEvent
) -> None:
    """A team lead handed the case to another counsellor: its referrals are theirs in the
    counsellor's list (a case referral has not heard of yet takes its counsellor from
    intake's acceptance, which names the counsellor of the moment)."""
    await conn.execute(
        "WITH c AS (UPDATE referral.cases SET counsellor = $2 WHERE case_id = $1 "
        "RETURNING case_id, counsellor) "
        "UPDATE referral.referrals_view r SET counsellor = c.counsellor FROM c "
        "WHERE r.case_id = c.case_id",
        reassigned.case_id,
        reassigned.counsellor,
    )


# -- intake's legal holds ------------------------------------------------------------------------
HOLDS_SQL = """
CREATE TABLE IF NOT EXISTS referral.legal_holds (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL,
    placed_at timestamptz NOT NULL,
    source_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS legal_holds_client ON referral.legal_holds (client_id);
"""


async def on_hold_placed(
    conn: asyncpg.Connection, placed: LegalHoldPlacedV1, event: CloudEvent
) -> None:
    await conn.execute(
        "INSERT INTO referral.legal_holds (case_id, client_id, placed_at, source_position) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO NOTHING",
        placed.case_id,
        placed.client_id,
        event.time,
        event.position or 0,
    )


async def on_hold_lifted(
    conn: asyncpg.Connection, lifted: LegalHoldLiftedV1, event: CloudEvent
) -> None:
    await conn.execute(
        "DELETE FROM referral.legal_holds WHERE case_id = $1 AND source_position < $2",
        lifted.case_id,
        event.position or 0,
    )


# -- the reaction --------------------------------------------------------------------------------
def on_referral_consent_withdrawn(
    app: ReferralApplication, withdrawn: ConsentWithdrawnV1, event: CloudEvent
) -> list[Aggregate]:
    """Intake's ConsentWithdrawn: every open referral resting on it is marked revoked."""
    if withdrawn.purpose != "referral" or withdrawn.partner_id is None:
        return []
    return app.revoke_consent(withdrawn.client_id, withdrawn.partner_id, withdrawn.consent_id)


# Durable names are positions in NATS: never renamed.
INTAKE = ReadModel(
    "referral-intake",
    {
        ClientRegisteredV1: on_client_registered,
        ConsentGrantedV1: on_consent_granted,
        ConsentWithdrawnV1: on_consent_withdrawn,
        CaseOpenedV1: on_case_opened,
        CaseAcceptedV1: on_case_accepted,
        AssessmentRecordedV1: on_assessment_recorded,
    },
    schema_sql=SCHEMA_SQL,
)
# Its own durable: handovers arrive in order on intake's stream.
COUNSELLORS = ReadModel("referral-counsellors", {CaseReassignedV1: on_case_reassigned})
PLANNING = ReadModel(
    "referral-planning", {PlanAgreedV1: on_plan_agreed, GoalAddedV1: on_goal_added}
)
HOLDS = ReadModel(
    "referral-holds",
    {LegalHoldPlacedV1: on_hold_placed, LegalHoldLiftedV1: on_hold_lifted},
    HOLDS_SQL,
)
CONSENTS = Reactions("referral-consents", {ConsentWithdrawnV1: on_referral_consent_withdrawn})

"""Follow-up's reactions to other services' events, registered by contract class.

- `PLANS` (planning): an agreed plan opens the case's follow-up (once), or notes a newer
  agreed version; the plan's later news (actions added, completed, cancelled, the plan
  revised) keep the follow-up's own view of its actions.
- `CASES` (intake): the day a case was accepted, where the report's durations start.
- `STATISTICS` (intake): whether each client's latest word on the `statistics` consent was
  a withdrawal. The team lead's report leaves those clients out from the moment the
  withdrawal arrives (the follow-ups themselves stay: they serve the client's guidance,
  not statistics). A newer event wins (log positions), so a late, older event cannot
  undo a newer one.
- `COUNSELLORS` (intake): a case handed to another counsellor; its follow-up and
  check-ins are that counsellor's from then on (the newer handover wins), in the lists
  and the worklist, also for a follow-up opened after the news arrived.
- `ERASURE`: what erasing a client drops from follow-up's read models.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from eventsourcing.domain import Aggregate

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from shared.contracts.intake import (
    CaseAcceptedV1,
    CaseReassignedV1,
    ConsentGrantedV1,
    ConsentWithdrawnV1,
)
from shared.contracts.planning import (
    ActionAddedV1,
    ActionCancelledV1,
    ActionCompletedV1,
    AgreedAction,
    PlanAgreedV1,
    PlanRevisedV1,
)
from shared.messaging.envelope import CloudEvent
from shared.messaging.reactions import Reactions, ReadModel
from shared.service import Erasure


# -- planning's plans --------------------------------------------------------------------------
def _actions(actions: Sequence[AgreedAction]) -> list[dict[str, object]]:
    return [
        {
            "action_id": a.action_id,
            "goal_id": a.goal_id,
            "owner": a.owner,
            "due_date": a.due_date,
            "status": a.status,
        }
        for a in actions
    ]


def on_plan_agreed(
    app: FollowUpApplication, plan: PlanAgreedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    """Open the case's follow-up (once), or note a newer agreed version."""
    existing = app.existing(plan.case_id)
    at = app.clock()
    if existing is not None:
        changed = existing.note_plan_agreed(
            plan_version=plan.version, actions=_actions(plan.actions), actor=plan.actor, at=at
        )
        return [existing] if changed else []
    return [
        FollowUp.open(
            case_id=plan.case_id,
            client_id=plan.client_id,
            organisation=plan.organisation,
            counsellor=plan.actor,
            agreed_on=plan.occurred_at.date(),
            plan_version=plan.version,
            actions=_actions(plan.actions),
            offsets_days=app.settings.followup_checkin_offsets_days,
            at=at,
        )
    ]


def on_action_added(
    app: FollowUpApplication, news: ActionAddedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    followup = app.existing(news.case_id)
    if followup is None:
        return []  # no agreed plan yet: the actions arrive with PlanAgreed
    changed = followup.note_action_added(
        action_id=news.action_id,
        goal_id=news.goal_id,
        owner=news.owner,
        due_date=news.due_date,
        actor=news.actor,
        at=app.clock(),
    )
    return [followup] if changed else []


def on_action_completed(
    app: FollowUpApplication, news: ActionCompletedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    followup = app.existing(news.case_id)
    if followup is None:
        return []
    changed = followup.note_action_completed(
        action_id=news.action_id, actor=news.actor, at=app.clock()
    )
    return [followup] if changed else []


def on_action_cancelled(
    app: FollowUpApplication, news: ActionCancelledV1, event: CloudEvent
) -> Sequence[Aggregate]:
    followup = app.existing(news.case_id)
    if followup is None:
        return []
    changed = followup.note_action_cancelled(
        action_id=news.action_id, actor=news.actor, at=app.clock()
    )
    return [followup] if changed else []


def on_plan_revised(
    app: FollowUpApplication, news: PlanRevisedV1, event: CloudEvent
) -> Sequence[Aggregate]:
    followup = app.existing(news.case_id)
    if followup is None:
        return []
    changed = followup.note_plan_revised(
        from_version=news.from_version, actor=news.actor, at=app.clock()
    )
    return [followup] if changed else []


PLANS = Reactions(
    "followup-plans",
    {
        PlanAgreedV1: on_plan_agreed,
        ActionAddedV1: on_action_added,
        ActionCompletedV1: on_action_completed,
        ActionCancelledV1: on_action_cancelled,
        PlanRevisedV1: on_plan_revised,
    },
)


# -- intake's accepted cases -------------------------------------------------------------------
ACCEPTED_CASES_SQL = """
CREATE TABLE IF NOT EXISTS followup.accepted_cases (
    case_id uuid PRIMARY KEY,
    organisation text NOT NULL,
    accepted_on date NOT NULL
);
"""


async def on_case_accepted(
    conn: asyncpg.Connection, case: CaseAcceptedV1, event: CloudEvent
) -> None:
    """Intake's acceptance date of a case: where the report's durations start."""
    await conn.execute(
        "INSERT INTO followup.accepted_cases VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        case.case_id,
        case.organisation,
        event.time.date(),
    )


CASES = ReadModel("followup-cases", {CaseAcceptedV1: on_case_accepted}, ACCEPTED_CASES_SQL)


# -- intake's handovers of a case to another counsellor ---------------------------------------
CASE_COUNSELLORS_SQL = """
CREATE TABLE IF NOT EXISTS followup.case_counsellors (
    case_id uuid PRIMARY KEY,
    counsellor text NOT NULL,
    source_position bigint NOT NULL
);
"""


async def on_case_reassigned(
    conn: asyncpg.Connection, reassigned: CaseReassignedV1, event: CloudEvent
) -> None:
    """The case's follow-up and its check-ins go to the new counsellor (older news, a
    lower position, changes nothing)."""
    kept = await conn.fetchval(
        "INSERT INTO followup.case_counsellors VALUES ($1, $2, $3) ON CONFLICT (case_id) "
        "DO UPDATE SET counsellor = EXCLUDED.counsellor, "
        "source_position = EXCLUDED.source_position "
        "WHERE followup.case_counsellors.source_position < EXCLUDED.source_position "
        "RETURNING case_id",
        reassigned.case_id,
        reassigned.counsellor,
        event.position or 0,
    )
    if kept is None:
        return
    for table in ("followups_view", "checkins_view"):
        await conn.execute(
            f"UPDATE followup.{table} SET counsellor = $2 WHERE case_id = $1",
            reassigned.case_id,
            reassigned.counsellor,
        )


COUNSELLORS = ReadModel(
    "followup-counsellors", {CaseReassignedV1: on_case_reassigned}, CASE_COUNSELLORS_SQL
)


# -- intake's statistics consents --------------------------------------------------------------
STATISTICS_SQL = """
CREATE TABLE IF NOT EXISTS followup.statistics_consents (
    client_id uuid PRIMARY KEY,
    withdrawn boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    source_position bigint NOT NULL
);
"""


def in_statistics(table: str = "followups_view") -> str:
    """The SQL condition that keeps a follow-up of `table` (its name or alias in the
    query, always qualified: inside the subquery a bare `client_id` is the subquery's
    own) in the figures."""
    return (
        "NOT EXISTS (SELECT 1 FROM followup.statistics_consents s "
        f"WHERE s.client_id = {table}.client_id AND s.withdrawn)"
    )


async def _consent_changed(
    conn: asyncpg.Connection,
    consent: ConsentGrantedV1 | ConsentWithdrawnV1,
    event: CloudEvent,
    withdrawn: bool,
) -> None:
    if consent.purpose != "statistics":
        return
    await conn.execute(
        "INSERT INTO followup.statistics_consents (client_id, withdrawn, changed_at, "
        "source_position) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET "
        "withdrawn = EXCLUDED.withdrawn, changed_at = EXCLUDED.changed_at, "
        "source_position = EXCLUDED.source_position "
        "WHERE followup.statistics_consents.source_position < EXCLUDED.source_position",
        consent.client_id,
        withdrawn,
        event.time,
        event.position or 0,
    )


async def on_consent_granted(
    conn: asyncpg.Connection, consent: ConsentGrantedV1, event: CloudEvent
) -> None:
    await _consent_changed(conn, consent, event, False)


async def on_consent_withdrawn(
    conn: asyncpg.Connection, consent: ConsentWithdrawnV1, event: CloudEvent
) -> None:
    await _consent_changed(conn, consent, event, True)


STATISTICS = ReadModel(
    "followup-statistics",
    {ConsentGrantedV1: on_consent_granted, ConsentWithdrawnV1: on_consent_withdrawn},
    STATISTICS_SQL,
)


# -- a client's erasure ------------------------------------------------------------------------
# The client's outcome figures (unless they withdrew the `statistics` consent) move to the
# anonymised archive as their rows are dropped: no id, no counsellor, no text. Each
# statement answers one row per row dropped (the receipt's count).
_CONSENTING = (
    "NOT EXISTS (SELECT 1 FROM followup.statistics_consents s "
    "WHERE s.client_id = %(client_id)s AND s.withdrawn)"
)
ERASURE = Erasure(
    (
        "DELETE FROM followup.checkins_view WHERE followup_id IN (SELECT followup_id FROM "
        "followup.followups_view WHERE client_id = %(client_id)s)",
        "WITH gone AS (DELETE FROM followup.bottlenecks_view WHERE client_id = %(client_id)s "
        "RETURNING organisation, kind, detected_on), "
        "kept AS (INSERT INTO followup.bottleneck_archive (organisation, kind, detected_on) "
        f"SELECT organisation, kind, detected_on FROM gone WHERE {_CONSENTING}) "
        "SELECT 1 FROM gone",
        "WITH gone AS (DELETE FROM followup.followups_view WHERE client_id = %(client_id)s "
        "RETURNING *), "
        "accepted AS (DELETE FROM followup.accepted_cases a USING gone g "
        "WHERE a.case_id = g.case_id RETURNING a.case_id, a.accepted_on), "
        "kept AS (INSERT INTO followup.statistics_archive (organisation, outcome, outcome_on, "
        "days_to_outcome, bottlenecks, satisfaction, self_knowledge_improved, "
        "confidence_improved, feedback_on, figure_on) "
        "SELECT g.organisation, g.outcome, g.outcome_on, g.outcome_on - a.accepted_on, "
        "g.bottlenecks, g.satisfaction, g.self_knowledge_improved, g.confidence_improved, "
        "g.feedback_on, greatest(g.outcome_on, g.feedback_on) "
        "FROM gone g LEFT JOIN accepted a USING (case_id) "
        f"WHERE coalesce(g.outcome_on, g.feedback_on) IS NOT NULL AND {_CONSENTING}) "
        "SELECT 1 FROM gone UNION ALL SELECT 1 FROM accepted",
        "DELETE FROM followup.statistics_consents WHERE client_id = %(client_id)s",
    )
)

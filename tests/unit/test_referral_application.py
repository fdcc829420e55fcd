"""Referral's use cases and its reaction to intake's ConsentWithdrawn, on the library's
in-memory persistence (a real key vault in memory: a referral's reasons are sealed as in
production). The reaction is fed as its consumer feeds it: a CloudEvents envelope whose
data validates as the contract `CONSENTS` names, the handler's aggregates then saved.

A proposal's facts (case, partner, consent) are what referral's read models say; here they
are given as the API would have read them. Not here (they read referral's SQL read models):
gathering those facts, the lists, the packet and the letter, the overdue job."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from services.referral.application import CONSENT_ACTOR, ProposalFacts, ReferralApplication
from services.referral.consumers import CONSENTS
from services.referral.domain import ConsentReferrals, Referral, ReferralError
from shared.audit.access import DataAccess
from shared.auth import Principal
from shared.contracts.intake import ConsentWithdrawnV1
from shared.errors import NotFound
from shared.messaging.envelope import CloudEvent
from tests.reacting import NOW, deliver, envelope

ORG, ACTOR = "org-a", "c.jansen"
COUNSELLOR = Principal(sub=ACTOR, org=ORG, roles=frozenset({"counsellor"}))


@pytest.fixture
def referral() -> Iterator[ReferralApplication]:
    app = ReferralApplication.in_memory()
    yield app
    app.close()


# -- set-ups -----------------------------------------------------------------------------------
def partner_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Jobhuis Gent",
        "description": "Training towards work.",
        "services": [{"name": "Job coaching", "category": "training", "languages": ["nl"]}],
        "accepted_categories": ["identity", "contact", "career_question"],
        "contact_email": "intake@jobhuis.example",
        "open_places": 3,
        "actor": "admin",
        "owner_org": ORG,
    }
    return fields | changes


def facts(
    client_id: uuid.UUID,
    consent_id: uuid.UUID,
    *,
    case: dict[str, Any] | None = None,
    partner: dict[str, Any] | None = None,
    consent: dict[str, Any] | None = None,
) -> ProposalFacts:
    """What the read models would say: a case of ORG, an active partner with places, and
    the client's granted consent for identity and contact (each overridable)."""
    return ProposalFacts(
        case={"organisation": ORG, "client_id": client_id} | (case or {}),
        partner={
            "active": True,
            "open_places": 2,
            "accepted_categories": ["identity", "contact", "career_question"],
        }
        | (partner or {}),
        consent={"granted": True, "data_categories": ["identity", "contact"]}
        | {"consent_id": consent_id}
        | (consent or {}),
    )


def propose(
    app: ReferralApplication,
    *,
    client_id: uuid.UUID,
    partner_id: uuid.UUID,
    consent_id: uuid.UUID,
    categories: Sequence[str] = ("contact",),
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Referral:
    return app.propose_referral(
        uuid.uuid4(),
        facts(client_id, consent_id, **(overrides or {})),
        organisation=ORG,
        case_id=uuid.uuid4(),
        partner_id=partner_id,
        reason="Needs a training first.",
        data_categories=list(categories),
        actor=ACTOR,
    )


def sent(app: ReferralApplication, referral: Referral) -> Referral:
    """The referral sent to its partner, as the API's send command does it."""
    _, changed = app.change(
        lambda: app.load(Referral, referral.id),
        None,
        lambda r, at: r.send(actor=ACTOR, at=at),
    )
    return changed


def withdrawn(
    client_id: uuid.UUID,
    partner_id: uuid.UUID | None,
    consent_id: uuid.UUID,
    *,
    position: int = 1,
    purpose: str = "referral",
) -> CloudEvent:
    contract = ConsentWithdrawnV1.model_validate(
        {
            "occurred_at": NOW,
            "actor": ACTOR,
            "client_id": client_id,
            "organisation": ORG,
            "consent_id": consent_id,
            "purpose": purpose,
            "partner_id": partner_id,
            "data_categories": ["identity", "contact"] if purpose == "referral" else [],
        }
    )
    return envelope(contract, position)


# -- the partner directory ---------------------------------------------------------------------
def test_a_registered_partner_is_in_the_directory_with_its_canonical_services(
    referral: ReferralApplication,
) -> None:
    partner_id = uuid.uuid4()
    referral.register_partner(partner_id, **partner_fields())
    partner = referral.partner(partner_id, include_inactive=False)
    assert (partner.name, partner.open_places, partner.active) == ("Jobhuis Gent", 3, True)
    assert partner.accepted_categories == ["identity", "contact", "career_question"]
    assert [(s.name, s.category, s.languages) for s in partner.services] == [
        ("Job coaching", "training", ("nl",))
    ]
    assert partner.owner_org == ORG and partner.registered_by == "admin"


def test_registering_a_partner_id_twice_is_refused_and_keeps_the_first(
    referral: ReferralApplication,
) -> None:
    partner_id = uuid.uuid4()
    referral.register_partner(partner_id, **partner_fields())
    with pytest.raises(ReferralError) as refused:
        referral.register_partner(partner_id, **partner_fields(name="Another"))
    assert refused.value.code == "partner-exists"
    assert referral.partner(partner_id, include_inactive=False).name == "Jobhuis Gent"


def test_a_partner_breaking_a_directory_rule_is_not_registered(
    referral: ReferralApplication,
) -> None:
    partner_id = uuid.uuid4()
    with pytest.raises(ReferralError) as refused:
        referral.register_partner(partner_id, **partner_fields(services=[]))
    assert refused.value.field == "services"
    with pytest.raises(NotFound):
        referral.partner(partner_id, include_inactive=True)


# -- proposing ---------------------------------------------------------------------------------
def test_a_proposal_on_a_granted_consent_is_saved_with_its_reason_sealed_and_indexed(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    proposed = propose(
        referral,
        client_id=client_id,
        partner_id=partner_id,
        consent_id=consent_id,
        categories=("contact", "identity"),
    )
    loaded = referral.referral(proposed.id, COUNSELLOR)
    assert (loaded.status, loaded.client_id, loaded.consent_id) == (
        "proposed",
        client_id,
        consent_id,
    )
    assert loaded.reason == "Needs a training first." and loaded.proposed_by == ACTOR
    # In the vocabulary's order, whatever order they were asked in.
    assert loaded.data_categories == ["identity", "contact"]
    stored = list(referral.recorder.select_events(proposed.id))
    assert b"Needs a training" not in stored[0].state and b"$sealed" in stored[0].state
    index: ConsentReferrals = referral.repository.get(
        ConsentReferrals.id_for(client_id, partner_id)
    )
    assert index.referral_ids == [proposed.id]


def test_a_second_proposal_to_the_same_partner_joins_the_same_consent_index(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    second = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    index: ConsentReferrals = referral.repository.get(
        ConsentReferrals.id_for(client_id, partner_id)
    )
    assert index.referral_ids == [first.id, second.id]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"case": {"organisation": "org-b"}}, "not-found", "case_id"),
        ({"partner": {"active": False}}, "partner-unavailable", "partner_id"),
        ({"partner": {"open_places": 0}}, "partner-unavailable", "partner_id"),
        ({"partner": {"accepted_categories": ["identity"]}}, "invalid", "data_categories"),
        ({"consent": {"granted": False}}, "consent-required", "data_categories"),
        ({"consent": {"data_categories": ["identity"]}}, "consent-required", "data_categories"),
    ],
)
def test_a_proposal_the_facts_do_not_allow_is_refused_and_nothing_is_saved(
    referral: ReferralApplication, overrides: dict[str, dict[str, Any]], code: str, field: str
) -> None:
    client_id, partner_id = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(ReferralError) as refused:
        propose(
            referral,
            client_id=client_id,
            partner_id=partner_id,
            consent_id=uuid.uuid4(),
            overrides=overrides,
        )
    assert (refused.value.code, refused.value.field) == (code, field)
    assert list(referral.recorder.select_notifications(start=1, limit=10)) == []


def test_a_proposal_without_a_known_case_partner_or_consent_is_refused(
    referral: ReferralApplication,
) -> None:
    def proposal(known: ProposalFacts) -> Referral:
        return referral.propose_referral(
            uuid.uuid4(),
            known,
            organisation=ORG,
            case_id=uuid.uuid4(),
            partner_id=uuid.uuid4(),
            reason="Needs a training first.",
            data_categories=["contact"],
            actor=ACTOR,
        )

    full = facts(uuid.uuid4(), uuid.uuid4())
    for known, code in [
        (ProposalFacts(None, full.partner, full.consent), "not-found"),
        (ProposalFacts(full.case, None, full.consent), "not-found"),
        (ProposalFacts(full.case, full.partner, None), "consent-required"),
    ]:
        with pytest.raises(ReferralError) as refused:
            proposal(known)
        assert refused.value.code == code


# -- who sees a referral -----------------------------------------------------------------------
def test_the_partner_sees_a_referral_only_once_it_was_sent(referral: ReferralApplication) -> None:
    partner_id = uuid.uuid4()
    proposed = propose(
        referral, client_id=uuid.uuid4(), partner_id=partner_id, consent_id=uuid.uuid4()
    )
    the_partner = Principal(
        sub="p.user", org="partner-org", roles=frozenset({"partner"}), partner_id=partner_id
    )
    another_partner = Principal(
        sub="q.user", org="partner-org", roles=frozenset({"partner"}), partner_id=uuid.uuid4()
    )
    with pytest.raises(NotFound):
        referral.referral(proposed.id, the_partner)
    sent(referral, proposed)
    assert referral.referral(proposed.id, the_partner).status == "sent"
    with pytest.raises(NotFound):
        referral.referral(proposed.id, another_partner)
    with pytest.raises(NotFound):
        referral.referral(
            proposed.id, Principal(sub="x", org="org-b", roles=frozenset({"counsellor"}))
        )


def test_a_read_of_the_clients_data_under_a_referral_is_recorded(
    referral: ReferralApplication,
) -> None:
    partner_id, client_id = uuid.uuid4(), uuid.uuid4()
    proposed = sent(
        referral,
        propose(referral, client_id=client_id, partner_id=partner_id, consent_id=uuid.uuid4()),
    )
    the_partner = Principal(
        sub="p.user", org="partner-org", roles=frozenset({"partner"}), partner_id=partner_id
    )
    access = referral.record_access(
        the_partner, proposed, resource="packet", categories=["contact"]
    )
    stored: object = referral.repository.get(access.id)
    assert isinstance(stored, DataAccess)
    assert (stored.client_id, stored.referral_id, stored.partner_id) == (
        client_id,
        proposed.id,
        partner_id,
    )
    assert (stored.actor, stored.purpose, stored.resource, stored.categories) == (
        "p.user",
        "referral",
        "packet",
        ["contact"],
    )


# -- the reaction: a withdrawn referral consent reaches the referrals resting on it ------------
def test_a_withdrawn_referral_consent_marks_the_open_referrals_revoked_once(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    proposed = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    on_its_way = sent(
        referral,
        propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id),
    )
    event = withdrawn(client_id, partner_id, consent_id)
    assert {a.id for a in deliver(referral, CONSENTS, event)} == {proposed.id, on_its_way.id}
    for referral_id in (proposed.id, on_its_way.id):
        loaded = referral.referral(referral_id, COUNSELLOR)
        assert loaded.consent_revoked and not loaded.shares_data
    versions = {r: referral.load(Referral, r).version for r in (proposed.id, on_its_way.id)}
    assert deliver(referral, CONSENTS, event) == []
    assert {r: referral.load(Referral, r).version for r in versions} == versions
    stored: Any = list(referral.repository.event_store.get(on_its_way.id))[-1]
    assert type(stored) is Referral.ConsentRevoked and stored.actor == CONSENT_ACTOR


def test_a_referral_whose_consent_was_withdrawn_can_no_longer_be_sent(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    proposed = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    deliver(referral, CONSENTS, withdrawn(client_id, partner_id, consent_id))
    with pytest.raises(ReferralError) as refused:
        sent(referral, proposed)
    assert refused.value.code == "consent-revoked"


def test_a_withdrawal_leaves_withdrawn_referrals_and_other_partners_referrals_alone(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ended = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    referral.change(
        lambda: referral.load(Referral, ended.id),
        None,
        lambda r, at: r.withdraw(reason="Not needed after all.", actor=ACTOR, at=at),
    )
    elsewhere = propose(
        referral, client_id=client_id, partner_id=uuid.uuid4(), consent_id=uuid.uuid4()
    )
    assert deliver(referral, CONSENTS, withdrawn(client_id, partner_id, consent_id)) == []
    assert not referral.load(Referral, ended.id).consent_revoked
    assert not referral.load(Referral, elsewhere.id).consent_revoked


def test_a_withdrawal_of_another_purpose_or_without_referrals_changes_nothing(
    referral: ReferralApplication,
) -> None:
    client_id, partner_id, consent_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    proposed = propose(referral, client_id=client_id, partner_id=partner_id, consent_id=consent_id)
    assert (
        deliver(referral, CONSENTS, withdrawn(client_id, None, consent_id, purpose="guidance"))
        == []
    )
    # Even one naming the partner (intake never publishes it; the contract allows it).
    statistics = withdrawn(client_id, partner_id, consent_id, purpose="statistics")
    assert deliver(referral, CONSENTS, statistics) == []
    assert deliver(referral, CONSENTS, withdrawn(uuid.uuid4(), partner_id, consent_id)) == []
    assert not referral.load(Referral, proposed.id).consent_revoked

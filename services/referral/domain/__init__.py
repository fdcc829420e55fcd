"""Referral's domain: one module per aggregate, pure (the standard library and
eventsourcing.domain only; ids and times are passed in).

- `partner.py`: a partner of the directory (the "social map"); what it is made of is
  checked in `partner_rules.py`;
- `referral.py`: a referral's closed loop; its statuses, reasons and working days in
  `referral_rules.py`;
- `consent_referrals.py`: the referrals resting on one consent, which its withdrawal
  reaches;
- `rules.py`: the service's error and what counts as text.

Each module registers the topics its events were stored under before they moved here.
"""

from services.referral.domain.consent_referrals import INDEX_NAMESPACE, ConsentReferrals
from services.referral.domain.partner import Partner, has_open_places
from services.referral.domain.partner_rules import (
    LANGUAGES,
    MAX_SERVICES,
    SERVICE_CATEGORIES,
    UPDATABLE,
    Service,
    check_capacity,
    check_categories,
    check_description,
    check_email,
    check_name,
    check_services,
)
from services.referral.domain.referral import Referral
from services.referral.domain.referral_rules import (
    AWAITING_ANSWER,
    CLOSABLE,
    ENDED,
    LETTER,
    OUTCOMES,
    REMOVED,
    SHARED,
    STATUSES,
    WITHDRAWABLE,
    Outcome,
    Resumption,
    add_working_days,
    check_reason,
)
from services.referral.domain.rules import ReferralError
from shared.vocabulary import DATA_CATEGORIES

__all__ = [
    "AWAITING_ANSWER",
    "CLOSABLE",
    "DATA_CATEGORIES",
    "ENDED",
    "INDEX_NAMESPACE",
    "LANGUAGES",
    "LETTER",
    "MAX_SERVICES",
    "OUTCOMES",
    "REMOVED",
    "SERVICE_CATEGORIES",
    "SHARED",
    "STATUSES",
    "UPDATABLE",
    "WITHDRAWABLE",
    "ConsentReferrals",
    "Outcome",
    "Partner",
    "Referral",
    "ReferralError",
    "Resumption",
    "Service",
    "add_working_days",
    "check_capacity",
    "check_categories",
    "check_description",
    "check_email",
    "check_name",
    "check_reason",
    "check_services",
    "has_open_places",
]

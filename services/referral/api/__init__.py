"""Referral's HTTP API: the partner directory (`directory.py`), the counsellor's side of
referrals and the partner's figures (`referrals.py`), the partner's inbox, packet and the
printable letter (`inbox.py`), the team lead's network report (`reports.py`), the
retention rules and removed packets (`retention.py`); request and response models in
`schemas.py` and `partner_schemas.py`, the answers built from a referral or partner in
`answers.py`, what routes are handed in `dependencies.py`."""

from services.referral.api.directory import router as directory
from services.referral.api.inbox import inbox
from services.referral.api.referrals import referrals
from services.referral.api.reports import reports
from services.referral.api.retention import retention

# In the order its OpenAPI document lists them.
ROUTERS = (directory, referrals, inbox, reports, retention)

__all__ = ["ROUTERS"]

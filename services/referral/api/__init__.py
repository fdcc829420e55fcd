"""Referral's HTTP API: the partner directory (`directory.py`), the counsellor's side of
referrals and the partner's figures (`referrals.py`), the partner's inbox, packet and the
printable letter (`inbox.py`)."""

from services.referral.api.directory import router
from services.referral.api.inbox import inbox
from services.referral.api.referrals import referrals

__all__ = ["inbox", "referrals", "router"]

"""How the retention rules read in the services' answers (`GET /<service>/v1/retention`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, require
from shared.privacy.retention import policy_of
from shared.schemas import Answer
from shared.settings import Settings

# Who reads the retention rules and receipts: the organisation's team lead (the privacy
# officer's role here) and its auditor.
RetentionReader = Annotated[Principal, Depends(require("team_lead", "auditor"))]


class RetentionRuleOut(Answer):
    """One purpose's retention rule."""

    purpose: str
    """`guidance`, `referral_packet` or `statistics`."""
    months: int
    """The period in months."""
    period: str
    """The period in words (`7 years`, `12 months`)."""
    starts: str
    """From which moment it counts."""
    covers: str
    """What it covers."""
    removal: str
    """How the data goes when the period has passed."""


def rules_out(settings: Settings) -> list[RetentionRuleOut]:
    """Every purpose's rule as the settings make it."""
    return [
        RetentionRuleOut(
            purpose=r.purpose,
            months=r.period.months,
            period=r.period.describe(),
            starts=r.starts,
            covers=r.covers,
            removal=r.removal,
        )
        for r in policy_of(settings).values()
    ]

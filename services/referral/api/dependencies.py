"""Who may call referral's routes, the application, and the commands on one referral or
one partner (`shared.commands.command_on`: the aggregate loaded for the caller)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.referral.application import ReferralApplication
from services.referral.domain import Partner, Referral
from shared.auth import Counsellor, Principal, require
from shared.commands import Command, application_of, command_on
from shared.errors import Forbidden, NotFound

DirectoryAdmin = Annotated[Principal, Depends(require("admin", "directory_admin"))]
DirectoryReader = Annotated[
    Principal, Depends(require("counsellor", "team_lead", "admin", "directory_admin"))
]
# Who may read one partner: those who search the directory, and a partner its own entry.
PartnerReader = Annotated[
    Principal,
    Depends(require("counsellor", "team_lead", "admin", "directory_admin", "partner")),
]
# Who may set a partner's open places: its admins, or the partner itself.
CapacitySetter = Annotated[Principal, Depends(require("admin", "directory_admin", "partner"))]
StaffOrPartner = Annotated[Principal, Depends(require("counsellor", "team_lead", "partner"))]


def partner_of(who: Principal) -> uuid.UUID:
    """The partner a partner token speaks for."""
    if who.partner_id is None:
        raise Forbidden("This partner token names no partner_id.")
    return who.partner_id


async def a_partner(who: Annotated[Principal, Depends(require("partner"))]) -> Principal:
    partner_of(who)
    return who


PartnerUser = Annotated[Principal, Depends(a_partner)]


App = Annotated[ReferralApplication, Depends(application_of)]


def administered(app: ReferralApplication, partner_id: uuid.UUID, who: Principal) -> Partner:
    """The partner, if `who` may change it: an admin of its owner, a directory
    administrator, or the partner itself; else it reads as absent (checked before
    `If-Match`, so that not even its version shows)."""
    partner = app.load(Partner, partner_id)
    if who.has("partner") and who.partner_id == partner_id:
        return partner
    if who.has("admin", "directory_admin") and partner.administered_by(
        who.org, directory_admin=who.has("directory_admin")
    ):
        return partner
    raise NotFound(f"No partner {partner_id}.")


# A command on a referral the caller may see (`ReferralApplication.referral`).
CounsellorCommand = Annotated[
    Command[Referral], command_on(Counsellor, "referral_id", ReferralApplication.referral)
]
PartnerCommand = Annotated[
    Command[Referral], command_on(PartnerUser, "referral_id", ReferralApplication.referral)
]
# A command on a partner the caller may change (`administered`).
PartnerAdminCommand = Annotated[
    Command[Partner], command_on(DirectoryAdmin, "partner_id", administered)
]
CapacityCommand = Annotated[
    Command[Partner], command_on(CapacitySetter, "partner_id", administered)
]

"""What follow-up's routes are handed: the application, and the command on one follow-up."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.followup.application import FollowUpApplication
from services.followup.domain import FollowUp
from shared.auth import Counsellor, Principal
from shared.commands import Command, application_of, command_on

App = Annotated[FollowUpApplication, Depends(application_of)]


def _followup(app: FollowUpApplication, followup_id: uuid.UUID, who: Principal) -> FollowUp:
    return app.followup(followup_id, who.org)


# A counsellor's command on a follow-up of their organisation.
FollowUpCommand = Annotated[Command[FollowUp], command_on(Counsellor, "followup_id", _followup)]

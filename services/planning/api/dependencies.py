"""What planning's routes are handed: the application, and the command on one plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.planning.application import PlanningApplication
from services.planning.domain import Plan
from shared.auth import Counsellor
from shared.commands import Command, application_of, command_on

App = Annotated[PlanningApplication, Depends(application_of)]

# A counsellor's command on a plan of their organisation.
PlanCommand = Annotated[
    Command[Plan], command_on(Counsellor, "plan_id", PlanningApplication.plan_for)
]

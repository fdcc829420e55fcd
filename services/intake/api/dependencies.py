"""What intake's routes are handed: the application, and the command on one case, client
or complaint."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.intake.application import IntakeApplication
from services.intake.domain import Case, Client, Complaint, GroupSession
from shared.auth import Counsellor, Principal, Staff, TeamLead
from shared.commands import Command, application_of, command_on

App = Annotated[IntakeApplication, Depends(application_of)]


def _case(app: IntakeApplication, case_id: uuid.UUID, who: Principal) -> Case:
    return app.case(case_id, who.org)


def _client(app: IntakeApplication, client_id: uuid.UUID, who: Principal) -> Client:
    return app.client(client_id, who.org)


def _complaint(app: IntakeApplication, complaint_id: uuid.UUID, who: Principal) -> Complaint:
    return app.complaint(complaint_id, who.org)


def _group(app: IntakeApplication, group_id: uuid.UUID, who: Principal) -> GroupSession:
    return app.group(group_id, who.org)


# A counsellor's command on a case (or a client) of their organisation.
CaseCommand = Annotated[Command[Case], command_on(Counsellor, "case_id", _case)]
# Staff's command on a case: closing its file (a counsellor, or a team lead for a
# counsellor who left).
StaffCaseCommand = Annotated[Command[Case], command_on(Staff, "case_id", _case)]
# A team lead's command on a case: handing it to another counsellor.
LeadCaseCommand = Annotated[Command[Case], command_on(TeamLead, "case_id", _case)]
ClientCommand = Annotated[Command[Client], command_on(Counsellor, "client_id", _client)]
# Staff's (a counsellor's or a team lead's) command on a complaint of their organisation.
ComplaintCommand = Annotated[Command[Complaint], command_on(Staff, "complaint_id", _complaint)]
# A counsellor's command on a group session of their organisation.
GroupCommand = Annotated[Command[GroupSession], command_on(Counsellor, "group_id", _group)]

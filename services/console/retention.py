"""The retention page: the agency's period per purpose and the latest receipts of what
retention removed (the referral packets, the anonymised figures), for the team lead and
the auditor of the organisation. Clients erased by the `guidance` rule have their erasure
receipt like any erasure (`system:retention`, the rule in its reason).

The APIs decide who may read (team lead, auditor); the page shows no client's data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.console.api import ApiError
from services.console.forms import api, token
from services.console.i18n import N_
from services.console.web import SignedIn, View

router = APIRouter()

HOME = "/retention"
# Each purpose: what it covers, from when its period counts, how the data goes.
PURPOSES = {
    "guidance": (
        N_("The client file"),
        N_("after the client's last case closed"),
        N_("The client is erased in every service (their key destroyed), with a receipt."),
    ),
    "referral_packet": (
        N_("What a partner received under a referral"),
        N_("after the referral ended (declined, closed or withdrawn)"),
        N_(
            "The packet and letter are no longer served and the texts the partner received "
            "are removed; the referral itself (dates, status) stays."
        ),
    ),
    "statistics": (
        N_("The anonymised outcome figures of erased clients"),
        N_("after the figure's day"),
        N_("The figures are deleted from the archive the reports count."),
    ),
}
STATUSES = {"declined": N_("declined"), "closed": N_("closed"), "withdrawn": N_("withdrawn")}


def privacy_readers_only(page: View) -> None:
    """The team lead's and the auditor's (as the APIs say); others: not found."""
    assert page.session is not None
    if not {"team_lead", "auditor"} & set(page.session.roles):
        raise ApiError(404, {"type": "https://waypoint.example/problems/not-found"})


@router.get(HOME, response_class=HTMLResponse)
async def retention(request: Request, page: SignedIn) -> HTMLResponse:
    """The periods per purpose, the removed packets and the statistics' purges."""
    privacy_readers_only(page)
    call = api(request)
    packets = await call.get(token(page), "/referral/v1/retention", limit=50)
    statistics = await call.get(token(page), "/followup/v1/retention")
    return page.render(
        "retention.html",
        rules=packets["rules"],
        purposes=PURPOSES,
        packets=packets,
        statistics=statistics,
        statuses=STATUSES,
    )

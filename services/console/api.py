"""The four APIs, called with the signed-in user's own token, and their problems turned
into what a person reads beside a form's fields."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.console.i18n import N_, Localised

PROBLEM_BASE = "https://waypoint.example/problems/"
# httpx logs every request at INFO: a line (with the record's id in its URL) for each of a
# page's API calls. The console logs what an API refused instead (main.py).
logging.getLogger("httpx").setLevel(logging.WARNING)
# How long a read waits before it is asked once more (see Api.call).
RETRY_WAIT_SECONDS = 0.3


class ApiError(Exception):
    """An API answered with a problem (or not at all: status 503, no body)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type', '')}")
        self.status = status
        self.problem = problem

    @property
    def code(self) -> str:
        kind = str(self.problem.get("type", ""))
        return kind.removeprefix(PROBLEM_BASE)


@dataclass
class Page:
    """One page of a list the API paginates (`X-Total-Count`; `capped`: the list holds
    more than `total`, the API's count stopped there, `X-Total-Count-Capped`)."""

    items: list[dict[str, Any]]
    total: int
    number: int
    size: int
    capped: bool = False

    @property
    def pages(self) -> int:
        known = max(1, -(-self.total // self.size))
        if not self.capped:
            return known
        # Beyond a capped count the pages go on while they are full.
        return max(known, self.number + 1 if len(self.items) == self.size else self.number)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


class Api:
    """One shared HTTP client for every user; each call carries the caller's token."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        token: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        given = {"Authorization": f"Bearer {token}", **(headers or {})}
        # A read is asked once more after a short wait when the service is briefly
        # unavailable (a 503 or no answer): it changes nothing, and a page is spared.
        # A change is never repeated here: its outcome is the API's to tell.
        attempts = 2 if method == "GET" else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                r = await self.http.request(method, path, json=json, params=params, headers=given)
            except httpx.HTTPError as e:
                if not last:
                    await asyncio.sleep(RETRY_WAIT_SECONDS)
                    continue
                raise ApiError(
                    503,
                    {
                        "type": PROBLEM_BASE + "service-unavailable",
                        "title": "Service unavailable",
                        "detail": type(e).__name__,
                    },
                ) from None
            if r.status_code == 503 and not last:
                await asyncio.sleep(RETRY_WAIT_SECONDS)
                continue
            break
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {}
            if not isinstance(problem, dict):
                problem = {}
            raise ApiError(r.status_code, problem)
        return r

    async def get(self, token: str, path: str, **params: Any) -> Any:
        given = {k: v for k, v in params.items() if v is not None and v != ""}
        return (await self.call(token, "GET", path, params=given)).json()

    async def page(self, token: str, path: str, number: int, size: int, **params: Any) -> Page:
        number = max(1, number)
        given = {k: v for k, v in params.items() if v is not None and v != ""}
        r = await self.call(
            token, "GET", path, params={**given, "limit": size, "offset": (number - 1) * size}
        )
        items = r.json()
        total = int(r.headers.get("X-Total-Count", len(items)))
        capped = r.headers.get("X-Total-Count-Capped") == "true"
        return Page(items=items, total=total, number=number, size=size, capped=capped)

    async def union(
        self,
        token: str,
        path: str,
        number: int,
        size: int,
        variants: list[dict[str, Any]],
        **params: Any,
    ) -> Page:
        """One page of the union of several lists of one path, each with its own filter
        (e.g. two statuses where the API takes one; no item in two lists), in the lists'
        own order (newest change first). Each list is read from its start up to the
        page's end, so the page number is held to what one read (200 items) reaches."""
        number = max(1, min(number, MAX_UNION_ITEMS // size))
        given = {k: v for k, v in params.items() if v is not None and v != ""}
        answers = await asyncio.gather(
            *(
                self.call(
                    token,
                    "GET",
                    path,
                    params={**given, **variant, "limit": number * size, "offset": 0},
                )
                for variant in variants
            )
        )
        lists = [r.json() for r in answers]
        totals = [
            int(r.headers.get("X-Total-Count", len(items)))
            for r, items in zip(answers, lists, strict=True)
        ]
        page = merged_page(lists, totals, number, size)
        page.capped = any(r.headers.get("X-Total-Count-Capped") == "true" for r in answers)
        return page


# The most items one list of a union is read up to (the APIs' largest `limit`).
MAX_UNION_ITEMS = 200


def merged_page(
    lists: list[list[dict[str, Any]]],
    totals: list[int],
    number: int,
    size: int,
    key: str = "updated_at",
) -> Page:
    """Page `number` of the union of lists that share no item, each ordered by `key`
    (a moment) newest first."""
    items = sorted(
        (i for found in lists for i in found), key=lambda i: _moment(i.get(key)), reverse=True
    )
    start = (number - 1) * size
    return Page(items=items[start : start + size], total=sum(totals), number=number, size=size)


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# What a person reads for a refusal the API names by its type.
GENERAL = {
    "version-conflict": N_(
        "Someone else changed this record while you were working on it. What it says now "
        "is shown below; check it, then make your change again."
    ),
    "consent-required": N_("This needs the client's consent, which has not been given."),
    "forbidden": N_("You are not allowed to do this."),
    "not-found": N_("This record does not exist, or you may not see it."),
    "service-unavailable": N_(
        "A part of Waypoint is not reachable just now. Nothing was changed; try again in a moment."
    ),
    "validation-error": N_("Some fields need your attention."),
    "case-decided": N_("The case is already decided: this can no longer change."),
    "case-not-ready": N_("The case is not ready for this yet."),
    "over-budget": N_(
        "This session would go over the case's hours budget: ask your team lead to approve "
        "more hours."
    ),
    "not-smart": N_("The goal is not SMART yet: see each criterion below."),
    "not-shared": N_(
        "This referral no longer shares the client's data (it is withdrawn, declined or "
        "closed): no letter is printed for it."
    ),
    "plan-incomplete": N_(
        "The plan is not complete yet: it needs its type and at least one goal to be agreed."
    ),
}
UNKNOWN = N_("The change was refused: %(detail)s")


@dataclass
class FormErrors:
    """A refusal, as a form shows it: messages per field and above the form."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    conflict: bool = False
    # The API's own names of the fields (or criteria) it refused.
    named: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.fields or self.summary)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def form_errors(
    error: ApiError,
    local: Localised,
    fields: dict[str, str],
    where: dict[str, str] | None = None,
    prefix: str = "",
) -> FormErrors:
    """The problem as messages beside the fields it names (`errors[].field`).

    `fields`: the form's fields, each with the message a person reads when the API
    refuses it (already marked for translation); a field the form does not have, and a
    problem that names no field, go above the form. `where` puts a field the API names
    at another of the form's controls (a SMART criterion at the input it judges);
    `prefix` tells one form's controls from another's on the same page.
    """
    out = FormErrors(conflict=error.status == 409 and error.code == "version-conflict")
    named = error.problem.get("errors")
    if isinstance(named, list):
        for entry in named:
            if not isinstance(entry, dict):
                continue
            name = str(entry.get("field", ""))
            message = str(entry.get("message", ""))
            out.named.add(name)
            if name in fields:
                out.add(prefix + (where or {}).get(name, name), local.gettext(fields[name]))
            else:
                out.summary.append(f"{name}: {message}" if name else message)
    if error.code in GENERAL:
        out.summary.insert(0, local.gettext(GENERAL[error.code]))
    elif not out:
        detail = str(error.problem.get("detail") or error.problem.get("title") or error.status)
        out.summary.append(local.gettext(UNKNOWN, detail=detail))
    return out

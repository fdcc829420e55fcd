"""Printing: the client's plan (POP), the reflection-and-action report and a referral's
letter for a partner, as the APIs write them (HTML, in the client's language or the one
asked), and as PDF, rendered here with WeasyPrint.

The PDF is rendered server-side in a worker thread, from the API's page alone: nothing is
fetched while rendering (only `data:` URLs are read), so a text in the plan cannot make the
console call anywhere. A4 with margins (the documents' own `@page` rule, and a default
here), the PDF's title and language taken from the page. A refusal of the API (403, 404,
409 not shared) is the console's error page, as for every other page."""

from __future__ import annotations

import logging
import re
import uuid
from html import unescape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from services.console.forms import api, token
from services.console.i18n import N_
from services.console.web import SignedIn, View

router = APIRouter()
log = logging.getLogger(__name__)

# The languages both documents are written in, in the order the plan page offers them.
DOCUMENT_LANGUAGES = ("nl", "fr", "en")
# The printable pages are the APIs' own, with their own inline style.
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
# Every page printed on A4 with margins, whatever the document says of its own.
PAGE_CSS = "@page { size: A4; margin: 20mm 18mm; }"
_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)
_LANG = re.compile(r"<html[^>]*\slang=\"([A-Za-z-]{2,12})\"", re.I)


def ordered_languages(preferred: str | None) -> list[str]:
    """The documents' languages, the client's preferred one (`fr-BE`: French) first."""
    first = (preferred or "")[:2].lower()
    return sorted(DOCUMENT_LANGUAGES, key=lambda code: code != first)


def asked_language(lang: str | None) -> dict[str, str] | None:
    """The `lang` to ask the API for; anything else: none (the client's language)."""
    return {"lang": lang} if lang in DOCUMENT_LANGUAGES else None


def data_only_fetcher() -> Any:
    """WeasyPrint's URL fetcher that reads `data:` URLs and refuses every other one."""
    from weasyprint.urls import URLFetcher

    class DataOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                raise ValueError(f"not fetched while printing: {url[:80]}")
            return super().fetch(url, headers)

    return DataOnly(allowed_protocols=("data",), allow_redirects=False)


def html_to_pdf(html: str) -> bytes:
    """The page as an A4 PDF, its title and language those of the page; nothing fetched."""
    from weasyprint import CSS, HTML

    fetcher = data_only_fetcher()
    document = HTML(string=html, url_fetcher=fetcher).render(
        stylesheets=[CSS(string=PAGE_CSS, url_fetcher=fetcher)]
    )
    title, lang = _TITLE.search(html), _LANG.search(html)
    if title and not document.metadata.title:
        document.metadata.title = unescape(title.group(1)).strip()
    if lang and not document.metadata.lang:
        document.metadata.lang = lang.group(1)
    pdf: bytes = document.write_pdf()
    return pdf


async def pdf_response(request: Request, page: View, html: str, filename: str) -> Response:
    """The PDF as a download; the error page when this server cannot render PDF."""
    try:
        pdf = await run_in_threadpool(html_to_pdf, html)
    except OSError as e:  # pango or its fonts missing: see the Makefile's install step
        log.error("console: %s: no PDF (%s)", request.url.path, e)
        return page.render(
            "error.html",
            status=503,
            title=page.gettext(N_("This did not work")),
            message=page.gettext(
                N_("Printing as PDF is not available just now. The printable page still is.")
            ),
        )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- the plan ------------------------------------------------------------------------------
async def plan_document(
    request: Request, page: View, plan_id: uuid.UUID, lang: str | None
) -> tuple[str, str]:
    """The plan's printable page as planning writes it, and the plan's version (its ETag)."""
    r = await api(request).call(
        token(page),
        "GET",
        f"/planning/v1/plans/{plan_id}/document",
        params=asked_language(lang),
        headers={"Accept": "text/html"},
    )
    return r.text, r.headers.get("etag", "").strip('"W/') or "1"


@router.get("/plans/{plan_id}/document")
async def document(
    request: Request, plan_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The printable plan, as the API writes it, in the client's language (or the one asked)."""
    html, _ = await plan_document(request, page, plan_id, lang)
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})


@router.get("/plans/{plan_id}/document.pdf")
async def document_pdf(
    request: Request, plan_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The printable plan as PDF, named after the plan's version (`plan-7.pdf`)."""
    html, version = await plan_document(request, page, plan_id, lang)
    name = f"plan-{version}.pdf" if version.isdigit() else "plan.pdf"
    return await pdf_response(request, page, html, name)


# -- the referral letter -------------------------------------------------------------------
async def referral_letter(
    request: Request, page: View, referral_id: uuid.UUID, lang: str | None
) -> str:
    r = await api(request).call(
        token(page),
        "GET",
        f"/referral/v1/referrals/{referral_id}/letter",
        params=asked_language(lang),
        headers={"Accept": "text/html"},
    )
    return r.text


@router.get("/referrals/{referral_id}/letter")
async def letter(
    request: Request, referral_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The referral letter for a partner without API access, as the API writes it (each
    read recorded there), in the client's language (or the one asked)."""
    html = await referral_letter(request, page, referral_id, lang)
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})


@router.get("/referrals/{referral_id}/letter.pdf")
async def letter_pdf(
    request: Request, referral_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The referral letter as PDF."""
    html = await referral_letter(request, page, referral_id, lang)
    return await pdf_response(request, page, html, "referral-letter.pdf")


# -- the reflection-and-action report ------------------------------------------------------
async def report_document(
    request: Request, page: View, case_id: uuid.UUID, lang: str | None
) -> tuple[str, str]:
    """The report's printable page as intake writes it (each read recorded there), and the
    case's version (its ETag)."""
    r = await api(request).call(
        token(page),
        "GET",
        f"/intake/v1/cases/{case_id}/report/document",
        params=asked_language(lang),
        headers={"Accept": "text/html"},
    )
    return r.text, r.headers.get("etag", "").strip('"W/') or "1"


@router.get("/cases/{case_id}/report/document")
async def report_page(
    request: Request, case_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The printable reflection-and-action report, in the client's language (or the one
    asked)."""
    html, _ = await report_document(request, page, case_id, lang)
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})


@router.get("/cases/{case_id}/report/document.pdf")
async def report_pdf(
    request: Request, case_id: uuid.UUID, page: SignedIn, lang: str | None = None
) -> Response:
    """The reflection-and-action report as PDF."""
    html, _ = await report_document(request, page, case_id, lang)
    return await pdf_response(request, page, html, "reflection-and-action-report.pdf")

"""Printing: the client's plan and the referral letter as PDF (WeasyPrint), read back with
pypdf. The rendering on its own (the plan's page in Dutch and French, nothing fetched over
the network), then through the console of a running system: the dev counsellor signed in,
a referral sent over the APIs, its letter and the plan downloaded as PDF."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from services.console.printing import data_only_fetcher, html_to_pdf, ordered_languages
from services.planning.document import render
from tests.console.conftest import System
from tests.console.journey import (
    accepted_case,
    agree_plan,
    counsellor_api,
    post,
    register_partner,
)

TODAY = date(2026, 11, 29)
PLAN: dict[str, Any] = {
    "plan_type": "combined",
    "status": "agreed",
    "gaps": ["networking", "work_exploration"],
    "goals": [
        {
            "priority": 1,
            "title": "Goal Warehouse planner",
            "specific": "Apply for three warehouse planner jobs in the region",
            "measure": "Measure three applications sent",
            "target_date": "2027-03-01",
            "competences": ["networking"],
            "actions": [
                {
                    "description": "Update the CV with the planning work",
                    "owner": "counsellor",
                    "due_date": "2027-01-15",
                    "status": "open",
                }
            ],
        }
    ],
    "last_agreed": {
        "version": 2,
        "agreements": {
            "client": {"at": datetime(2026, 11, 20, 10, 0)},
            "counsellor": {"at": datetime(2026, 11, 21, 10, 0)},
        },
    },
}


def pdf_text(pdf: bytes) -> tuple[PdfReader, str]:
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"[ \t]+", " ", text)


# -- the rendering on its own -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "headings", "owner"),
    [
        (
            "nl",
            ["Persoonlijk ontwikkelingsplan", "Loopbaanvraag", "Te ontwikkelen competenties"],
            "loopbaanbegeleider",
        ),
        (
            "fr",
            ["Plan personnel de développement", "Question de carrière", "Objectifs, par priorité"],
            "conseiller",
        ),
    ],
)
def test_the_plan_prints_as_an_a4_pdf_with_what_the_client_agreed_to(
    lang: str, headings: list[str], owner: str
) -> None:
    html = render(
        PLAN,
        client_name="Zoë Dupont",
        lang=lang,
        printed=TODAY,
        career_question="Which work suits me after ten years in retail?",
    )
    reader, text = pdf_text(html_to_pdf(html))
    for expected in (
        *headings,
        "Zoë Dupont",
        "Which work suits me after ten years in retail?",
        "Goal Warehouse planner",
        "Measure three applications sent",
        "Update the CV with the planning work",
        "2027-01-15",
        owner,
        "(versie 2)" if lang == "nl" else "(version 2)",
    ):
        assert expected in text, (expected, text)
    assert "Personal development plan" not in text
    # The PDF says its title and language; every page is A4 (595 x 842 pt).
    assert reader.metadata is not None and reader.metadata.title == headings[0] + (
        " (POP)" if lang == "nl" else " (PPD)"
    )
    assert reader.trailer["/Root"]["/Lang"] == lang
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
            595,
            842,
        )


def test_the_url_fetcher_reads_data_urls_only() -> None:
    fetcher = data_only_fetcher()
    for url in (
        "http://127.0.0.1/logo.png",
        "https://example.org/style.css",
        "HTTPS://example.org/x",
        "file:///etc/passwd",
        "ftp://example.org/x",
    ):
        with pytest.raises(ValueError, match="not fetched while printing"):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"


def test_rendering_fetches_nothing_over_the_network() -> None:
    """A page naming a stylesheet, an image and a font elsewhere is printed without any of
    them: the server they name is never called."""
    calls: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            calls.append(conn.recv(200))
            conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    here = f"http://127.0.0.1:{port}"
    html = (
        f'<!doctype html><html lang="nl"><head><title>Plan</title>'
        f'<link rel="stylesheet" href="{here}/a.css">'
        f"<style>@import url('{here}/b.css'); @font-face {{ font-family: X; "
        f"src: url('{here}/x.woff'); }}</style></head>"
        f'<body><h1>Veilig</h1><img src="{here}/c.png" alt="logo"></body></html>'
    )
    try:
        _, text = pdf_text(html_to_pdf(html))
    finally:
        stop.set()
        server.join()
        listener.close()
    assert "Veilig" in text
    assert calls == []


def test_the_plan_page_offers_the_client_language_first() -> None:
    assert ordered_languages("fr-BE") == ["fr", "nl", "en"]
    assert ordered_languages("en") == ["en", "nl", "fr"]
    assert ordered_languages(None) == ["nl", "fr", "en"]
    assert ordered_languages("de") == ["nl", "fr", "en"]


# -- through the console ----------------------------------------------------------------------
@contextmanager
def signed_in_console(system: System) -> Iterator[httpx.Client]:
    """An HTTP client with the dev counsellor's console session (as the sign-in page does)."""
    with httpx.Client(
        base_url=system.base, headers={"Accept-Language": "en"}, timeout=30
    ) as browser:
        page = browser.get("/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text
        signed = browser.post(
            "/sign-in", data={"csrf_token": found.group(1), "person": "counsellor", "next": "/"}
        )
        assert signed.status_code == 303, signed.text
        yield browser


def sent_referral(system: System) -> tuple[str, str]:
    """A French-speaking client of the dev counsellor with an agreed plan, referred (and
    the referral sent) to a partner, all over the APIs: (referral_id, plan_id)."""
    partner_id = register_partner(system, "Schuldhulp Zuid")
    with counsellor_api(system) as api:
        client_id, case_id = accepted_case(
            api,
            "Zoé",
            "Lambert",
            language="fr-BE",
            question="Quel métier après la vente ?",
            email="zoe.lambert@example.org",
        )
        plan_id = agree_plan(
            api,
            case_id,
            {
                "title": "Devenir planificatrice en logistique",
                "specific": "Postuler à trois offres de planificatrice dans la région",
                "measure": "3 candidatures envoyées et un entretien obtenu",
                "competences": ["work_exploration"],
            },
            {"description": "Mettre le CV à jour", "owner": "counsellor"},
        )
        categories = ["identity", "career_question"]
        post(
            api,
            f"/intake/v1/clients/{client_id}/consents",
            {
                "purpose": "referral",
                "granted": True,
                "partner_id": partner_id,
                "data_categories": categories,
            },
        )
        # The consent reaches referral over NATS: the proposal is refused until it has.
        deadline = time.monotonic() + 20
        while True:
            r = api.post(
                "/referral/v1/referrals",
                json={
                    "case_id": case_id,
                    "partner_id": partner_id,
                    "reason": "Des dettes empêchent toute formation.",
                    "data_categories": categories,
                },
            )
            if r.status_code == 201:
                break
            assert r.status_code == 409 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        referral_id = str(r.json()["referral_id"])
        assert post(api, f"/referral/v1/referrals/{referral_id}/send", {})["status"] == "sent"
    return referral_id, str(plan_id)


def test_the_console_prints_the_referral_letter_and_the_plan_as_pdf(system: System) -> None:
    referral_id, plan_id = sent_referral(system)
    with signed_in_console(system) as console:
        # The letter, in the client's language (French) unless another is asked.
        r = console.get(f"/referrals/{referral_id}/letter.pdf")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == 'attachment; filename="referral-letter.pdf"'
        reader, text = pdf_text(r.content)
        for expected in (
            "Lettre d'orientation",
            "Schuldhulp Zuid",
            "Des dettes empêchent toute formation.",
            "Question de carrière",
            "Quel métier après la vente ?",
            "Zoé",
        ):
            assert expected in text, (expected, text)
        assert "lambert@example.org" not in text  # contact details were not consented to
        assert reader.trailer["/Root"]["/Lang"] == "fr"
        dutch = console.get(f"/referrals/{referral_id}/letter.pdf", params={"lang": "nl"})
        assert "Verwijzing" in pdf_text(dutch.content)[1]
        page = console.get(f"/referrals/{referral_id}/letter", params={"lang": "en"})
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Referral</h1>" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")

        # The plan, in Dutch as asked: what the client agreed to, and its version's name.
        r = console.get(f"/plans/{plan_id}/document.pdf", params={"lang": "nl"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        disposition = r.headers["content-disposition"]
        assert re.fullmatch(r'attachment; filename="plan-[0-9]+\.pdf"', disposition), disposition
        _, text = pdf_text(r.content)
        for expected in (
            "Persoonlijk ontwikkelingsplan",
            "Loopbaanvraag",
            "Quel métier après la vente ?",
            "Devenir planificatrice en logistique",
            "3 candidatures envoyées et un entretien obtenu",
            "Mettre le CV à jour",
            "loopbaanbegeleider",
            "(versie 1)",
        ):
            assert expected in text, (expected, text)

        # A refusal is the console's error page, not a PDF.
        missing = console.get(f"/referrals/{uuid.uuid4()}/letter.pdf")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert "This record does not exist, or you may not see it." in missing.text
        missing = console.get(f"/plans/{uuid.uuid4()}/document.pdf")
        assert missing.status_code == 404 and "<h1" in missing.text
        # Withdrawn, the referral has no letter any more (409 not-shared): said so.
        with counsellor_api(system) as api:
            post(api, f"/referral/v1/referrals/{referral_id}/withdraw", {"reason": "Not needed."})
        refused = console.get(f"/referrals/{referral_id}/letter.pdf")
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("text/html")
        assert "This referral no longer shares the client&#39;s data" in refused.text

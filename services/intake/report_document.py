"""The client's printable reflection-and-action report: one clean HTML page, in Dutch,
French or English, with the starting question, the sessions' insights, the conclusions, the
agreed actions and the client's agreement with its revision. The console prints it as PDF
(the plan's machinery: `services/console/printing.py`)."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from shared.documents import STYLE, document_language, iso_day

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Reflection and action report",
        "client": "Client",
        "status": "Status",
        "revision": "Revision",
        "starting_question": "Starting question",
        "insights": "Insights from our sessions",
        "conclusions": "Conclusions",
        "actions": "Agreed actions and next steps",
        "none": "None yet.",
        "agreement": "Agreement",
        "agreed": "agreed",
        "draft": "draft",
        "revised": "revised, to be agreed again",
        "agreed_on": "The client agreed to revision {revision} on {day}.",
        "not_agreed": "Not yet agreed by the client.",
        "printed": "Printed on",
    },
    "nl": {
        "title": "Reflectie- en actierapport",
        "client": "Cliënt",
        "status": "Status",
        "revision": "Herziening",
        "starting_question": "Beginvraag",
        "insights": "Inzichten uit onze gesprekken",
        "conclusions": "Conclusies",
        "actions": "Afgesproken acties en volgende stappen",
        "none": "Nog geen.",
        "agreement": "Akkoord",
        "agreed": "goedgekeurd",
        "draft": "ontwerp",
        "revised": "herzien, opnieuw goed te keuren",
        "agreed_on": "De cliënt ging akkoord met herziening {revision} op {day}.",
        "not_agreed": "Nog niet door de cliënt goedgekeurd.",
        "printed": "Afgedrukt op",
    },
    "fr": {
        "title": "Rapport de réflexion et d'action",
        "client": "Client",
        "status": "Statut",
        "revision": "Révision",
        "starting_question": "Question de départ",
        "insights": "Prises de conscience de nos entretiens",
        "conclusions": "Conclusions",
        "actions": "Actions convenues et prochaines étapes",
        "none": "Pas encore.",
        "agreement": "Accord",
        "agreed": "approuvé",
        "draft": "brouillon",
        "revised": "révisé, à approuver à nouveau",
        "agreed_on": "Le client a approuvé la révision {revision} le {day}.",
        "not_agreed": "Pas encore approuvé par le client.",
        "printed": "Imprimé le",
    },
}


def language_for(preferred: str | None, requested: str | None) -> str:
    """The report's language: the one asked for, else the client's, else English."""
    return document_language(preferred, requested, "en")


def _list(items: list[str], t: dict[str, str]) -> str:
    if not items:
        return f"<p><em>{t['none']}</em></p>"
    return "<ul>" + "".join(f'<li class="said">{escape(i)}</li>' for i in items) + "</ul>"


def render(report: dict[str, Any], *, client_name: str | None, lang: str, printed: date) -> str:
    """The report as a printable page; every text from the report is escaped. `report`
    holds its texts, `status`, `revision` and `agreements` (first first)."""
    t = TEXT[lang]
    e = escape
    agreements = report["agreements"]
    if agreements:
        last = agreements[-1]
        agreement = (
            "<p>"
            + e(t["agreed_on"].format(revision=last["revision"], day=iso_day(last["agreed_at"])))
            + "</p>"
        )
        if report["status"] == "revised":
            agreement += f"<p><em>{t['revised']}</em></p>"
    else:
        agreement = f"<p><em>{t['not_agreed']}</em></p>"
    name = f"<dt>{t['client']}</dt><dd>{e(client_name)}</dd>" if client_name else ""
    conclusions = report["conclusions"]
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{t['title']}</title><style>{STYLE}</style></head><body>"
        f"<h1>{t['title']}</h1>"
        f'<dl class="meta">{name}<dt>{t["status"]}</dt>'
        f"<dd>{e(t.get(report['status'], report['status']))}</dd>"
        f"<dt>{t['revision']}</dt><dd>{int(report['revision'])}</dd></dl>"
        f'<h2>{t["starting_question"]}</h2><p class="question">'
        f"{e(report['starting_question'])}</p>"
        f"<h2>{t['insights']}</h2>{_list(report['insights'], t)}"
        f"<h2>{t['conclusions']}</h2>"
        + (
            f'<p class="said">{e(conclusions)}</p>'
            if conclusions
            else f"<p><em>{t['none']}</em></p>"
        )
        + f"<h2>{t['actions']}</h2>{_list(report['actions'], t)}"
        f"<h2>{t['agreement']}</h2>{agreement}"
        f"<footer>{t['printed']} {printed.isoformat()}</footer></body></html>"
    )

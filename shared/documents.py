"""What the printed documents of every service share (the client's plan, the referral
letter): their three languages, how one is chosen, the words they have in common, a day."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any

LANGUAGES = ("nl", "fr", "en")

# The printed documents' one style (the plan, the reflection-and-action report).
STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 46rem; margin: 2rem auto;
       color: #1b1b1b; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #1b1b1b; padding-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
.goal { border-left: 4px solid #555; padding: .2rem 0 .2rem 1rem; margin: 1.2rem 0;
        page-break-inside: avoid; }
.goal h3 { margin: 0 0 .3rem 0; font-size: 1.05rem; }
table { border-collapse: collapse; width: 100%; margin-top: .4rem; }
th, td { border: 1px solid #999; padding: .25rem .5rem; text-align: left; font-size: .95rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: bold; }
footer { margin-top: 2.5rem; font-size: .85rem; color: #555; }
.question, .said { white-space: pre-line; }
@page { size: A4; margin: 20mm 18mm; }
@media print { body { margin: 0; max-width: none; padding: 0; } }
"""

# The words every document prints alike: headings of an action table, owners, states, the
# five career competences.
COMMON_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "career_question": "Career question",
        "actions": "Actions",
        "who": "Who",
        "due": "Due",
        "state": "State",
        "version": "version",
        "owner_client": "client",
        "owner_counsellor": "counsellor",
        "owner_partner": "partner",
        "open": "open",
        "completed": "done",
        "cancelled": "cancelled",
        "quality_reflection": "Reflecting on qualities",
        "motive_reflection": "Reflecting on motives",
        "work_exploration": "Exploring work",
        "career_steering": "Steering one's career",
        "networking": "Networking",
    },
    "nl": {
        "career_question": "Loopbaanvraag",
        "actions": "Acties",
        "who": "Wie",
        "due": "Uiterlijk",
        "state": "Stand",
        "version": "versie",
        "owner_client": "cliënt",
        "owner_counsellor": "loopbaanbegeleider",
        "owner_partner": "partner",
        "open": "open",
        "completed": "gedaan",
        "cancelled": "geschrapt",
        "quality_reflection": "Kwaliteitenreflectie",
        "motive_reflection": "Motievenreflectie",
        "work_exploration": "Arbeidsmarktverkenning",
        "career_steering": "Loopbaansturing",
        "networking": "Netwerken",
    },
    "fr": {
        "career_question": "Question de carrière",
        "actions": "Actions",
        "who": "Qui",
        "due": "Échéance",
        "state": "État",
        "version": "version",
        "owner_client": "client",
        "owner_counsellor": "conseiller",
        "owner_partner": "partenaire",
        "open": "ouverte",
        "completed": "faite",
        "cancelled": "annulée",
        "quality_reflection": "Réflexion sur les qualités",
        "motive_reflection": "Réflexion sur les motivations",
        "work_exploration": "Exploration du travail",
        "career_steering": "Pilotage de carrière",
        "networking": "Réseautage",
    },
}


def document_language(preferred: str | None, requested: str | None, default: str) -> str:
    """The language asked for, else the client's preferred one (`fr-BE` is French), else
    `default`."""
    for candidate in (requested, preferred):
        if candidate and candidate[:2].lower() in LANGUAGES:
            return candidate[:2].lower()
    return default


def iso_day(value: Any) -> str:
    """A day as a document prints it (`2026-03-15`); a moment's day is its own (UTC)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return escape(str(value)[:10]) if value else ""

"""What the printed documents of every service share (the client's plan, the referral
letter): their three languages, how one is chosen, the words they have in common, a day."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any

LANGUAGES = ("nl", "fr", "en")

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

"""A referral's packet: only the consented categories, opened at read time.

The packet is built from referral's sealed copies (see `knowledge.py`) each time it is
read: nothing opened is stored. A category is served only when the referral names it
AND the client's current consent for this partner still covers it; a value whose key
was destroyed reads as the ERASED marker. The printable letter, for partners without
API access, shows the same packet.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import asyncpg
from starlette.concurrency import run_in_threadpool

from services.referral.application import ReferralApplication
from services.referral.domain import Referral
from services.referral.queries import packet_sources
from shared.documents import COMMON_TEXT, document_language, iso_day
from shared.privacy.sealing import is_sealed
from shared.vocabulary import DATA_CATEGORIES

CATEGORY_ORDER = DATA_CATEGORIES


def served_categories(referral: Referral, consented: list[str]) -> list[str]:
    """The categories the referral names that the current consent still covers."""
    return [c for c in CATEGORY_ORDER if c in referral.data_categories and c in consented]


async def build_packet(
    app: ReferralApplication, pool: asyncpg.Pool, referral: Referral, categories: list[str]
) -> dict[str, Any]:
    """The client's data in exactly `categories`, opened now."""
    sources = await packet_sources(pool, referral.case_id, categories)

    def opened() -> list[dict[str, Any]]:
        out = []
        for s in sources:
            value = s["value"]
            if is_sealed(value):
                value = app.sealing.open_field(value, s["event_id"], s["field"])
            out.append({**s, "value": value})
        return out

    items = await run_in_threadpool(opened)
    packet: dict[str, Any] = {}
    if "identity" in categories:
        packet["identity"] = {
            f: _one(items, "identity", f) for f in ("given_name", "family_name", "birth_date")
        }
    if "contact" in categories:
        packet["contact"] = {f: _one(items, "contact", f) for f in ("email", "phone")}
    if "career_question" in categories:
        packet["career_question"] = _one(items, "career_question", "career_question")
    if "assessments" in categories:
        packet["assessments"] = [
            {
                "assessment_id": i["detail"]["assessment_id"],
                "assessor": i["detail"]["assessor"],
                "scores": i["value"],
                "recorded_at": i["recorded_at"],
            }
            for i in items
            if i["category"] == "assessments"
        ]
    if "plan" in categories:
        packet["plan"] = _plan(items)
    return packet


def _one(items: list[dict[str, Any]], category: str, field: str) -> Any:
    """The latest copy of one field (None when never given)."""
    found = [i for i in items if i["category"] == category and i["field"] == field]
    return found[-1]["value"] if found else None


def _plan(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The agreed plan's summary with the titles of its goals; None before an agreement."""
    summaries = [i for i in items if i["category"] == "plan" and i["field"] == "summary"]
    if not summaries:
        return None
    summary = summaries[-1]
    value = dict(summary["value"])
    goals = [
        {
            "goal_id": i["detail"]["goal_id"],
            "title": i["value"],
            "priority": i["detail"].get("priority"),
            "target_date": i["detail"].get("target_date"),
        }
        for i in items
        if i["category"] == "plan"
        and i["field"] == "title"
        and i["detail"].get("plan_id") == value["plan_id"]
        and i["recorded_at"] <= summary["recorded_at"]
    ]
    goals.sort(key=lambda g: (g["priority"] is None, g["priority"] or 0))
    return {
        "plan_id": value["plan_id"],
        "version": value["version"],
        "agreed_at": summary["recorded_at"],
        "goals": goals,
        "actions": value.get("actions", []),
    }


# -- the letter ------------------------------------------------------------------------------
_OWN_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Referral",
        "to": "To",
        "date": "Date",
        "reference": "Reference",
        "reason": "Reason for the referral",
        "identity": "Client",
        "given_name": "Given name",
        "family_name": "Family name",
        "birth_date": "Date of birth",
        "contact": "Contact",
        "email": "Email",
        "phone": "Phone",
        "assessments": "Career competences (scores 1-5)",
        "assessor": "Assessed by",
        "plan": "Agreed development plan",
        "agreed_on": "agreed on",
        "goals": "Goals",
        "target": "target date",
        "no_plan": "No plan agreed yet.",
        "shared": "Shared with the client's consent",
        "only": "This letter holds only the data the client agreed to share with you.",
        "none": "not given",
        "client": "the client",
        "counsellor": "the counsellor",
    },
    "nl": {
        "title": "Verwijzing",
        "to": "Aan",
        "date": "Datum",
        "reference": "Kenmerk",
        "reason": "Reden van de verwijzing",
        "identity": "Cliënt",
        "given_name": "Voornaam",
        "family_name": "Achternaam",
        "birth_date": "Geboortedatum",
        "contact": "Contact",
        "email": "E-mail",
        "phone": "Telefoon",
        "assessments": "Loopbaancompetenties (scores 1-5)",
        "assessor": "Beoordeeld door",
        "plan": "Afgesproken ontwikkelplan",
        "agreed_on": "goedgekeurd op",
        "goals": "Doelen",
        "target": "streefdatum",
        "no_plan": "Nog geen plan afgesproken.",
        "shared": "Gedeeld met toestemming van de cliënt",
        "only": "Deze brief bevat alleen de gegevens die de cliënt met u wil delen.",
        "none": "niet opgegeven",
        "client": "de cliënt",
        "counsellor": "de loopbaanbegeleider",
    },
    "fr": {
        "title": "Lettre d'orientation",
        "to": "À",
        "date": "Date",
        "reference": "Référence",
        "reason": "Motif de l'orientation",
        "identity": "Client",
        "given_name": "Prénom",
        "family_name": "Nom",
        "birth_date": "Date de naissance",
        "contact": "Coordonnées",
        "email": "Courriel",
        "phone": "Téléphone",
        "assessments": "Compétences de carrière (scores de 1 à 5)",
        "assessor": "Évalué par",
        "plan": "Plan de développement convenu",
        "agreed_on": "approuvé le",
        "goals": "Objectifs",
        "target": "date visée",
        "no_plan": "Pas encore de plan convenu.",
        "shared": "Partagé avec le consentement du client",
        "only": "Cette lettre ne contient que les données que le client a accepté de vous "
        "communiquer.",
        "none": "non renseigné",
        "client": "le client",
        "counsellor": "le conseiller",
    },
}
TEXT = {lang: {**COMMON_TEXT[lang], **words} for lang, words in _OWN_TEXT.items()}
# The data categories, as the letter's last line names them.
CATEGORY_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "identity": "identity",
        "contact": "contact details",
        "career_question": "career question",
        "assessments": "assessments",
        "plan": "plan",
    },
    "nl": {
        "identity": "identiteit",
        "contact": "contactgegevens",
        "career_question": "loopbaanvraag",
        "assessments": "beoordelingen",
        "plan": "plan",
    },
    "fr": {
        "identity": "identité",
        "contact": "coordonnées",
        "career_question": "question de carrière",
        "assessments": "évaluations",
        "plan": "plan",
    },
}
STYLE = (
    "body{font-family:'DejaVu Sans',sans-serif;max-width:46em;margin:2em auto;line-height:1.4}"
    "th{text-align:left;padding-right:1em;vertical-align:top}"
    "table.actions{border-collapse:collapse}"
    "table.actions th,table.actions td{border:1px solid #999;padding:.2em .5em}"
    ".question{white-space:pre-line}"
    "@page{size:A4;margin:20mm 18mm}"
    "@media print{body{margin:0;max-width:none}}"
)


def letter_language(preferred: str | None, requested: str | None) -> str:
    """The asked language, else the client's preferred one (`fr-BE` is French), else Dutch."""
    return document_language(preferred, requested, "nl")


def render_letter(
    referral: Referral,
    partner: dict[str, Any] | None,
    packet: dict[str, Any],
    categories: list[str],
    *,
    language: str,
    printed_at: datetime,
) -> str:
    t = TEXT[language]

    def v(value: Any) -> str:
        return escape(t["none"] if value in (None, "") else str(value))

    parts = [
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">',
        f"<title>{t['title']}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{t['title']}</h1><table>",
        f"<tr><th>{t['to']}</th><td>{v(partner and partner['name'])}"
        + (f"<br>{v(partner['contact_email'])}" if partner and partner["contact_email"] else "")
        + "</td></tr>",
        f"<tr><th>{t['date']}</th><td>{printed_at.date().isoformat()}</td></tr>",
        f"<tr><th>{t['reference']}</th><td>{referral.id}</td></tr></table>",
        f'<h2>{t["reason"]}</h2><p class="question">{v(referral.reason)}</p>',
    ]
    for block, fields in (
        ("identity", ("given_name", "family_name", "birth_date")),
        ("contact", ("email", "phone")),
    ):
        if block in packet:
            rows = "".join(
                f"<tr><th>{t[f]}</th><td>{v(packet[block][f])}</td></tr>" for f in fields
            )
            parts.append(f"<h2>{t[block]}</h2><table>{rows}</table>")
    if "career_question" in packet:
        parts.append(
            f'<h2>{t["career_question"]}</h2><p class="question">{v(packet["career_question"])}</p>'
        )
    if "assessments" in packet:
        parts.append(f"<h2>{t['assessments']}</h2>")
        for a in packet["assessments"]:
            scores = a["scores"] if isinstance(a["scores"], dict) else {}
            rows = "".join(
                f"<tr><th>{escape(t.get(str(k), str(k)))}</th><td>{escape(str(s))}</td></tr>"
                for k, s in scores.items()
            )
            assessor = t.get(str(a["assessor"]), a["assessor"])
            parts.append(f"<p>{t['assessor']}: {v(assessor)}</p><table>{rows}</table>")
    if "plan" in packet:
        plan = packet["plan"]
        parts.append(f"<h2>{t['plan']}</h2>")
        if plan is None:
            parts.append(f"<p>{t['no_plan']}</p>")
        else:
            parts.append(
                f"<p>{t['version']} {plan['version']}, {t['agreed_on']} "
                f"{iso_day(plan.get('agreed_at'))}</p><h3>{t['goals']}</h3>"
            )
            goals = []
            for g in plan["goals"]:
                target = f" ({t['target']} {iso_day(g['target_date'])})" if g["target_date"] else ""
                actions = [
                    a for a in plan.get("actions") or [] if str(a["goal_id"]) == str(g["goal_id"])
                ]
                rows = "".join(
                    f"<tr><td>{escape(t.get('owner_' + str(a['owner']), str(a['owner'])))}</td>"
                    f"<td>{iso_day(a['due_date'])}</td>"
                    f"<td>{escape(t.get(str(a['status']), str(a['status'])))}</td></tr>"
                    for a in actions
                )
                table = (
                    f'<table class="actions"><thead><tr><th>{t["who"]}</th><th>{t["due"]}</th>'
                    f"<th>{t['state']}</th></tr></thead><tbody>{rows}</tbody></table>"
                    if rows
                    else ""
                )
                goals.append(f"<li>{v(g['title'])}{target}{table}</li>")
            parts.append(f"<ol>{''.join(goals)}</ol>")
    names = CATEGORY_NAMES[language]
    shared = ", ".join(escape(names.get(c, c)) for c in categories)
    parts.append(f"<hr><p><small>{t['only']} {t['shared']}: {shared}.</small></p>")
    parts.append("</body></html>")
    return "".join(parts)

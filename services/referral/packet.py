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
from services.referral.knowledge import packet_sources
from services.referral.lifecycle import Referral
from shared.privacy.sealing import is_sealed

CATEGORY_ORDER = ("identity", "contact", "career_question", "assessments", "plan")


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
TEXT: dict[str, dict[str, str]] = {
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
        "career_question": "Career question",
        "assessments": "Career competences (scores 1-5)",
        "assessor": "Assessed by",
        "plan": "Agreed development plan",
        "version": "version",
        "goals": "Goals",
        "actions": "Actions",
        "no_plan": "No plan agreed yet.",
        "shared": "Shared with the client's consent",
        "only": "This letter holds only the data the client agreed to share with you.",
        "none": "not given",
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
        "career_question": "Loopbaanvraag",
        "assessments": "Loopbaancompetenties (scores 1-5)",
        "assessor": "Beoordeeld door",
        "plan": "Afgesproken ontwikkelplan",
        "version": "versie",
        "goals": "Doelen",
        "actions": "Acties",
        "no_plan": "Nog geen plan afgesproken.",
        "shared": "Gedeeld met toestemming van de cliënt",
        "only": "Deze brief bevat alleen de gegevens die de cliënt met u wil delen.",
        "none": "niet opgegeven",
    },
}


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
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}"
        "th{text-align:left;padding-right:1em}</style></head><body>",
        f"<h1>{t['title']}</h1><table>",
        f"<tr><th>{t['to']}</th><td>{v(partner and partner['name'])}"
        + (f"<br>{v(partner['contact_email'])}" if partner and partner["contact_email"] else "")
        + "</td></tr>",
        f"<tr><th>{t['date']}</th><td>{printed_at.date().isoformat()}</td></tr>",
        f"<tr><th>{t['reference']}</th><td>{referral.id}</td></tr></table>",
        f"<h2>{t['reason']}</h2><p>{v(referral.reason)}</p>",
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
        parts.append(f"<h2>{t['career_question']}</h2><p>{v(packet['career_question'])}</p>")
    if "assessments" in packet:
        parts.append(f"<h2>{t['assessments']}</h2>")
        for a in packet["assessments"]:
            scores = a["scores"] if isinstance(a["scores"], dict) else {}
            rows = "".join(
                f"<tr><th>{escape(str(k))}</th><td>{escape(str(s))}</td></tr>"
                for k, s in scores.items()
            )
            parts.append(f"<p>{t['assessor']}: {v(a['assessor'])}</p><table>{rows}</table>")
    if "plan" in packet:
        plan = packet["plan"]
        parts.append(f"<h2>{t['plan']}</h2>")
        if plan is None:
            parts.append(f"<p>{t['no_plan']}</p>")
        else:
            goals = "".join(f"<li>{v(g['title'])}</li>" for g in plan["goals"])
            parts.append(f"<p>{t['version']} {plan['version']}</p><h3>{t['goals']}</h3>")
            parts.append(f"<ol>{goals}</ol>")
    shared = ", ".join(escape(c) for c in categories)
    parts.append(f"<hr><p><small>{t['only']} {t['shared']}: {shared}.</small></p>")
    parts.append("</body></html>")
    return "".join(parts)

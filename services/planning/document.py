"""The client's printable plan: one clean HTML page, in Dutch, French or English, with what
the client agreed to: the career question, the gaps, the client's insights, choices and
decisions with their reasons, the goals with their SMART measures, the actions with owners
and dates, what the actions produced (CVs, applications and where they stand), the support
the client needs, the agreement and its version. The console prints
it as PDF."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from shared.documents import COMMON_TEXT, document_language, iso_day
from shared.vocabulary import COMPETENCES

_OWN_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Personal development plan",
        "client": "Client",
        "gaps": "Competences to work on",
        "no_gaps": "None named at intake.",
        "agreed_version": "Agreed version",
        "what": "What exactly",
        "type": "Type of plan",
        "status": "Status",
        "goals": "Goals, by priority",
        "measure": "How we know it is reached",
        "target": "Target date",
        "competences": "Career competences",
        "none": "No actions yet.",
        "agreement": "Agreement",
        "agreed_by": "Agreed by",
        "on": "on",
        "not_agreed": "Not yet agreed by both parties.",
        "printed": "Printed on",
        "action": "action-oriented",
        "reflection": "reflection-oriented",
        "combined": "combined",
        "unset": "not chosen yet",
        "draft": "draft",
        "agreed": "agreed",
        "revised": "revised, to be agreed again",
        "closed": "closed",
        "client_party": "the client",
        "counsellor_party": "the counsellor",
        "insights": "Reflections and insights",
        "decisions": "Choices and decisions",
        "choice": "Choice",
        "decision": "Decision",
        "reasons": "Why",
        "support": "Support I need",
        "support_language": "language",
        "support_digital_skills": "digital skills",
        "support_childcare": "childcare",
        "support_mobility": "mobility",
        "support_finances": "finances",
        "support_other": "other",
        "products": "What I made and sent",
        "product_skills_cv": "Skills-based CV",
        "product_cv": "CV",
        "product_application": "Job application",
        "product_cover_letter": "Cover letter",
        "product_portfolio_piece": "Portfolio piece",
        "product_other": "Other",
        "application_to": "to",
        "application_draft": "not sent yet",
        "application_sent": "sent",
        "application_interview": "invited for an interview",
        "application_offer": "offered the job",
        "application_rejected": "not retained",
        "application_withdrawn": "withdrawn",
    },
    "nl": {
        "title": "Persoonlijk ontwikkelingsplan (POP)",
        "client": "Cliënt",
        "gaps": "Te ontwikkelen competenties",
        "no_gaps": "Geen genoemd bij de intake.",
        "agreed_version": "Goedgekeurde versie",
        "what": "Wat precies",
        "type": "Soort plan",
        "status": "Status",
        "goals": "Doelen, naar prioriteit",
        "measure": "Waaraan we zien dat het bereikt is",
        "target": "Streefdatum",
        "competences": "Loopbaancompetenties",
        "none": "Nog geen acties.",
        "agreement": "Akkoord",
        "agreed_by": "Akkoord van",
        "on": "op",
        "not_agreed": "Nog niet door beide partijen goedgekeurd.",
        "printed": "Afgedrukt op",
        "action": "actiegericht",
        "reflection": "reflectiegericht",
        "combined": "gecombineerd",
        "unset": "nog niet gekozen",
        "draft": "ontwerp",
        "agreed": "goedgekeurd",
        "revised": "herzien, opnieuw goed te keuren",
        "closed": "afgesloten",
        "client_party": "de cliënt",
        "counsellor_party": "de loopbaanbegeleider",
        "insights": "Reflecties en inzichten",
        "decisions": "Keuzes en beslissingen",
        "choice": "Keuze",
        "decision": "Beslissing",
        "reasons": "Waarom",
        "support": "Ondersteuning die ik nodig heb",
        "support_language": "taal",
        "support_digital_skills": "digitale vaardigheden",
        "support_childcare": "kinderopvang",
        "support_mobility": "mobiliteit",
        "support_finances": "financiën",
        "support_other": "andere",
        "products": "Wat ik maakte en verstuurde",
        "product_skills_cv": "Competentiegericht cv",
        "product_cv": "Cv",
        "product_application": "Sollicitatie",
        "product_cover_letter": "Motivatiebrief",
        "product_portfolio_piece": "Portfoliostuk",
        "product_other": "Ander",
        "application_to": "bij",
        "application_draft": "nog niet verstuurd",
        "application_sent": "verstuurd",
        "application_interview": "uitgenodigd voor een gesprek",
        "application_offer": "job aangeboden",
        "application_rejected": "niet weerhouden",
        "application_withdrawn": "ingetrokken",
    },
    "fr": {
        "title": "Plan personnel de développement (PPD)",
        "client": "Client",
        "gaps": "Compétences à développer",
        "no_gaps": "Aucune relevée lors de l'accueil.",
        "agreed_version": "Version approuvée",
        "what": "Concrètement",
        "type": "Type de plan",
        "status": "Statut",
        "goals": "Objectifs, par priorité",
        "measure": "Comment nous savons qu'il est atteint",
        "target": "Date visée",
        "competences": "Compétences de carrière",
        "none": "Pas encore d'actions.",
        "agreement": "Accord",
        "agreed_by": "Approuvé par",
        "on": "le",
        "not_agreed": "Pas encore approuvé par les deux parties.",
        "printed": "Imprimé le",
        "action": "orienté action",
        "reflection": "orienté réflexion",
        "combined": "combiné",
        "unset": "pas encore choisi",
        "draft": "brouillon",
        "agreed": "approuvé",
        "revised": "révisé, à approuver à nouveau",
        "closed": "clôturé",
        "client_party": "le client",
        "counsellor_party": "le conseiller",
        "insights": "Réflexions et prises de conscience",
        "decisions": "Choix et décisions",
        "choice": "Choix",
        "decision": "Décision",
        "reasons": "Pourquoi",
        "support": "Le soutien dont j'ai besoin",
        "support_language": "langue",
        "support_digital_skills": "compétences numériques",
        "support_childcare": "garde d'enfants",
        "support_mobility": "mobilité",
        "support_finances": "finances",
        "support_other": "autre",
        "products": "Ce que j'ai réalisé et envoyé",
        "product_skills_cv": "CV par compétences",
        "product_cv": "CV",
        "product_application": "Candidature",
        "product_cover_letter": "Lettre de motivation",
        "product_portfolio_piece": "Pièce de portfolio",
        "product_other": "Autre",
        "application_to": "chez",
        "application_draft": "pas encore envoyée",
        "application_sent": "envoyée",
        "application_interview": "invité à un entretien",
        "application_offer": "emploi proposé",
        "application_rejected": "non retenue",
        "application_withdrawn": "retirée",
    },
}
TEXT = {lang: {**COMMON_TEXT[lang], **words} for lang, words in _OWN_TEXT.items()}

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


def language_for(preferred: str | None, requested: str | None) -> str:
    """The plan's language: the one asked for, else the client's, else English."""
    return document_language(preferred, requested, "en")


def _said(value: Any) -> str:
    """A text of the plan, escaped; "" for none."""
    return "" if value is None else escape(str(value))


def reflection_html(plan: dict[str, Any], t: dict[str, str]) -> str:
    """The insights, the choices and decisions with their reasons, each section only when
    the plan has some (a plan from before them prints as it did)."""
    out = ""
    insights = plan.get("insights") or []
    if insights:
        items = "".join(
            f'<li>{iso_day(i["date"])}: <span class="said">{_said(i["text"])}</span></li>'
            for i in insights
        )
        out += f"<h2>{t['insights']}</h2><ul>{items}</ul>"
    decisions = plan.get("decisions") or []
    if decisions:
        items = "".join(
            f'<li><strong>{t.get(d["kind"], "")}</strong>: <span class="said">'
            f"{_said(d['text'])}</span><br>{t['reasons']}: "
            f'<span class="said">{_said(d["reasons"])}</span></li>'
            for d in decisions
        )
        out += f"<h2>{t['decisions']}</h2><ul>{items}</ul>"
    return out


def support_html(plan: dict[str, Any], t: dict[str, str]) -> str:
    """The support the client needs: its kinds and its words (nothing until recorded)."""
    needs = plan.get("support_needs")
    if not needs:
        return ""
    kinds = needs["kinds"] if isinstance(needs["kinds"], list) else []
    listed = "".join(f"<li>{t['support_' + k]}</li>" for k in kinds if "support_" + k in t)
    notes = f'<p class="said">{_said(needs["notes"])}</p>' if needs.get("notes") else ""
    return f"<h2>{t['support']}</h2>" + (f"<ul>{listed}</ul>" if listed else "") + notes


def products_html(plan: dict[str, Any], t: dict[str, str]) -> str:
    """What the actions produced, each with its day; an application with its employer, job,
    status and the day of that status (nothing when there are none)."""
    items = []
    for p in plan.get("products") or []:
        kind = t.get("product_" + str(p["kind"]), "")
        line = f"{iso_day(p['date'])}: <strong>{kind}</strong>: {_said(p['title'])}"
        application = p.get("application")
        if application:
            last = application["steps"][-1] if application["steps"] else None
            line += (
                f" ({_said(application['position'])}, {t['application_to']} "
                f"{_said(application['employer'])})"
            )
            if last is not None:
                line += f": {t.get('application_' + str(last['status']), '')} {iso_day(last['on'])}"
        items.append(f"<li>{line}</li>")
    return f"<h2>{t['products']}</h2><ul>{''.join(items)}</ul>" if items else ""


def render(
    plan: dict[str, Any],
    *,
    client_name: str | None,
    lang: str,
    printed: date,
    career_question: str | None = None,
) -> str:
    """The plan as a printable page; every text from the plan is escaped. `plan` holds the
    plan's content, its `status`, its `gaps` and its `last_agreed` version (or None)."""
    t = TEXT[lang]
    e = escape
    goals_html = []
    for goal in plan["goals"]:
        competences = ", ".join(e(t.get(c, c)) for c in goal["competences"] if c in COMPETENCES)
        rows = "".join(
            f"<tr><td>{e(str(a['description']))}</td><td>{e(t['owner_' + a['owner']])}</td>"
            f"<td>{iso_day(a['due_date'])}</td><td>{e(t.get(a['status'], a['status']))}</td></tr>"
            for a in goal["actions"]
        )
        actions = (
            f"<table><thead><tr><th>{t['actions']}</th><th>{t['who']}</th><th>{t['due']}</th>"
            f"<th>{t['state']}</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else f"<p><em>{t['none']}</em></p>"
        )
        goals_html.append(
            f'<section class="goal"><h3>{goal["priority"]}. {e(str(goal["title"]))}</h3>'
            f'<dl class="meta"><dt>{t["what"]}</dt><dd>{e(str(goal["specific"]))}</dd>'
            f"<dt>{t['measure']}</dt><dd>{e(str(goal['measure']))}</dd>"
            f"<dt>{t['target']}</dt><dd>{iso_day(goal['target_date'])}</dd>"
            f"<dt>{t['competences']}</dt><dd>{competences}</dd></dl>{actions}</section>"
        )
    agreed = plan.get("last_agreed")
    if agreed:
        parties = "".join(
            f"<li>{t['agreed_by']} {t[party + '_party']} {t['on']} {iso_day(a['at'])} "
            f"({t['version']} {agreed['version']})</li>"
            for party, a in sorted(agreed["agreements"].items())
        )
        agreement = f"<ul>{parties}</ul>"
        if plan["status"] == "revised":
            agreement += f"<p><em>{t['revised']}</em></p>"
    else:
        agreement = f"<p><em>{t['not_agreed']}</em></p>"
    name = f"<dt>{t['client']}</dt><dd>{e(client_name)}</dd>" if client_name else ""
    plan_type = t[plan["plan_type"]] if plan["plan_type"] else t["unset"]
    version = f"<dt>{t['agreed_version']}</dt><dd>{agreed['version']}</dd>" if agreed else ""
    question = (
        f'<h2>{t["career_question"]}</h2><p class="question">{e(career_question)}</p>'
        if career_question
        else ""
    )
    gaps = [e(t[c]) for c in plan.get("gaps") or [] if c in COMPETENCES]
    gaps_html = (
        "<ul>" + "".join(f"<li>{g}</li>" for g in gaps) + "</ul>"
        if gaps
        else f"<p><em>{t['no_gaps']}</em></p>"
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{t['title']}</title><style>{STYLE}</style></head><body>"
        f"<h1>{t['title']}</h1>"
        f'<dl class="meta">{name}<dt>{t["type"]}</dt><dd>{e(plan_type)}</dd>'
        f"<dt>{t['status']}</dt><dd>{e(t.get(plan['status'], plan['status']))}</dd>"
        f"{version}</dl>{question}<h2>{t['gaps']}</h2>{gaps_html}"
        f"{reflection_html(plan, t)}"
        f"<h2>{t['goals']}</h2>{''.join(goals_html)}{products_html(plan, t)}"
        f"{support_html(plan, t)}"
        f"<h2>{t['agreement']}</h2>{agreement}"
        f"<footer>{t['printed']} {printed.isoformat()}</footer></body></html>"
    )

"""The client's printable plan: one clean HTML page, in Dutch, French or English, with what
the client agreed to: the career question, the gaps, the client's insights, choices and
decisions with their reasons, the competence analysis (ESCO's labels in the plan's
language, each skill's levels), the goals with their SMART measures, the actions with owners
and dates, what the actions produced (CVs, applications and where they stand), the support
the client needs, the agreement and its version. The console prints
it as PDF."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from shared.documents import COMMON_TEXT, STYLE, document_language, iso_day
from shared.privacy import ERASED
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
        "analysis": "Competence analysis",
        "career_target": "Career target",
        "competence": "Competence",
        "part": "Kind",
        "self_level": "My level",
        "counsellor_level": "My counsellor's view",
        "strengths": "strength",
        "weaknesses": "weakness",
        "training_needs": "training need",
        "level_1": "1: does not know how",
        "level_2": "2: is uncertain how",
        "level_3": "3: knows how",
        "level_4": "4: is more than able",
        "level_none": "not assessed",
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
        "analysis": "Competentieanalyse",
        "career_target": "Loopbaandoel",
        "competence": "Competentie",
        "part": "Soort",
        "self_level": "Mijn niveau",
        "counsellor_level": "Volgens mijn loopbaanbegeleider",
        "strengths": "sterkte",
        "weaknesses": "zwakte",
        "training_needs": "opleidingsbehoefte",
        "level_1": "1: weet niet hoe",
        "level_2": "2: is onzeker hoe",
        "level_3": "3: weet hoe",
        "level_4": "4: is meer dan bekwaam",
        "level_none": "niet beoordeeld",
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
        "analysis": "Analyse des compétences",
        "career_target": "Objectif professionnel",
        "competence": "Compétence",
        "part": "Type",
        "self_level": "Mon niveau",
        "counsellor_level": "Selon mon conseiller",
        "strengths": "point fort",
        "weaknesses": "point faible",
        "training_needs": "besoin de formation",
        "level_1": "1 : ne sait pas comment faire",
        "level_2": "2 : n'est pas sûr·e de savoir faire",
        "level_3": "3 : sait faire",
        "level_4": "4 : est plus que capable",
        "level_none": "non évalué",
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


PARTS = ("strengths", "weaknesses", "training_needs")


def _level(item: dict[str, Any], key: str, t: dict[str, str]) -> str:
    value = item.get(key)
    return t[f"level_{value}"] if f"level_{value}" in t else t["level_none"]


def analysis_html(plan: dict[str, Any], t: dict[str, str], esco: dict[str, str]) -> str:
    """The competence analysis: the career target, each competence (an ESCO concept by its
    label in the plan's language, `esco`; else its words) with its kind and both levels;
    nothing until recorded (or once erased)."""
    analysis = plan.get("competence_analysis")
    if not isinstance(analysis, dict) or analysis.get("career_target") in (None, ERASED):
        return ""
    target = esco.get(str(analysis.get("career_target_uri"))) or analysis["career_target"]
    rows = "".join(
        f'<tr><td class="said">{_said(esco.get(str(i.get("esco_uri"))) or i.get("text"))}</td>'
        f"<td>{t[part]}</td><td>{_level(i, 'self_level', t)}</td>"
        f"<td>{_level(i, 'counsellor_level', t)}</td></tr>"
        for part in PARTS
        if isinstance(analysis.get(part), list)
        for i in analysis[part]
        if isinstance(i, dict)
    )
    table = (
        f"<table><thead><tr><th>{t['competence']}</th><th>{t['part']}</th>"
        f"<th>{t['self_level']}</th><th>{t['counsellor_level']}</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<h2>{t["analysis"]}</h2><dl class="meta"><dt>{t["career_target"]}</dt>'
        f'<dd class="said">{_said(target)}</dd></dl>{table}'
    )


def esco_uris(plan: dict[str, Any]) -> list[str]:
    """The ESCO URIs the plan's competence analysis names."""
    analysis = plan.get("competence_analysis")
    if not isinstance(analysis, dict):
        return []
    uris = [analysis.get("career_target_uri")]
    for part in PARTS:
        items = analysis.get(part)
        if isinstance(items, list):
            uris += [i.get("esco_uri") for i in items if isinstance(i, dict)]
    return [u for u in dict.fromkeys(uris) if isinstance(u, str)]


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
    esco: dict[str, str] | None = None,
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
        f"{analysis_html(plan, t, esco or {})}{reflection_html(plan, t)}"
        f"<h2>{t['goals']}</h2>{''.join(goals_html)}{products_html(plan, t)}"
        f"{support_html(plan, t)}"
        f"<h2>{t['agreement']}</h2>{agreement}"
        f"<footer>{t['printed']} {printed.isoformat()}</footer></body></html>"
    )

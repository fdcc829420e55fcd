"""Planning's rules that are not commands: the words a plan's fields take and the id of
the plan of a case."""

from __future__ import annotations

import re
import uuid

PLAN_TYPES = ("action", "reflection", "combined")
OWNERS = ("client", "counsellor", "partner")
PARTIES = ("client", "counsellor")
EVIDENCE_KINDS = ("diploma", "certificate", "work_sample", "reference", "assessment", "other")
ADVICE = ("continue", "stop")
# A choice takes one option among others; a decision settles a course. Both give reasons.
DECISION_KINDS = ("choice", "decision")
# The support a client may need to follow the plan (the free text says more).
SUPPORT_KINDS = ("language", "digital_skills", "childcare", "mobility", "finances", "other")
# What an action can produce (seed 002: "draw up a skills-based CV", "write a job
# application"): fixed codes, the title says more.
PRODUCT_KINDS = ("skills_cv", "cv", "application", "cover_letter", "portfolio_piece", "other")
# Where a job application stands: `draft` until sent, then the employer's answers;
# `withdrawn` when the client pulls it (or declines an offer).
APPLICATION_STATUSES = ("draft", "sent", "interview", "offer", "rejected", "withdrawn")
# The statuses an application may move to from each (an interview may have further rounds).
APPLICATION_STEPS: dict[str, tuple[str, ...]] = {
    "draft": ("sent", "withdrawn"),
    "sent": ("interview", "offer", "rejected", "withdrawn"),
    "interview": ("interview", "offer", "rejected", "withdrawn"),
    "offer": ("withdrawn",),
    "rejected": (),
    "withdrawn": (),
}
# An instrument's result as scores: at most this many, each a name and a number.
MAX_SCORES = 20
ESCO_URI = re.compile(r"^http://data\.europa\.eu/esco/(skill|occupation)/[0-9a-fA-F-]{8,}$")
# Seed 000's four proficiency levels of a skill: 1 does not know how, 2 is uncertain how,
# 3 knows how, 4 is more than able; assessed by the client (self) and the counsellor.
PROFICIENCY = (1, 2, 3, 4)
LEVEL_FIELDS = ("self_level", "counsellor_level")
# An EVC standard's code and its items' codes (`mbo2-care`, `B1-K1-W1`).
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The counsellor's judgement of an item of the standard against the portfolio.
JUDGEMENTS = ("proven", "partly", "not_yet")
PLAN_NAMESPACE = uuid.UUID("0b7e4b0e-6d1c-4f7e-9d0a-5a3f6c1d2e01")


def plan_id_for(case_id: uuid.UUID) -> uuid.UUID:
    """One plan per case: its id follows from the case's, so a redelivery creates nothing."""
    return uuid.uuid5(PLAN_NAMESPACE, str(case_id))

"""The guidance process's words, each defined once, for the domain (the tuples), the APIs
and the contracts (the `Literal` types). A service's own words stay in its domain; these
are the ones several services (and the console) share."""

from __future__ import annotations

from typing import Literal, get_args

# What a client consents to: guidance, referral to a partner, statistics.
Purpose = Literal["guidance", "referral", "statistics"]
PURPOSES: tuple[str, ...] = get_args(Purpose)

# The kinds of personal data a referral consent names and a partner may receive.
DataCategory = Literal["identity", "contact", "career_question", "assessments", "plan"]
DATA_CATEGORIES: tuple[str, ...] = get_args(DataCategory)

# The five career competences, assessed at intake and worked on in the plan.
Competence = Literal[
    "quality_reflection", "motive_reflection", "work_exploration", "career_steering", "networking"
]
COMPETENCES: tuple[str, ...] = get_args(Competence)

# Where guidance led, as aftercare records it (seed 002: job, study, own business): a job,
# study or training, an own business, volunteering, still searching (the client applies on),
# another outcome, or none (the guidance led nowhere yet and the client does not search).
GuidanceOutcome = Literal[
    "employed", "education", "self_employed", "volunteering", "still_searching", "other", "none"
]
GUIDANCE_OUTCOMES: tuple[str, ...] = get_args(GuidanceOutcome)

# A job's contract, as an `employed` outcome may say: open-ended, fixed-term, through a
# temporary work agency (interim), or another (a flexi-job, a student job...).
ContractType = Literal["permanent", "fixed_term", "temp_agency", "other"]
CONTRACT_TYPES: tuple[str, ...] = get_args(ContractType)

# How a referral went, as the partner reports it.
ReferralOutcome = Literal["completed", "partially_completed", "not_completed", "no_show"]
REFERRAL_OUTCOMES: tuple[str, ...] = get_args(ReferralOutcome)

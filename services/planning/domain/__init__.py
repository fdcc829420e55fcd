"""Planning's domain: the personal development plan (POP) of an accepted case.

Pure domain: the standard library and eventsourcing.domain only. `plan.py` is the
aggregate (its events, creation and guards; its commands mixed in from `goals.py`,
`competences.py`, `reflection.py`, `products.py`, `instruments.py`, `agreement.py`, its views from
`views.py`), `rules.py` the words its fields take and the plan id of a case,
`values.py` the value objects its state is made of (goals, actions, evidence, agreements,
products), `smart.py` the SMART check of a goal, `errors.py` planning's error.
"""

from services.planning.domain.errors import PlanningError
from services.planning.domain.plan import Plan
from services.planning.domain.rules import (
    ADVICE,
    APPLICATION_STATUSES,
    APPLICATION_STEPS,
    DECISION_KINDS,
    ESCO_URI,
    EVIDENCE_KINDS,
    OWNERS,
    PARTIES,
    PLAN_NAMESPACE,
    PLAN_TYPES,
    PRODUCT_KINDS,
    SUPPORT_KINDS,
    plan_id_for,
)
from services.planning.domain.smart import SMART, SmartPolicy, smart_failures
from services.planning.domain.values import (
    Action,
    AgreedVersion,
    Agreement,
    ApplicationStep,
    Assessment,
    Closure,
    CompetenceAnalysis,
    Decision,
    Evidence,
    Goal,
    Insight,
    InstrumentUse,
    Portfolio,
    Product,
    SupportNeeds,
)

__all__ = [
    "ADVICE",
    "APPLICATION_STATUSES",
    "APPLICATION_STEPS",
    "DECISION_KINDS",
    "ESCO_URI",
    "EVIDENCE_KINDS",
    "OWNERS",
    "PARTIES",
    "PLAN_NAMESPACE",
    "PLAN_TYPES",
    "PRODUCT_KINDS",
    "SMART",
    "SUPPORT_KINDS",
    "Action",
    "AgreedVersion",
    "Agreement",
    "ApplicationStep",
    "Assessment",
    "Closure",
    "CompetenceAnalysis",
    "Decision",
    "Evidence",
    "Goal",
    "Insight",
    "InstrumentUse",
    "Plan",
    "PlanningError",
    "Portfolio",
    "Product",
    "SmartPolicy",
    "SupportNeeds",
    "plan_id_for",
    "smart_failures",
]

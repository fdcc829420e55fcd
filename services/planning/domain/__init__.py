"""Planning's domain: the personal development plan (POP) of an accepted case.

Pure domain: the standard library and eventsourcing.domain only. `plan.py` is the
aggregate (its events, commands and views), `smart.py` the SMART check of a goal,
`errors.py` planning's error.
"""

from services.planning.domain.errors import PlanningError
from services.planning.domain.plan import (
    ADVICE,
    ESCO_URI,
    EVIDENCE_KINDS,
    OWNERS,
    PARTIES,
    PLAN_NAMESPACE,
    PLAN_TYPES,
    Plan,
    plan_id_for,
)
from services.planning.domain.smart import SMART, SmartPolicy, smart_failures

__all__ = [
    "ADVICE",
    "ESCO_URI",
    "EVIDENCE_KINDS",
    "OWNERS",
    "PARTIES",
    "PLAN_NAMESPACE",
    "PLAN_TYPES",
    "SMART",
    "Plan",
    "PlanningError",
    "SmartPolicy",
    "plan_id_for",
    "smart_failures",
]

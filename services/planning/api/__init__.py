"""Planning's HTTP API: the plan, its goals, actions, analysis, portfolio and agreement.

`routes.py` holds the commands, `queries.py` the reads (and the printable plan),
`schemas.py` the request models and command answers, `views.py` the answers to reads.
"""

from fastapi import APIRouter

from services.planning.api import queries, routes

# Every route of planning, reads first (as they were declared before the split).
router = APIRouter()
router.include_router(queries.router)
router.include_router(routes.router)

__all__ = ["router"]

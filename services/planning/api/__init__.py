"""Planning's HTTP API: the plan, its goals, actions, analysis, portfolio and agreement.

`reads.py` the reads (and the printable plan), `commands.py` the commands, `schemas.py`
the request models and command answers, `answers.py` the answers to reads,
`dependencies.py` what routes are handed (the application, `PlanCommand`).
"""

from services.planning.api.commands import router as commands
from services.planning.api.esco import router as esco
from services.planning.api.evc import router as evc
from services.planning.api.reads import router as reads

# In the order its OpenAPI document lists them.
ROUTERS = (reads, commands, esco, evc)

__all__ = ["ROUTERS"]

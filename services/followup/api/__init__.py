"""Follow-up's HTTP API: `reads.py` the reads, `commands.py` the commands, `schemas.py`
the request and response models, `answers.py` the answers built from a follow-up,
`dependencies.py` what routes are handed (the application, `FollowUpCommand`)."""

from services.followup.api.commands import router as commands
from services.followup.api.reads import router as reads

# In the order its OpenAPI document lists them.
ROUTERS = (reads, commands)

__all__ = ["ROUTERS"]

"""Follow-up's HTTP API: `reads.py` the reads, `commands.py` the commands, `schemas.py`
the request and response models, `answers.py` the answers built from a follow-up,
`dependencies.py` what routes are handed (the application, `FollowUpCommand`),
`retention.py` the statistics retention's archive and receipts."""

from services.followup.api.commands import router as commands
from services.followup.api.reads import router as reads
from services.followup.api.retention import router as retention

# In the order its OpenAPI document lists them.
ROUTERS = (reads, commands, retention)

__all__ = ["ROUTERS"]

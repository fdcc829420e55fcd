"""The words a case's fields take, and the statuses that end its intake."""

ASSESSORS = ("client", "counsellor")
SESSION_KINDS = ("intake", "deepening", "synthesis", "aftercare")
DECISIONS = ("accept", "refer_out", "decline")
GAP_SCORES = (1, 2)
PLAN_PHASES = ("deepening", "synthesis", "aftercare")
# Statuses in which a case takes no more intake commands (assessments, sessions).
ENDED = ("referred_out", "declined", "closed")
# Why a case's file is closed by its counsellor (follow-up's closure has its own reasons).
CLOSING_REASONS = ("referred_out", "declined", "client_withdrew")

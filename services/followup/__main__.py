"""Run followup alone: `python -m services.followup` (how Kubernetes runs it)."""

from shared.serve import serve_one

serve_one("followup")

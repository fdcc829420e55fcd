"""Run planning alone: `python -m services.planning` (how Kubernetes runs it)."""

from shared.serve import serve_one

serve_one("planning")

"""Run intake alone: `python -m services.intake` (how Kubernetes runs it)."""

from shared.serve import serve_one

serve_one("intake")

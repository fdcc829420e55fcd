"""Run referral alone: `python -m services.referral` (how Kubernetes runs it)."""

from shared.serve import serve_one

serve_one("referral")

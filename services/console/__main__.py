"""Run the console alone: `python -m services.console` (on GUIDANCE_PORT, calling the APIs
at GUIDANCE_CONSOLE_API_URL)."""

from shared.serve import serve_one

serve_one("console")

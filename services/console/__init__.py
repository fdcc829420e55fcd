"""The console: Waypoint for people. Server-rendered pages (FastAPI + Jinja2) that call the
four services' public APIs with the signed-in user's own token (a backend-for-frontend)."""

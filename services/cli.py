"""`waypoint`, the command line (the `waypoint` entry point in pyproject.toml): the
platform's commands (`shared/cli.py`) and the services' own command groups, added here
so that `shared/` imports no service."""

from __future__ import annotations

from services.planning.esco_cli import esco
from services.planning.evc_cli import evc
from services.privacy_cli import privacy
from shared.cli import app

app.add_typer(privacy, name="privacy")
app.add_typer(esco, name="esco")
app.add_typer(evc, name="evc")

__all__ = ["app"]

if __name__ == "__main__":
    app()

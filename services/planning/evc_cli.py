"""`waypoint evc`: the EVC standards a portfolio is compared with (`services/planning/evc.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.planning.evc import StandardFileError, import_standards, read_file
from shared import runinfo
from shared.settings import get_settings

evc = typer.Typer(
    help="EVC: the standards (a qualification's competences) portfolios are compared with."
)
console = Console(soft_wrap=True)


@evc.command("import-standard")
def import_standard(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV file: standard, standard_title, item, title, description, esco_uris "
            "(ESCO skill URIs separated by spaces); one row per competence item."
        ),
    ],
) -> None:
    """Load the standards of the file with their competence items; importing a standard
    again replaces its items (plans that chose it keep the items as they were)."""
    import psycopg

    try:
        standards = read_file(file)
    except StandardFileError as e:
        typer.echo(f"{file}: {e}", err=True)
        raise typer.Exit(1) from None
    runinfo.use_database()
    settings = get_settings()
    try:
        conn = psycopg.connect(settings.pg.dsn(), connect_timeout=10)
    except psycopg.OperationalError as e:
        raise runinfo.cannot_reach("PostgreSQL", settings.pg.dbname, e) from None
    with conn:
        for standard_id, items, new in import_standards(conn, standards):
            console.print(f"{standard_id}: {items} item(s){' (new)' if new else ''}.")

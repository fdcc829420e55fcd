"""`waypoint esco`: the ESCO classification planning searches (`services/planning/esco.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.planning.esco import EscoFileError, import_concepts, language_of, read_file
from shared import runinfo
from shared.settings import get_settings

esco = typer.Typer(help="ESCO: the skills and occupations the competence analysis picks from.")
console = Console(soft_wrap=True)


@esco.command("import")
def import_file(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="ESCO CSV files as the ESCO portal publishes them: skills_<lang>.csv, "
            "occupations_<lang>.csv (one language each)."
        ),
    ],
    language: Annotated[
        str | None,
        typer.Option(help="The labels' language (default: the file name's, skills_nl.csv → nl)."),
    ] = None,
) -> None:
    """Load ESCO skills and occupations with their labels (preferred and alternative) in
    the file's language; importing a file again updates, never duplicates."""
    import psycopg

    loaded = []
    for path in files:
        try:
            loaded.append((path, language_of(path, language), read_file(path)))
        except EscoFileError as e:
            typer.echo(f"{path}: {e}", err=True)
            raise typer.Exit(1) from None
    runinfo.use_database()
    settings = get_settings()
    try:
        conn = psycopg.connect(settings.pg.dsn(), connect_timeout=10)
    except psycopg.OperationalError as e:
        raise runinfo.cannot_reach("PostgreSQL", settings.pg.dbname, e) from None
    with conn:
        for path, lang, concepts in loaded:
            done = import_concepts(conn, concepts, lang)
            console.print(
                f"{path.name}: {done.concepts} concept(s) in {done.language} "
                f"({done.new} new), {done.labels} label(s)."
            )

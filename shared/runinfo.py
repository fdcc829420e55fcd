"""`.data/run.json`: the addresses `waypoint run` chose, so that every other command
(audit, privacy, token, events) finds the running system without being told."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

RUN_FILE = Path(".data") / "run.json"


def write(path: Path, *, base_url: str, nats_url: str, database_url: str, data_dir: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "base_url": base_url,
        "nats_url": nats_url,
        "database_url": database_url,
        "data_dir": str(data_dir.resolve()),
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(),
        "running": True,
    }
    # The database URL may carry a password: only the owner reads the file.
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(info, indent=2) + "\n")


def mark_stopped(path: Path) -> None:
    """Kept (not removed), so that a later command can say the system was stopped."""
    info = read(path, running_only=False)
    if info is None:
        return
    info["running"] = False
    info["stopped_at"] = datetime.now(UTC).isoformat()
    path.write_text(json.dumps(info, indent=2) + "\n")


def read(path: Path = RUN_FILE, *, running_only: bool = True) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or (running_only and not info.get("running")):
        return None
    return info


def base_url(given: str | None) -> str:
    """--url (or WAYPOINT_URL) when given, else the running system's, else
    GUIDANCE_HOST/GUIDANCE_PORT (defaults 127.0.0.1:8000)."""
    if given:
        return given.rstrip("/")
    info = read()
    if info and info.get("base_url"):
        return str(info["base_url"])
    host = os.environ.get("GUIDANCE_HOST", "127.0.0.1")
    return f"http://{host}:{os.environ.get('GUIDANCE_PORT', '8000')}"


def nats_url(given: str | None) -> str:
    """--nats-url (or GUIDANCE_NATS_URL) when given, else the running system's."""
    if given:
        return given
    info = read()
    if info and info.get("nats_url"):
        return str(info["nats_url"])
    from shared.settings import get_settings

    return get_settings().nats_url


def use_database() -> None:
    """GUIDANCE_DATABASE_URL when set, else point this process at the running system's
    database (an embedded one answers only on its socket)."""
    if os.environ.get("GUIDANCE_DATABASE_URL"):
        return
    info = read()
    if info and info.get("database_url"):
        os.environ["GUIDANCE_DATABASE_URL"] = str(info["database_url"])


def cannot_reach(what: str, where: str, reason: object) -> typer.Exit:
    """One line on stderr, exit 1: the error to raise when a server does not answer."""
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    typer.echo(f"cannot reach {what} at {where}: {text}", err=True)
    return typer.Exit(1)

"""What the deployment's checks share (tests/deploy/test_k8s.py, and the measured connection
budget in tests/integration/test_connection_budget.py): the k8s tools, rendering an
overlay, finding its objects, the settings a process of it reads, and the PostgreSQL
connections one process may hold."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
TOOLS = REPO / ".venv" / "tools" / "bin"


def tool(name: str) -> str:
    path = TOOLS / name
    assert path.is_file(), f"{path} is missing: run `make install` (it installs the k8s tools)"
    return str(path)


def run(*args: str, cwd: Path = REPO, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


def render(overlay: str) -> str:
    done = run(tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay))
    assert done.returncode == 0, done.stderr
    return done.stdout


def objects(path: Path) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(path.read_text()) if o]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in docs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def settings_of(configmap: dict[str, Any], env: dict[str, str]) -> Settings:
    """The Settings a process of this overlay reads (its Secrets given stand-in values)."""
    import base64
    import os
    from unittest import mock

    given = {k: v for k, v in configmap["data"].items() if k.startswith("GUIDANCE_")}
    secrets = {
        "GUIDANCE_MASTER_KEY": base64.b64encode(b"m" * 32).decode(),
        "GUIDANCE_AUDIT_SIGNING_KEY": base64.b64encode(b"s" * 32).decode(),
        "GUIDANCE_DATABASE_URL": "postgresql://waypoint:pw@waypoint-pg-rw:5432/waypoint",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")}
    with mock.patch.dict(os.environ, {**clean, **given, **env, **secrets}, clear=True):
        return Settings()


# Connections one process may hold, by role (README.md "Sizing"): the event store's pool
# (db_pool_size + db_max_overflow; a relay's or worker's: 1 + at most 5), the key vault's
# (vault_pool_size), the read models' asyncpg pool (read_pool_size),
# and one connection per follower of the service's log it runs or stands in for
# (shared/runtime.py: web: projection, audit trail; relay: relay; worker: projection,
# relay, audit trail). The console holds only its sessions' pool (read_pool_size).
FOLLOWERS = {"web": 2, "relay": 1, "worker": 3}


def per_process(settings: Settings, role: str, console: bool) -> int:
    if console:
        return settings.read_pool_size
    if role == "web":
        store = settings.db_pool_size + settings.db_max_overflow
    else:
        store = 1 + min(settings.db_max_overflow, 5)
    return store + settings.vault_pool_size + settings.read_pool_size + FOLLOWERS[role]

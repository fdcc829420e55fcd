"""The console started alone (`python -m services.console`), as the console's tests that
need it start it: on a free port, calling the APIs at an address given, signing tokens
with the running system's dev secret; and the CSRF token of a page it answered."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from shared.embedded import free_port
from tests.console.conftest import REPO, System


@contextmanager
def console_alone(system: System, api_url: str) -> Iterator[str]:
    """The console's address once its sign-in page answers; stopped on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDANCE_")}
    secret = (system.folder / ".data" / "dev-jwt-secret").read_text().strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.console"],
        cwd=REPO,
        env=dict(
            env,
            GUIDANCE_PORT=str(port),
            GUIDANCE_CONSOLE_API_URL=api_url,
            GUIDANCE_DATABASE_URL=system.database_url,
            # The dev sign-in mints tokens the APIs accept: the running system's secret.
            GUIDANCE_JWT_SECRET=secret,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(base + "/sign-in", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(15)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)

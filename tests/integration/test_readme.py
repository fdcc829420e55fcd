"""The README's commands, run as written against a system started as `make run` starts it.

Every ```sh block of README.md runs, in order, as one bash script, unless the line before
it is `<!-- not run: why -->`. The system is `.venv/bin/waypoint run` in a folder of its
own (its `.data/` as a newcomer's), on a free port, with a nats-server and a database of
its own. curl is made to fail on an HTTP error (a `.curlrc` with `fail-with-body`), so a
command the API refuses fails the script and the test shows its answer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.embedded import free_port, start_nats
from tests.conftest import DEFAULT_DB, fresh_database

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```sh\n(?P<body>.*?)```", re.S)
NOT_RUN = re.compile(r"<!-- not run: .+ -->")


def readme_script(text: str) -> str:
    blocks = [m["body"] for m in BLOCK.finditer(text) if not NOT_RUN.fullmatch(m["before"])]
    preamble = "set -euo pipefail\ntrap 'echo \"README command failed: $BASH_COMMAND\" >&2' ERR\n"
    return preamble + "\n".join(blocks)


def test_every_sh_block_is_run_or_says_why_not() -> None:
    text = README.read_text()
    for m in BLOCK.finditer(text):
        before = m["before"]
        assert not before.startswith("<!--") or NOT_RUN.fullmatch(before), before
    skipped = [m for m in BLOCK.finditer(text) if NOT_RUN.fullmatch(m["before"])]
    run = [m for m in BLOCK.finditer(text) if not NOT_RUN.fullmatch(m["before"])]
    assert len(run) >= 8 and len(skipped) <= 3, (len(run), len(skipped))


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """`waypoint run` in a folder of its own, as `make run` starts it; yields the folder
    and the environment of a second shell there."""
    folder = tmp_path / "clone"
    folder.mkdir()
    venv = Path(sys.prefix)
    (folder / ".venv").symlink_to(venv)
    nats_server = start_nats(tmp_path / "nats")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GUIDANCE_", "WAYPOINT_")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    with fresh_database(os.environ.get("GUIDANCE_DATABASE_URL", DEFAULT_DB), "readme") as db:
        system_env = dict(
            env,
            GUIDANCE_DATABASE_URL=db,
            GUIDANCE_NATS_URL=nats_server.url,
            GUIDANCE_PORT=str(port),
            GUIDANCE_RETENTION_INTERVAL_SECONDS="3600",
        )
        log = (tmp_path / "run.log").open("w")
        process = subprocess.Popen(
            [str(folder / ".venv" / "bin" / "waypoint"), "run"],
            cwd=folder,
            env=system_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(folder, port, process, tmp_path / "run.log")
            yield folder, env
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            nats_server.stop()


def wait_ready(folder: Path, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        run = folder / ".data" / "run.json"
        if run.is_file() and json.loads(run.read_text()).get("running"):
            try:
                if all(
                    httpx.get(f"{base}/{s}/readyz", timeout=2).status_code == 200
                    for s in ("intake", "planning", "followup", "referral")
                ):
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise AssertionError("waypoint run did not become ready:\n" + log.read_text())


def test_the_readme_journeys_run_as_written(newcomer: tuple[Path, dict[str, str]]) -> None:
    folder, env = newcomer
    (folder / "journeys.sh").write_text(readme_script(README.read_text()))
    curl_home = folder / "curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text("fail-with-body\nshow-error\n")
    done = subprocess.run(
        ["bash", "journeys.sh"],
        cwd=folder,
        env=dict(env, CURL_HOME=str(curl_home)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n---\n{done.stderr[-3000:]}"
    out = done.stdout
    # What each journey is there to show, read off its output.
    assert '"phase":"deepening","status":"accepted"' in out, "the counsellor's accepted case"
    assert '"status":"agreed"' in out, "the plan agreed by both parties"
    assert '"status":"closed","closed_by":"feedback"' in out, "feedback closed the follow-up"
    assert '"phase":"closed","status":"closed"' in out, "the intake case followed"
    assert "OK:" in out and "signature" in out, "the auditor's offline bundle checks"
    assert '"status":"completed"' in out, "the erasure's receipt"
    assert (folder / "case.json").is_file() and (folder / "plan.html").is_file()
    assert "Anna" in (folder / "anna.json").read_text(), "the export holds the client's data"

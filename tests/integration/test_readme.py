"""The README's commands, run as written against a system started as `make run` starts it.

Every ```sh block of README.md runs, in order, as one bash script, unless the line before
it is `<!-- not run: why -->`. The system is `.venv/bin/waypoint run` in a folder of its
own (its `.data/` as a newcomer's), on a free port, with a nats-server and a database of
its own. curl is made to fail on an HTTP error (a `.curlrc` with `fail-with-body`), so a
command the API refuses fails the script and the test shows its answer.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import waypoint_run

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
    """`.venv/bin/waypoint run` in a folder of its own (its `.venv` this checkout's), as
    `make run` starts it; yields the folder and the environment of a second shell there."""
    folder = tmp_path / "clone"
    folder.mkdir()
    venv = Path(sys.prefix)
    (folder / ".venv").symlink_to(venv)
    with waypoint_run(
        tmp_path,
        name="readme",
        command=[str(folder / ".venv" / "bin" / "waypoint"), "run"],
        settings={"GUIDANCE_RETENTION_INTERVAL_SECONDS": "3600"},
    ) as running:
        # `.venv/bin/waypoint …` runs this checkout's code, as the system does (the venv's
        # own install may be another checkout's).
        env = dict(
            running.env,
            PATH=f"{venv / 'bin'}:{running.env.get('PATH', '/usr/bin:/bin')}",
            PYTHONPATH=str(REPO),
        )
        yield folder, env


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
    assert "skills_en.csv: 2 concept(s) in en" in out, "ESCO imported"
    assert '"status":"closed","closed_by":"feedback"' in out, "feedback closed the follow-up"
    assert '"phase":"closed","status":"closed"' in out, "the intake case followed"
    assert "OK:" in out and "signature" in out, "the auditor's offline bundle checks"
    assert '"status":"completed"' in out, "the erasure's receipt"
    assert (folder / "case.json").is_file() and (folder / "plan.html").is_file()
    assert "Reflection and action report" in (folder / "report.html").read_text()
    calendar = (folder / "appointments.ics").read_text()
    assert calendar.startswith("BEGIN:VCALENDAR") and "STATUS:CANCELLED" in calendar
    assert "meet.example.org" in calendar and "Anna" not in calendar, "the counsellor's feed"
    assert "Anna" in (folder / "anna.json").read_text(), "the export holds the client's data"

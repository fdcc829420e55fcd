"""The command line finds the system `waypoint run` started (from `.data/run.json`),
says "cannot reach …" in one line when it does not answer, refuses unknown roles,
tails the CloudEvents on NATS, and the embedded NATS is spared the terminal's Ctrl-C."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from shared import runinfo
from shared.embedded import _output_to, free_port, start_nats
from shared.messaging.envelope import CloudEvent

WORKTREE = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of its own, with none of the addresses given by the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("WAYPOINT_URL", "GUIDANCE_NATS_URL", "GUIDANCE_DATABASE_URL", "GUIDANCE_PORT"):
        # setenv first: the commands set GUIDANCE_DATABASE_URL from run.json, and the
        # teardown must restore what the session's fixtures read.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return tmp_path


def write_run_json(folder: Path, **addresses: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    runinfo.write(
        folder / ".data" / "run.json",
        base_url=addresses.get("base_url", f"http://{closed}"),
        nats_url=addresses.get("nats_url", f"nats://{closed}"),
        database_url=addresses.get("database_url", f"postgresql://postgres@{closed}/waypoint"),
        data_dir=folder / ".data",
    )


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_a_token_for_a_role_that_does_not_exist_is_refused_naming_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUIDANCE_JWT_SECRET", "s" * 32)
    refused = CliRunner().invoke(cli, ["token", "--role", "superuser"])
    assert refused.exit_code == 2
    assert "superuser" in refused.output and "counsellor" in refused.output
    assert "directory_admin" in refused.output
    issued = CliRunner().invoke(cli, ["token", "--role", "auditor"])
    assert issued.exit_code == 0 and issued.output.count(".") == 2


def test_run_json_says_where_the_system_runs_and_that_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    runinfo.write(
        path,
        base_url="http://127.0.0.1:8123",
        nats_url="nats://127.0.0.1:4333",
        database_url="postgresql://postgres:@/waypoint?host=%2Ftmp%2Fpg",
        data_dir=tmp_path,
    )
    info = runinfo.read(path)
    assert info is not None and info["database_url"].endswith("host=%2Ftmp%2Fpg")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    runinfo.mark_stopped(path)
    assert runinfo.read(path) is None  # a stopped system is not one to reach
    assert runinfo.read(path, running_only=False)["running"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["audit", "verify", "--token", "t"], "Waypoint"),
        (["audit", "timeline", str(uuid.uuid4()), "--token", "t"], "Waypoint"),
        (["events", "tail", "--count", "1"], "NATS"),
        (["privacy", "retention"], "PostgreSQL"),
    ],
)
def test_a_command_whose_system_does_not_answer_says_so_in_one_line_and_exits_1(
    in_project: Path, command: list[str], what: str
) -> None:
    write_run_json(in_project)
    where = {
        "Waypoint": runinfo.read()["base_url"],  # type: ignore[index]
        "NATS": runinfo.read()["nats_url"],  # type: ignore[index]
        "PostgreSQL": "127.0.0.1:",
    }[what]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1, result.output
    line = one_line(result.output)
    assert line.startswith(f"cannot reach {what} at {where}"), line
    assert "Traceback" not in result.output and "FAILED" not in result.output


class _AuditVerify(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        service = self.path.split("/")[1]
        body = json.dumps({"ok": True, "checked": len(service), "checkpoints_checked": 0})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def audit_server() -> Iterator[str]:
    """A stand-in answering every service's /v1/audit/verify: is the right address asked?"""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuditVerify)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_audit_verify_asks_the_address_in_run_json_and_url_overrides_it(
    in_project: Path, audit_server: str
) -> None:
    write_run_json(in_project, base_url=audit_server)
    found = CliRunner().invoke(cli, ["audit", "verify", "--token", "t"])
    assert found.exit_code == 0, found.output
    assert "intake" in found.output and "referral" in found.output
    closed = f"http://127.0.0.1:{free_port()}"
    overridden = CliRunner().invoke(cli, ["audit", "verify", "--token", "t", "--url", closed])
    assert overridden.exit_code == 1
    assert one_line(overridden.output).startswith(f"cannot reach Waypoint at {closed}")


def test_the_old_waypoint_url_variable_still_names_the_system(
    in_project: Path, audit_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run_json(in_project)  # run.json names a closed port: the variable wins
    monkeypatch.setenv("WAYPOINT_URL", audit_server)
    result = CliRunner().invoke(cli, ["audit", "verify", "--token", "t", "--service", "intake"])
    assert result.exit_code == 0, result.output


async def test_events_tail_prints_the_cloudevent_published_on_the_running_nats(
    in_project: Path, nats_url: str
) -> None:
    write_run_json(in_project, nats_url=nats_url)
    # A subject of this test's own: the session's relays publish on guidance.> meanwhile.
    service = f"clitest{uuid.uuid4().hex[:8]}"
    subject = f"guidance.{service}.CaseOpened.v1"
    pattern = f"guidance.{service}.>"
    tail = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "events", "tail", pattern, "--count", "1"],
        cwd=in_project,
        env={**os.environ, "PYTHONPATH": str(WORKTREE)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        ready = tail.stderr.readline()  # "tailing …": subscribed
        assert ready.startswith(f"tailing {pattern} on {nats_url}"), ready
        event = CloudEvent(
            id=uuid.uuid4(),
            source="/waypoint/clitest",
            type="guidance.clitest.CaseOpened.v1",
            subject="case-42",
            time=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
            data={"case_id": "case-42"},
        )
        nc = await nats.connect(nats_url)
        await nc.publish(subject, event.to_bytes())
        await nc.flush()
        await nc.close()
        out, err = tail.communicate(timeout=20)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    line = one_line(out)
    assert line.split() == [
        "2026-11-29T12:00:00Z",
        "guidance.clitest.CaseOpened.v1",
        "case-42",
        str(event.id),
    ]


def test_the_embedded_nats_runs_in_a_session_of_its_own(tmp_path: Path) -> None:
    """So the terminal's Ctrl-C does not stop it before the services have drained."""
    server = start_nats(tmp_path)
    try:
        pid = server.process.pid
        assert os.getsid(pid) == pid
        assert os.getsid(pid) != os.getsid(0)
    finally:
        server.stop()


def test_what_child_processes_print_during_start_up_goes_to_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "server.log"
    with _output_to(log):
        subprocess.run(["echo", "The files belonging to this database system"], check=True)
    print("after")
    assert "The files belonging" in log.read_text()
    assert capfd.readouterr().out == "after\n"


def test_tokens_prints_shell_exports_for_every_demo_person_and_the_address(
    in_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GUIDANCE_JWT_SECRET", raising=False)
    refused = CliRunner().invoke(cli, ["tokens"])
    assert refused.exit_code == 2 and "no signing secret" in refused.output
    monkeypatch.setenv("GUIDANCE_JWT_SECRET", "s" * 32)
    write_run_json(in_project, base_url="http://127.0.0.1:8123")
    printed = CliRunner().invoke(cli, ["tokens"])
    assert printed.exit_code == 0, printed.output
    shell = subprocess.run(
        ["bash", "-c", printed.output + '\necho "$COUNSELLOR $PARTNER $WAYPOINT_URL"'],
        capture_output=True,
        text=True,
        check=True,
    )
    counsellor, partner, url = shell.stdout.split()
    assert url == "http://127.0.0.1:8123"
    for token in (counsellor, partner):
        assert token.count(".") == 2
    names = [line.split("=", 1)[0] for line in printed.output.splitlines()]
    assert names == [
        "export COUNSELLOR",
        "export TEAM_LEAD",
        "export ADMIN",
        "export AUDITOR",
        "export DIRECTORY_ADMIN",
        "export PARTNER",
        "export WAYPOINT_URL",
    ]

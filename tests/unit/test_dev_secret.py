"""Dev mode has no default signing secret (issue 11, §5): `waypoint run` makes one per run,
hands it to every process it starts and leaves it in .data/dev-jwt-secret, where
`waypoint token` in another shell finds it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.auth import TokenVerifier
from shared.cli import app, share_dev_secret, signing_settings
from shared.settings import Settings


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A dev shell in a fresh checkout: no secret in the environment, no .data yet."""
    monkeypatch.delenv("GUIDANCE_JWT_SECRET", raising=False)
    monkeypatch.setenv("GUIDANCE_AUTH_MODE", "dev")
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_a_run_makes_one_random_secret_for_all_its_processes_and_leaves_it_for_the_owner(
    shell: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    written = share_dev_secret(Path(".data"))

    secret = os.environ["GUIDANCE_JWT_SECRET"]  # what every process it starts inherits
    assert written is not None
    path = tmp_path / ".data" / "dev-jwt-secret"
    assert Path(written).resolve() == path
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 40
    assert Settings().jwt_secret == secret

    shell.delenv("GUIDANCE_JWT_SECRET")
    share_dev_secret(Path(".data"))
    assert os.environ["GUIDANCE_JWT_SECRET"] != secret  # another run, another secret


async def test_waypoint_token_in_another_shell_mints_a_token_the_running_system_accepts(
    shell: pytest.MonkeyPatch,
) -> None:
    share_dev_secret(Path(".data"))
    running = Settings()  # the system's settings, from its environment
    shell.delenv("GUIDANCE_JWT_SECRET")  # the other shell has only the file

    result = CliRunner().invoke(app, ["token", "--role", "counsellor", "--org", "org-x"])

    assert result.exit_code == 0, result.output
    principal = await TokenVerifier(running).verify(result.output.strip())
    assert principal.org == "org-x" and principal.has("counsellor")
    assert signing_settings().jwt_secret == running.jwt_secret


def test_waypoint_token_without_a_secret_says_where_to_find_one(
    shell: pytest.MonkeyPatch,
) -> None:
    result = CliRunner().invoke(app, ["token", "--role", "counsellor"])

    assert result.exit_code != 0
    assert "GUIDANCE_JWT_SECRET" in result.output


def test_a_given_secret_is_used_as_it_is_and_not_written_anywhere(
    shell: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shell.setenv("GUIDANCE_JWT_SECRET", "given-secret-of-the-operator-0123456789")

    assert share_dev_secret(Path(".data")) is None

    assert os.environ["GUIDANCE_JWT_SECRET"] == "given-secret-of-the-operator-0123456789"
    assert not (tmp_path / ".data").exists()

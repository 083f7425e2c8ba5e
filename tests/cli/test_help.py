"""Help, suggestions, global options, completion and error lists, run as a user would."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from simproc import orchestrator

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # every test here runs the command line as a process


def test_help_plan_prints_the_plan_command_s_help(tmp_path: Path) -> None:
    """`orchestrator help plan` prints plan's usage and flags at 80 columns, exit 0."""
    result = orchestrator("help", "plan", cwd=tmp_path, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: orchestrator plan ")
    assert "[env: ORCHESTRATOR_CONCURRENCY]" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_global_options_before_the_command_work(tmp_path: Path) -> None:
    """`orchestrator --config FILE --state-db DB status` reads that database (it used to fail)."""
    config = tmp_path / "settings.yaml"
    config.write_text("concurrency: 2\n")
    db = tmp_path / "mine.db"
    result = orchestrator("--config", str(config), "--state-db", str(db), "status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{db}: no run recorded yet" in result.stdout


def test_a_mistyped_command_is_one_line_with_a_suggestion(tmp_path: Path) -> None:
    """`orchestrator stauts` says which command was meant and where help is; exit 2."""
    result = orchestrator("--log-format", "console", "stauts", cwd=tmp_path)
    assert result.returncode == 2
    expected = "error: orchestrator: unknown command 'stauts'; did you mean status?"
    assert result.stderr.splitlines() == [f"{expected} (see `orchestrator help`)"]
    result = orchestrator("stauts", cwd=tmp_path)  # no terminal: one JSON object
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    event = json.loads(line)
    assert event["level"] == "error"
    assert "did you mean status?" in event["message"]


def test_help_and_completion_ignore_broken_settings(tmp_path: Path) -> None:
    """Help and completion work even when a variable holds a bad setting."""
    env = {"ORCHESTRATOR_CONCURRENCY": "many"}
    assert orchestrator("help", cwd=tmp_path, env=env).returncode == 0
    result = orchestrator("completion", "bash", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    if shutil.which("bash"):
        script = tmp_path / "orchestrator.bash"
        script.write_text(result.stdout)
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0


def test_validate_lists_every_error_it_finds(tmp_path: Path) -> None:
    """`validate` on three bad appliances prints three error lines (one JSON event), exit 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "firmware:\n  discover: {cloud_version: 9.9.1.100}\nappliances:\n"
        "  - {name: eda1, url: https://eda1.e, role: sensr, api_key_env: K}\n"
        "  - {name: eda2, url: https://eda2.e, role: discover, api_key_env: K}\n"
        "  - {name: eda3, url: eda3.e, role: discover, api_key_env: K}\n"
        "  - {name: eda2, url: https://eda4.e, role: discover, api_key_env: K}\n"
    )
    env = {"K": "secret-key-1"}
    result = orchestrator("validate", str(bad), "--log-format", "console", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    places = [f"{bad}:appliances[0].role", f"{bad}:appliances[2].url", f"{bad}:appliances[3].name"]
    assert [line.split(": ")[1] for line in lines] == places
    assert all(line.startswith("error: ") for line in lines)
    result = orchestrator("validate", str(bad), cwd=tmp_path, env=env)  # no terminal: JSON
    (line,) = result.stderr.splitlines()
    event = json.loads(line)
    assert event["message"].endswith("(and 2 more errors)")
    assert [problem.split(": ")[0] for problem in event["problems"]] == places

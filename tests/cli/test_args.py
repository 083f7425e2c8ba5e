"""The command line's grammar: help for every flag, global options, -y, suggestions, completion."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.cli.args import build_parser, parse_command_line
from orchestrator.cli.grammar import UsageError, default_text, env_name
from orchestrator.cli.helpcmd import completion_script, show_help
from orchestrator.core.config import Settings, resolve_settings

if TYPE_CHECKING:
    from orchestrator.cli.grammar import Parser

PARSER = build_parser()
COMMANDS = sorted(PARSER.commands)


def flags_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every documented flag of `parser` (not -h, --version or hidden ones)."""
    return [
        action
        for action in parser._actions
        if action.option_strings
        and action.help != argparse.SUPPRESS
        and not isinstance(action, argparse._HelpAction | argparse._VersionAction)
    ]


FLAGS = [
    pytest.param(parser, action, id=f"{name} {action.option_strings[-1]}")
    for name, parser in [("orchestrator", PARSER), *sorted(PARSER.commands.items())]
    for action in flags_of(parser)
]


def help_text(parser: Parser, columns: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    return parser.format_help()


@pytest.mark.parametrize(("parser", "action"), FLAGS)
def test_every_flag_has_help_with_its_default(parser: Parser, action: argparse.Action) -> None:
    """Every flag of every command says what it does and what happens without it."""
    assert action.help
    assert len(action.help) > 20
    assert "[default: " in action.help


@pytest.mark.parametrize(("parser", "action"), FLAGS)
def test_a_setting_s_flag_names_its_variable_and_its_real_default(
    parser: Parser, action: argparse.Action
) -> None:
    """A flag that is a setting names ORCHESTRATOR_<NAME> and the default Settings has."""
    assert action.help is not None
    if action.dest not in Settings.model_fields:
        assert "ORCHESTRATOR_" not in action.help.replace("ORCHESTRATOR_<NAME>", "")
        return
    assert f"[env: {env_name(action.dest)}]" in action.help
    assert env_name(action.dest) == "ORCHESTRATOR_" + action.dest.upper()
    if action.dest in {"concurrency", "allow_downgrade", "max_failures"}:
        settings = resolve_settings({}, {}, None)
        assert f"[default: {default_text(action.dest)}]" in action.help
        expected = {"concurrency": "4", "allow_downgrade": "off", "max_failures": "unlimited"}
        assert default_text(action.dest) == expected[action.dest]
        assert str(getattr(settings, action.dest)) in {"4", "False", "unlimited"}


def test_the_state_db_default_in_help_is_where_runs_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--state-db's help shows the state database actually used, from XDG_STATE_HOME."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_text("state_db") == str(tmp_path / "state" / "orchestrator" / "state.db")


@pytest.mark.parametrize("command", ["simulate", "resume", "restore-ingest", "status"])
def test_commands_that_had_bare_flags_describe_each_one(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulate, resume, restore-ingest and status, whose flags had no help, describe each."""
    text = help_text(PARSER.commands[command], 100, monkeypatch)
    for action in flags_of(PARSER.commands[command]):
        assert action.option_strings[-1] in text
    assert "[default: " in text


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", ["orchestrator", *COMMANDS])
def test_help_wraps_at_word_boundaries(
    command: str, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Help, usage first, fits the terminal: no line is longer, no `[--flag VALUE]` is split."""
    parser = PARSER if command == "orchestrator" else PARSER.commands[command]
    text = help_text(parser, columns, monkeypatch)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    usage = lines[: next(i for i, line in enumerate(lines) if not line.strip())]
    for line in usage:
        assert line.count("[") == line.count("]"), line
        assert line.count("{") == line.count("}"), line
    words = " ".join(usage).split()
    assert "COMMAND" in words or command != "orchestrator"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(
            ["--config", "c.yaml", "--state-db", "s.db", "--log-format", "json", "status"]
        ),
        pytest.param(
            ["status", "--config", "c.yaml", "--state-db", "s.db", "--log-format", "json"]
        ),
        pytest.param(["--config", "c.yaml", "status", "--state-db", "s.db", "--log-format=json"]),
    ],
    ids=["before", "after", "both"],
)
def test_global_options_go_before_or_after_the_command(argv: list[str]) -> None:
    """--config, --state-db and --log-format mean the same before the command or after it."""
    args = parse_command_line(argv)
    assert (args.command, args.config, args.state_db, args.log_format) == (
        "status",
        Path("c.yaml"),
        Path("s.db"),
        "json",
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_the_global_options_given_first(command: str) -> None:
    """`orchestrator --config x COMMAND` parses for every command (it used to fail)."""
    needs = {"validate": ["f.yaml"], "plan": ["f.yaml"], "restore-ingest": ["f.yaml"]}
    needs |= {"trust": ["f.yaml"], "discover": ["https://eca1.example.net"]}
    needs |= {"completion": ["bash"], "rollback": ["3e919097"]}
    args = parse_command_line(["--config", "x.yaml", command, *needs.get(command, [])])
    assert args.config == Path("x.yaml")
    assert args.state_db is None
    assert args.log_format is None


def test_the_flag_after_the_command_wins_over_the_one_before() -> None:
    """Given twice, the later --state-db is the one used, as with any repeated flag."""
    args = parse_command_line(["--state-db", "a.db", "status", "--state-db", "b.db"])
    assert args.state_db == Path("b.db")


@pytest.mark.parametrize("command", ["apply", "unlock"])
@pytest.mark.parametrize("flag", ["-y", "--yes"])
def test_y_is_short_for_yes(command: str, flag: str) -> None:
    """`-y` answers yes as `--yes` does, for apply and unlock."""
    argv = [command, flag] + (["f.yaml"] if command == "apply" else [])
    assert parse_command_line(argv).yes is True
    assert parse_command_line(argv[:1] + argv[2:]).yes is False


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        pytest.param(["aply", "f.yaml"], "unknown command 'aply'; did you mean apply?", id="apply"),
        pytest.param(["stauts"], "did you mean status?", id="status"),
        pytest.param(["restore_ingest", "f.yaml"], "did you mean restore-ingest?", id="dash"),
        pytest.param(["help", "pln"], "unknown command 'pln'; did you mean plan?", id="help"),
        pytest.param(["plan", "f.yaml", "--concurency", "3"], "did you mean --concurrency?"),
        pytest.param(["plan", "f.yaml", "--format", "jsn"], "did you mean json?", id="choice"),
        pytest.param(["completion", "zhs"], "did you mean zsh?", id="shell"),
    ],
)
def test_a_typo_gets_a_suggestion(argv: list[str], suggestion: str) -> None:
    """A mistyped command, flag or choice is refused with the closest right one."""
    with pytest.raises(UsageError) as caught:
        parse_command_line(argv)
    assert suggestion in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_command_like_nothing_known_lists_the_commands() -> None:
    """With nothing close, the refusal lists the commands instead of guessing."""
    with pytest.raises(UsageError) as caught:
        parse_command_line(["frobnicate"])
    assert "did you mean" not in str(caught.value)
    assert "the commands are validate, plan, apply" in str(caught.value)
    assert caught.value.hint == "orchestrator help"


def test_a_usage_error_points_at_the_command_s_help() -> None:
    """A bad flag of `plan` points at `orchestrator help plan`."""
    with pytest.raises(UsageError) as caught:
        parse_command_line(["plan", "f.yaml", "--frobnicate"])
    assert caught.value.hint == "orchestrator help plan"


@pytest.mark.parametrize("topic", [None, "plan", "simulate"])
def test_help_command_prints_the_command_s_help(
    topic: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`orchestrator help [COMMAND]` prints what `--help` prints, and exits 0."""
    monkeypatch.setenv("COLUMNS", "100")
    argv = ["help"] + ([topic] if topic else [])
    assert show_help(parse_command_line(argv)) == 0
    printed = capsys.readouterr().out
    fresh = build_parser()  # its --state-db default is this test's state home
    assert printed == (fresh.commands[topic] if topic else fresh).format_help()
    assert ("COMMAND" in printed) if topic is None else (f"orchestrator {topic}" in printed)


def test_the_help_lists_every_command_with_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """`orchestrator --help` lists each command, help and completion included, with a line."""
    text = help_text(PARSER, 100, monkeypatch)
    for name in COMMANDS:
        assert re.search(rf"^\s+{re.escape(name)}\s+\w", text, re.MULTILINE), name


# --- completion -------------------------------------------------------------------------------

CHECKERS = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_valid_for_their_shell(shell: str, tmp_path: Path) -> None:
    """The bash, zsh and fish scripts parse in their shell and know every command and flag."""
    script = completion_script(shell)
    for name in [*COMMANDS, "--concurrency", "--state-db", "--ingest-found-off"]:
        assert name in script
    assert "--run-id" not in script
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here; the script was generated")
    path = tmp_path / f"orchestrator.{shell}"
    path.write_text(script)
    checked = subprocess.run(
        [*CHECKERS[shell], str(path)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


BASH_COMPLETE = """
source {script}
complete_line() {{
  COMP_LINE="$1"; COMP_POINT=${{#COMP_LINE}}
  read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
  COMPREPLY=()
  _shtab_orchestrator orchestrator "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
  echo "${{COMPREPLY[*]}}"
}}
complete_line "orchestrator ap"
complete_line "orchestrator plan --con"
complete_line "orchestrator --state-db x.db sta"
complete_line "orchestrator plan fleet.yaml --format "
complete_line "orchestrator unlock -"
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_flags_and_choices(tmp_path: Path) -> None:
    """In bash, Tab completes a command, a flag, a command after a global option, a choice."""
    script = tmp_path / "orchestrator.bash"
    script.write_text(completion_script("bash"))
    driver = tmp_path / "driver.bash"
    driver.write_text(BASH_COMPLETE.format(script=script))
    result = subprocess.run(["bash", str(driver)], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "apply"
    assert set(lines[1].split()) == {"--concurrency", "--config"}
    assert lines[2] == "status"
    assert lines[3].split() == ["table", "json", "markdown", "html"]
    assert {"-y", "--yes", "--state-db"} <= set(lines[4].split())

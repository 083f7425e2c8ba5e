"""What each command loads at start-up (checked in a fresh process): light commands stay light.

Every process start counts (the test suite starts hundreds), so `--version` and `validate`
load only what they use; the modules named here are the expensive ones (docs/benchmarks.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_HEAVY = ("aiohttp", "structlog", "sqlite3", "asyncio", "jinja2", "cryptography", "stamina")
_OURS = ("orchestrator.cli.main", "orchestrator.engine", "orchestrator.journal")


def _loaded_after(code: str, watched: tuple[str, ...]) -> list[str]:
    """Run `code` in a fresh interpreter; which of `watched` it had imported by the end."""
    report = f"print(','.join(m for m in {watched!r} if m in sys.modules), file=sys.stderr)"
    probe = f"import sys\n{code}\n{report}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return [name for name in result.stderr.strip().split(",") if name]


def test_the_command_line_loads_the_http_client_only_for_commands_that_use_it() -> None:
    """Loading the commands (`orchestrator.cli.main`) does not import aiohttp."""
    loaded = _loaded_after("import orchestrator.cli.main", ("aiohttp", "orchestrator.appliance"))
    assert loaded == []


def test_version_loads_no_library_and_no_package_metadata() -> None:
    """`orchestrator --version` answers from a constant: no pydantic, no importlib.metadata."""
    code = (
        "sys.argv = ['orchestrator', '--version']\nfrom orchestrator.cli.entry import main\nmain()"
    )
    watched = ("pydantic", "yaml", "rich", "importlib.metadata", "orchestrator.cli.start", *_HEAVY)
    assert _loaded_after(code, watched) == []


def test_validate_loads_neither_the_client_nor_the_engine_nor_the_journal() -> None:
    """`validate` checks an inventory with pydantic and yaml only: no I/O stack, no run code.

    Nor rich: the help formatter is built with the parser but loads rich only to show help.
    """
    code = (
        "from orchestrator.cli.start import main\n"
        "assert main(['validate', 'inventories/example.yaml']) == 0"
    )
    assert _loaded_after(code, (*_HEAVY, *_OURS, "rich")) == []


def test_validate_still_says_what_the_inventory_holds() -> None:
    """The light path prints the same summary line as before."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", "inventories/example.yaml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0
    assert result.stdout == (
        "inventories/example.yaml: OK, 5 appliances (1 command, 1 discover, 2 explore, 1 trace)\n"
    )


def test_the_exit_skips_the_interpreters_last_search_for_cycles() -> None:
    """Every object is frozen once the other exit handlers have run (18 ms of `validate`)."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "sys.argv = ['orchestrator', 'validate', 'inventories/example.yaml']\n"
        "from orchestrator.cli.entry import main\n"
        "main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stderr.strip() == "frozen True"
    assert "OK, 5 appliances" in result.stdout

"""Commands that talk to no appliance do not load the HTTP client (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_loads_the_http_client_only_for_commands_that_use_it() -> None:
    """`validate`, `status`, `history` and `--version` start without importing aiohttp."""
    probe = (
        "import sys, orchestrator.cli.main; "
        "print(','.join(m for m in ('aiohttp', 'orchestrator.appliance') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""

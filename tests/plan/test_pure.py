"""The planner is pure: importing it loads no I/O library (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("aiohttp", "rich", "structlog", "sqlite3")


@pytest.mark.parametrize("module", ["orchestrator.plan", "orchestrator.core", "orchestrator"])
def test_importing_the_planner_loads_no_io_library(module: str) -> None:
    """`import orchestrator.plan` (and the shared types) pulls in none of the I/O libraries."""
    probe = (
        f"import sys, {module}; print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""

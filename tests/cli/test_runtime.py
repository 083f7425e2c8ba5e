"""The process tuned for a fleet: more open files than the default allows, rarer collections."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import lab
from simproc import FAST, Sim

from orchestrator.cli.runtime import GC_THRESHOLDS

if TYPE_CHECKING:
    from pathlib import Path

LIMIT = 64  # open files allowed to the orchestrator; the fleet has twice as many appliances


def wide_lab(count: int) -> dict[str, Any]:
    """The small lab plus `count` more Discover appliances."""
    scenario = lab(small=True)
    template = next(a for a in scenario["appliances"] if a["role"] == "discover")
    scenario["appliances"] += [
        template | {"name": f"edx{i}", "api_key": f"secret-key-edx{i}-0123456789"}
        for i in range(count)
    ]
    return scenario


def _limited(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def run_limited(*args: str, cwd: Path, soft: int, hard: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env={**os.environ, **FAST},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
        preexec_fn=lambda: _limited(soft, hard),
    )


@pytest.mark.slow
def test_plan_reads_more_appliances_than_it_may_open_files(tmp_path: Path) -> None:
    """Facts are gathered one connection per request in flight, not one per appliance."""
    fleet = Sim(tmp_path, wide_lab(2 * LIMIT))
    try:
        result = run_limited("plan", str(fleet.inventory), cwd=tmp_path, soft=LIMIT, hard=LIMIT)
    finally:
        fleet.stop()
    assert "Too many open files" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ready to apply" in result.stdout


@pytest.mark.slow
def test_apply_raises_a_low_soft_limit_for_a_large_fleet(tmp_path: Path) -> None:
    """A soft limit below the fleet's size is raised (within the hard limit) for the run."""
    fleet = Sim(tmp_path, wide_lab(2 * LIMIT))
    try:
        result = run_limited(
            "apply",
            str(fleet.inventory),
            "--yes",
            "--concurrency",
            "40",
            cwd=tmp_path,
            soft=LIMIT,
            hard=4096,
        )
    finally:
        fleet.stop()
    assert "Too many open files" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def limits_after_raising(wanted: int, *, soft: int, hard: int) -> tuple[int, int]:
    """(soft, hard) in a child process started with these limits, after raising towards `wanted`."""
    code = (
        "import resource; from orchestrator.cli.runtime import raise_open_file_limit; "
        f"raise_open_file_limit({wanted}); print(*resource.getrlimit(resource.RLIMIT_NOFILE))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        preexec_fn=lambda: _limited(soft, hard),
    )
    new_soft, new_hard = result.stdout.split()
    return int(new_soft), int(new_hard)


def test_the_soft_limit_is_raised_up_to_the_hard_limit_only() -> None:
    """Never above the hard limit, which is the administrator's."""
    assert limits_after_raising(1_000_000, soft=128, hard=2048) == (2048, 2048)
    assert limits_after_raising(1000, soft=128, hard=2048) == (1000, 2048)


def test_a_soft_limit_already_high_enough_is_left_alone() -> None:
    """Asking for less than the current soft limit changes nothing."""
    assert limits_after_raising(16, soft=256, hard=2048) == (256, 2048)


@pytest.mark.slow
def test_prepare_process_makes_collections_rarer() -> None:
    """Young-generation collections every 10,000 allocations instead of CPython's 700."""
    code = (
        "import gc; from orchestrator.cli.runtime import prepare_process; "
        "prepare_process(); print(*gc.get_threshold())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert tuple(int(n) for n in result.stdout.split()) == GC_THRESHOLDS

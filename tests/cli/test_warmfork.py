"""A command forked from the warm test worker behaves as the same command in a fresh interpreter."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import warmfork
from fleetrun import lab
from simproc import FAST, Sim

pytestmark = pytest.mark.slow

_TIMESTAMP = re.compile(r'"timestamp": "[^"]*"')


def _both(args: tuple[str, ...], cwd: Path) -> list[tuple[int, str, str]]:
    """The exit code, stdout and stderr (timestamps blanked) of `args`: forked, then exec'd."""
    env = {**os.environ, **FAST}
    forked = warmfork.run(args, cwd=cwd, env=env, timeout=60)
    fresh = subprocess.run(
        warmfork.argv(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [
        (result.returncode, result.stdout, _TIMESTAMP.sub("", result.stderr))
        for result in (forked, fresh)
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--help",), id="help"),
        pytest.param(("validate", "missing.yaml"), id="bad-inventory"),
        pytest.param(("apply", "--frobnicate"), id="bad-flag"),
        pytest.param(("status",), id="status-without-runs"),
        pytest.param(("plan", "fleet.yaml", "--concurrency", "0"), id="bad-setting"),
    ],
)
def test_a_forked_command_prints_and_exits_as_a_fresh_one(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Same exit code, same standard output, same standard error, forked or exec'd."""
    forked, fresh = _both(args, tmp_path)
    assert forked == fresh


def test_a_forked_command_holds_none_of_the_workers_descriptors(tmp_path: Path) -> None:
    """A pipe the worker holds open is not open in the forked command (EOF still reaches it)."""
    read_end, write_end = os.pipe()
    fleet = Sim(tmp_path, lab(small=True))
    try:
        pipe = f"pipe:[{os.fstat(write_end).st_ino}]"
        fds = Path(f"/proc/{fleet.proc.pid}/fd")
        held = {str(fd.readlink()) for fd in fds.iterdir()}
        assert pipe not in held
        assert len(held) < 20  # its own sockets and files, not the worker's
    finally:
        os.close(read_end)
        os.close(write_end)
        fleet.stop()


def test_sigkill_ends_a_forked_command_and_leaves_the_worker(tmp_path: Path) -> None:
    """SIGKILL ends a running forked command at once, as it would an exec'd one."""
    fleet = Sim(tmp_path, lab(small=True))
    assert fleet.proc.pid != os.getpid()
    fleet.proc.send_signal(signal.SIGKILL)
    fleet.proc.communicate(timeout=30)
    assert fleet.proc.returncode == -signal.SIGKILL

"""SIGTERM means what SIGINT means for the whole life of a command; neither gives a traceback.

Real processes: the command line as `python -m orchestrator`, the simulator in its own process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from fleetcheck import has, slow_lab, wait_for
from receivers import Quiet, webhook
from simproc import Sim, start_orchestrator

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow


def wait_until_loaded(pid: int, library: str, timeout: float = 30) -> None:
    """Block until process `pid` has mapped a shared library whose path contains `library`."""
    maps = Path(f"/proc/{pid}/maps")
    deadline = time.monotonic() + timeout
    while library not in maps.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{library} never loaded"
        time.sleep(0.001)


# Each library once, both signals twice: SIGTERM is raised as SIGINT (`cli.interrupts`).
@pytest.mark.parametrize(
    ("library", "sig"),
    [
        ("_pydantic_core", signal.SIGINT),
        ("_yaml", signal.SIGTERM),
        ("_multidict", signal.SIGINT),
        ("_http_parser", signal.SIGTERM),
    ],
    ids=["pydantic-sigint", "yaml-sigterm", "multidict-sigint", "http_parser-sigterm"],
)
def test_an_interrupt_while_the_program_loads_is_answered_not_a_traceback(
    sim: Sim, sig: signal.Signals, library: str
) -> None:
    """Ctrl-C or SIGTERM while the command line loads its libraries: one line, exit 3."""
    # loads aiohttp too; in a fresh interpreter, which has its libraries still to load
    proc = start_orchestrator("plan", str(sim.inventory), cwd=sim.dir, fresh=True)
    wait_until_loaded(proc.pid, library)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr
    if proc.returncode != 0:  # it may have finished before the signal came
        assert proc.returncode == 3, stderr
        assert "interrupted before anything was changed" in stderr


@pytest.fixture
def slow_to_plan(tmp_path: Path) -> Iterator[Sim]:
    """A fleet whose Discover answers its first request 429, retry in 30 s: planning waits."""
    scenario = slow_lab()
    for spec in scenario["appliances"]:
        if spec["name"] == "eda1":
            spec["faults"] = {"rate_limit": {"count": 1, "retry_after": 30}}
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


def test_sigterm_while_planning_is_an_interrupt_before_anything_changed(
    slow_to_plan: Sim,
) -> None:
    """SIGTERM during planning: the interrupt message and exit 3, as for Ctrl-C."""
    env = {"ORCHESTRATOR_RETRY_TIMEOUT": "60"}
    sim = slow_to_plan
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir, env=env)
    wait_for(sim, has("fault.injected", "eda1", fault="rate_limit"))
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 3, stderr
    assert "interrupted before anything was changed" in stderr
    assert not has("upload.started")(sim.events())


class _HangingReceiver(Quiet):
    arrived = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server calls it so
        _HangingReceiver.arrived.set()
        time.sleep(20)  # the webhook hangs: the run is over, its report not yet delivered
        self.send_response(204)
        self.end_headers()


def test_sigterm_while_the_webhook_is_sent_keeps_the_runs_exit_code(sim: Sim) -> None:
    """SIGTERM after the run, while the webhook is sent: the run's own exit code, one line."""
    _HangingReceiver.arrived.clear()
    with webhook(_HangingReceiver) as url:
        proc = start_orchestrator(
            "apply", str(sim.inventory), "--yes", "--notify-url", url, cwd=sim.dir
        )
        assert _HangingReceiver.arrived.wait(timeout=90)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    assert "interrupted after the run ended" in stderr
    assert "Traceback" not in stderr


def test_a_background_simulator_stops_on_sigterm(tmp_path: Path) -> None:
    """`orchestrator simulate ... &` from a script (SIGINT ignored there) stops on `kill`."""
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(slow_lab()))

    def as_a_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "simulate",
            "scenario.yaml",
            "--write-inventory",
            "fleet.yaml",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_a_background_job,  # noqa: PLW1509 - one signal call, then exec
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "fleet.yaml").exists():
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert "Traceback" not in stderr
    assert "simulator stopped" in stderr

"""Shared plumbing of the benchmarks: a simulator process, a measured orchestrator process.

The simulator (benchmarks/sim_server.py) and the orchestrator run as two processes, so the
CPU time and memory measured for the orchestrator are its own. Its resource usage comes from
`os.wait4`, which reports exactly that child (peak RSS, user + system CPU).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
OLD = "9.8.0.100"
TARGET = "9.9.1.100"
_START_TIMEOUT = 120.0  # seconds for the simulator to listen on every port


@dataclass
class Measured:
    """How a finished child process went."""

    returncode: int
    wall_seconds: float
    cpu_seconds: float  # user + system
    user_seconds: float
    max_rss_mib: float


def run_measured(
    argv: list[str], *, env: dict[str, str], cwd: Path, stdout: Path, stderr: Path
) -> Measured:
    """Run `argv` to completion and measure it with wait4 (its own rusage, no one else's)."""
    start = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        wall_seconds=time.monotonic() - start,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        user_seconds=usage.ru_utime,
        max_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
    )


@dataclass
class SimSummary:
    """What the simulator process saw."""

    events: list[dict[str, Any]]
    requests: dict[str, int]
    cpu_seconds: float
    max_rss_kib: int

    def times(self, kind: str) -> list[float]:
        """Monotonic times of every event of one kind."""
        return [e["t"] for e in self.events if e["kind"] == kind]


@dataclass
class Simulator:
    """benchmarks/sim_server.py in its own process; stop() returns its summary."""

    workdir: Path
    scenario: dict[str, Any]
    mode: str = "file"
    tls: bool = False  # HTTPS, the inventory's ca_bundle naming the fleet's CA
    inventory: Path = field(init=False)
    proc: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "scenario.yaml"
        path.write_text(yaml.safe_dump(self.scenario, sort_keys=False), encoding="utf-8")
        self.inventory = self.workdir / "fleet.yaml"
        ready = self.inventory.with_suffix(".ready")
        ready.unlink(missing_ok=True)
        self._summary = self.workdir / "sim-summary.json"
        self._log = (self.workdir / "sim.log").open("wb")
        argv = [sys.executable, str(HERE / "sim_server.py"), str(path)]
        argv += ["--inventory", str(self.inventory), "--summary", str(self._summary)]
        argv += ["--mode", self.mode, *(["--tls"] if self.tls else [])]
        self.proc = subprocess.Popen(argv, cwd=self.workdir, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + _START_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                log = (self.workdir / "sim.log").read_text(errors="replace")
                raise RuntimeError(f"the simulator did not start:\n{log}")
            time.sleep(0.05)

    def url(self, name: str) -> str:
        """The base URL of one appliance, from the written inventory."""
        data = yaml.safe_load(self.inventory.read_text(encoding="utf-8"))
        return next(str(a["url"]) for a in data["appliances"] if a["name"] == name)

    def key(self, name: str) -> str:
        """The API key of one appliance (the inventory keeps it in a file)."""
        return (self.workdir / "fleet-keys" / f"{name}.key").read_text().strip()

    def stop(self) -> SimSummary:
        """Stop the simulator and read what it saw."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self._log.close()
        data = json.loads(self._summary.read_text(encoding="utf-8"))
        return SimSummary(**data)


def orchestrator_env(settings: dict[str, float | int | str]) -> dict[str, str]:
    """The environment with ORCHESTRATOR_* settings (and nothing inherited that sets one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
    env |= {f"ORCHESTRATOR_{k.upper()}": str(v) for k, v in settings.items()}
    env["PYTHONUNBUFFERED"] = "0"
    return env


def orchestrator_argv(*args: str) -> list[str]:
    """`python -m orchestrator ARGS` with this interpreter."""
    return [sys.executable, "-m", "orchestrator", *args]


def spread(values: list[float]) -> dict[str, float]:
    """The median of several runs and their range (never the best run alone)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def emit(results: dict[str, Any], *, as_json: bool, table: list[tuple[str, str]]) -> None:
    """Print the results as JSON (machine) or as an aligned two-column table (people)."""
    if as_json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return
    width = max(len(label) for label, _ in table)
    for label, value in table:
        print(f"{label:<{width}}  {value}")


def in_workdir(
    workdir: Path | None, prefix: str, run: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """Run a benchmark in `workdir` (kept), or in a temporary directory removed afterwards."""
    if workdir is not None:
        return run(workdir)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        return run(Path(tmp))

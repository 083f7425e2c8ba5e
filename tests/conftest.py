"""Every test gets its own state home: the per-user state database never leaks between tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fleetcheck import slow_lab
from fleetrun import lab
from simproc import Sim

from orchestrator.journal.store import Journal

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start processes first: across workers, the suite's tail is then short tests."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_STATE_HOME in the test's folder (subprocesses inherit it)."""
    home = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


@pytest.fixture
def failing_sim(tmp_path: Path) -> Iterator[Sim]:
    """A small fleet whose Discover job fails."""
    fleet = Sim(tmp_path, lab({"eda1": {"job_result": "FAILED"}}, small=True))
    yield fleet
    fleet.stop()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """The small lab fleet, uploads slow enough to interrupt, in its own process."""
    fleet = Sim(tmp_path, slow_lab())
    yield fleet
    fleet.stop()


@pytest.fixture
def long_sim(tmp_path: Path) -> Iterator[Sim]:
    """The small lab fleet whose last appliance restarts slowly: a run that lasts a while."""
    scenario = slow_lab()
    for spec in scenario["appliances"]:
        if spec["name"] == "eta1":
            spec["faults"] = {"slow_restart": 60.0}  # down ~15 s
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


@pytest.fixture
def run_db(tmp_path: Path) -> Path:
    """A state database holding one run, `run-1`."""
    path = tmp_path / "state.db"
    with Journal.open(path) as journal:
        journal.start_run(
            plan_json="{}",
            inventory_source="fleet.yaml",
            inventory_sha256="0" * 64,
            settings_json="{}",
            run_id="run-1",
        )
    return path

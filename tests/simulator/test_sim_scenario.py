"""Scenario files: the shipped fleets load, and mistakes name the file and the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import Role
from orchestrator.simulator import Scenario, default_scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_lab_sim_is_the_documented_lab_fleet() -> None:
    """lab-sim.yaml has 1 Command, 3 Discover, a 3+3 Explore cluster and 2 Trace, all at 9.8."""
    scenario = load_scenario(ROOT / "inventories" / "lab-sim.yaml")
    roles = [spec.role for spec in scenario.appliances]
    assert roles.count(Role.COMMAND) == 1
    assert roles.count(Role.DISCOVER) == 3
    assert roles.count(Role.EXPLORE) == 6
    assert roles.count(Role.TRACE) == 2
    assert {spec.version for spec in scenario.appliances} == {"9.8.0.100"}
    assert scenario.target_version == "9.9.1.100"


def test_packaged_default_scenario_matches_the_inventories_copy() -> None:
    """The built-in scenario of `orchestrator simulate` equals inventories/lab-sim.yaml."""
    assert default_scenario() == load_scenario(ROOT / "inventories" / "lab-sim.yaml")


def test_fault_scenario_loads() -> None:
    """sim-faults.yaml is a valid scenario with a fault on every appliance."""
    scenario = load_scenario(ROOT / "inventories" / "sim-faults.yaml")
    assert all(spec.faults != type(spec.faults)() for spec in scenario.appliances)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(
            "appliances:\n  - {name: a, role: discover, version: 9.8.0.1}\n"
            "  - {name: b, role: discover, version: 9.8.0.1, faults: {job_result: BROKEN}}\n",
            "appliances[1].faults.job_result",
            id="bad-fault",
        ),
        pytest.param(
            "appliances:\n  - {name: a, role: explore, version: 9.8.0.1}\n",
            "appliances[0]: an explore appliance needs `cluster`",
            id="explore-without-cluster",
        ),
        pytest.param(
            "appliances:\n  - {name: a, role: discover, version: 9.8.0.1}\n"
            "  - {name: a, role: trace, version: 9.8.0.1}\n",
            "used twice",
            id="duplicate-name",
        ),
        pytest.param(
            "time_scale: 0\nappliances:\n  - {name: a, role: discover, version: 9.8.0.1}\n",
            "time_scale",
            id="zero-time-scale",
        ),
        pytest.param("appliances: [\n", "not valid YAML", id="bad-yaml"),
        pytest.param("- 1\n- 2\n", "must be a mapping", id="not-a-mapping"),
        pytest.param(
            "appliances:\n  - {name: a, role: discover, version: latest}\n",
            "dotted version",
            id="bad-version",
        ),
    ],
)
def test_scenario_errors_name_the_file_and_yaml_path(tmp_path: Path, text: str, words: str) -> None:
    """A bad scenario raises one ConfigError line naming the file and what is wrong where."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert words in message
    assert "\n" not in message


def test_missing_scenario_file_is_a_config_error(tmp_path: Path) -> None:
    """A scenario path that does not exist raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"nothing\.yaml"):
        load_scenario(tmp_path / "nothing.yaml")


def test_appliance_timing_overrides_the_defaults() -> None:
    """A timing field on an appliance overrides the scenario default for that appliance only."""
    scenario = Scenario.model_validate(
        {
            "defaults": {"job_duration": 600},
            "appliances": [
                {"name": "a", "role": "discover", "version": "9.8.0.1", "job_duration": 60},
                {"name": "b", "role": "discover", "version": "9.8.0.1"},
            ],
        }
    )
    assert [scenario.timing(s).job_duration for s in scenario.appliances] == [60, 600]

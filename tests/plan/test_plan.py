"""The pure planner: waves, skips, refusals, vendor rules, ingest brackets, estimates, window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from planbuild import IMAGE, NEW, NOW, OLD, box, exa, fleet, observe, plan

from orchestrator.core.models import (
    Appliance,
    CloudFirmware,
    Facts,
    FileFirmware,
    Firmware,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.plan import (
    EXPLORE_NEEDS_NODE,
    ROLE_UNKNOWN_OFFLINE,
    WAVE_ORDER,
    Action,
    Plan,
    WaveKind,
    bracket_waves,
    makespan,
    wave_of,
)


def wave_names(result: Plan) -> dict[WaveKind, list[str]]:
    return {wave.kind: [a.name for a in wave.appliances] for wave in result.waves}


def actions(result: Plan) -> dict[str, Action]:
    return {a.name: a.action for a in result.appliances()}


# --- waves -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param(
            ["eca1", "eda1", "eda2", "exa-m1", "exa-d1", "exa-d2", "eta1"],
            {
                WaveKind.COMMAND: ["eca1"],
                WaveKind.DISCOVER: ["eda1", "eda2"],
                WaveKind.EXPLORE_MANAGERS: ["exa-m1"],
                WaveKind.EXPLORE_DATA: ["exa-d1", "exa-d2"],
                WaveKind.TRACE: ["eta1"],
            },
            id="vendor-order-inventory",
        ),
        pytest.param(
            ["eta1", "exa-d2", "eda2", "exa-d1", "exa-m1", "eda1", "eca1"],
            {
                WaveKind.COMMAND: ["eca1"],
                WaveKind.DISCOVER: ["eda2", "eda1"],
                WaveKind.EXPLORE_MANAGERS: ["exa-m1"],
                WaveKind.EXPLORE_DATA: ["exa-d2", "exa-d1"],
                WaveKind.TRACE: ["eta1"],
            },
            id="shuffled-inventory-keeps-order-within-waves",
        ),
        pytest.param(
            ["eda2", "eda1"],
            {
                WaveKind.COMMAND: [],
                WaveKind.DISCOVER: ["eda2", "eda1"],
                WaveKind.EXPLORE_MANAGERS: [],
                WaveKind.EXPLORE_DATA: [],
                WaveKind.TRACE: [],
            },
            id="discover-only-still-five-waves",
        ),
    ],
)
def test_waves_follow_vendor_order(order: list[str], expected: dict[WaveKind, list[str]]) -> None:
    """Waves: Command, Discover, Explore managers, Explore data, Trace; inventory order within."""
    by_name = {a.name: a for a in fleet()}
    result = plan([by_name[name] for name in order])
    assert [wave.kind for wave in result.waves] == list(WAVE_ORDER)
    assert wave_names(result) == expected


@pytest.mark.parametrize(
    ("role", "cluster", "node", "expected"),
    [
        pytest.param(Role.COMMAND, None, None, WaveKind.COMMAND, id="command"),
        pytest.param(Role.DISCOVER, None, None, WaveKind.DISCOVER, id="discover"),
        pytest.param(
            Role.EXPLORE, "exa", NodeKind.MANAGER, WaveKind.EXPLORE_MANAGERS, id="manager"
        ),
        pytest.param(Role.EXPLORE, "exa", NodeKind.DATA, WaveKind.EXPLORE_DATA, id="data"),
        pytest.param(Role.TRACE, None, None, WaveKind.TRACE, id="trace"),
        pytest.param(Role.EXPLORE, None, NodeKind.DATA, None, id="explore-without-cluster"),
        pytest.param(Role.EXPLORE, "exa", None, None, id="explore-without-node"),
        pytest.param(None, None, None, None, id="unknown-role"),
    ],
)
def test_wave_of(
    role: Role | None, cluster: str | None, node: NodeKind | None, expected: WaveKind | None
) -> None:
    """Each role (and Explore node kind) maps to one wave; missing placement maps to none."""
    assert wave_of(role, cluster, node) == expected


# --- actions, skips and downgrades -----------------------------------------------------------


@pytest.mark.parametrize(
    ("firmware", "action", "target"),
    [
        pytest.param(
            FileFirmware(file=Path(IMAGE.path), version=NEW), Action.UPLOAD, NEW, id="file"
        ),
        pytest.param(UrlFirmware(url="https://r/eda.tar", version=NEW), Action.URL, NEW, id="url"),
        pytest.param(CloudFirmware(cloud_version=NEW), Action.CLOUD, NEW, id="cloud"),
        pytest.param(
            FileFirmware(file=Path(IMAGE.path)), Action.UPLOAD, None, id="file-no-version"
        ),
    ],
)
def test_action_follows_firmware_kind(
    firmware: Firmware, action: Action, target: str | None
) -> None:
    """A file image is uploaded, a URL downloaded by the appliance, a cloud version fetched."""
    line = plan([box("eda1", Role.DISCOVER, firmware=firmware)]).by_name("eda1")
    assert (line.action, line.target_version) == (action, target)
    assert (line.image is not None) == (action is Action.UPLOAD)


@pytest.mark.parametrize(
    ("current", "target", "allow", "action", "note"),
    [
        pytest.param(NEW, NEW, False, Action.SKIP, "already at 9.9.1.100", id="same-version"),
        pytest.param(
            "9.9.1.0", "9.9.1", False, Action.SKIP, "already at 9.9.1", id="trailing-zero"
        ),
        pytest.param("9.3.0.1319", "26.3.1.100", False, Action.URL, None, id="numeric-not-text"),
        pytest.param("9.9.1.100", "9.10.0.1", False, Action.URL, None, id="9.10-above-9.9"),
        pytest.param(
            "9.10.0.1",
            "9.9.1.100",
            False,
            Action.REFUSED,
            "downgrade from 9.10.0.1 to 9.9.1.100; pass --allow-downgrade",
            id="downgrade-refused",
        ),
        pytest.param(
            "26.3.1.100",
            "9.3.0.1319",
            True,
            Action.URL,
            "eda1 will be downgraded from 26.3.1.100 to 9.3.0.1319",
            id="downgrade-allowed-warns",
        ),
    ],
)
def test_version_decides_skip_upgrade_or_downgrade(
    current: str, target: str, allow: bool, action: Action, note: str | None
) -> None:
    """Versions compare numerically; equal skips, lower is refused unless downgrades are allowed."""
    appliances = [box("eda1", Role.DISCOVER, target=target)]
    result = plan(appliances, observe(appliances, current), allow_downgrade=allow)
    line = result.by_name("eda1")
    assert line.action is action
    if action is Action.URL:
        assert (note in result.warnings) if note else not result.warnings
    else:
        assert line.reason == note


def test_unknown_target_is_upgraded_with_a_warning() -> None:
    """An image with no version is still uploaded, with a warning of what is unchecked."""
    appliances = [box("eda1", Role.DISCOVER, firmware=FileFirmware(file=Path(IMAGE.path)))]
    result = plan(appliances)
    assert result.by_name("eda1").action is Action.UPLOAD
    assert result.warnings == (
        "target version of eda1 unknown: skip, downgrade and ordering checks not possible",
    )


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("appliance", "facts", "offline", "reason"),
    [
        pytest.param(
            box("eda1", Role.DISCOVER),
            Facts(name="eda1", error="connection refused"),
            False,
            "connection refused",
            id="unreachable",
        ),
        pytest.param(
            box("eda1", Role.DISCOVER),
            Facts(name="eda1", error="HTTP 401: bad API key"),
            False,
            "HTTP 401: bad API key",
            id="bad-key",
        ),
        pytest.param(
            box("eda1", Role.DISCOVER),
            Facts(name="eda1", version=OLD, role=Role.DISCOVER, running_job="j-7"),
            False,
            "job j-7 is running on it: wait for the job to end, then plan again "
            "(it may be another run of this tool, using another state database)",
            id="job-running",
        ),
        pytest.param(box("eda1"), None, True, ROLE_UNKNOWN_OFFLINE, id="vendor-csv-offline"),
        pytest.param(
            box("eda1"),
            Facts(name="eda1", version=OLD, platform="toaster"),
            False,
            "role unknown: platform toaster is not a known appliance",
            id="unknown-platform",
        ),
        pytest.param(box("exa1", Role.EXPLORE), None, False, EXPLORE_NEEDS_NODE, id="explore-bare"),
        pytest.param(
            box("eda1", Role.DISCOVER, firmware=FileFirmware(file=Path("images/gone.tar"))),
            None,
            False,
            "image images/gone.tar was not found at plan time",
            id="image-missing",
        ),
    ],
)
def test_appliance_refused(
    appliance: Appliance, facts: Facts | None, offline: bool, reason: str
) -> None:
    """An appliance the plan cannot act on is refused with a reason, and so is the plan."""
    observed = observe([appliance]) | ({appliance.name: facts} if facts else {})
    result = plan([appliance], observed, offline=offline)
    line = result.by_name(appliance.name)
    assert (line.action, line.reason) == (Action.REFUSED, reason)
    assert line.estimate.total == 0
    assert result.refused


def test_vendor_csv_role_comes_from_facts() -> None:
    """A vendor CSV row without a role is placed by the role the appliance reported."""
    appliances = [box("eda1"), box("eca1")]
    facts = observe(appliances) | {
        "eda1": Facts(name="eda1", version=OLD, role=Role.DISCOVER),
        "eca1": Facts(name="eca1", version=OLD, role=Role.COMMAND),
    }
    result = plan(appliances, facts)
    assert wave_names(result)[WaveKind.COMMAND] == ["eca1"]
    assert wave_names(result)[WaveKind.DISCOVER] == ["eda1"]
    assert not result.refused


def test_appliance_without_a_wave_is_unplaced_but_listed() -> None:
    """An appliance refused before its wave was known still appears in the plan, at the end."""
    result = plan([box("eda1", Role.DISCOVER), box("mystery")], offline=True)
    assert [a.name for a in result.unplaced] == ["mystery"]
    assert [a.name for a in result.appliances()] == ["eda1", "mystery"]
    assert result.refused


# --- the vendor's version rules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("appliances", "current", "refusal"),
    [
        pytest.param(
            [box("eca1", Role.COMMAND, target="9.8.0.100"), box("eda1", Role.DISCOVER)],
            "9.7.0.1",
            "Command eca1 would run 9.8.0.100 but discover eda1 would run 9.9.1.100: "
            "the vendor requires Command >= connected appliances",
            id="command-below-discover",
        ),
        pytest.param(
            [
                box("eca1", Role.COMMAND, target="9.9.1.100"),
                box("eta1", Role.TRACE, target="9.10.0.1"),
                box("eda1", Role.DISCOVER, target="9.10.0.1"),
            ],
            OLD,
            "Command eca1 would run 9.9.1.100 but trace eta1 would run 9.10.0.1 (and 1 more): "
            "the vendor requires Command >= connected appliances",
            id="command-below-several",
        ),
        pytest.param(
            [box("eda1", Role.DISCOVER, target="9.9.0.1"), exa("exa-m1", NodeKind.MANAGER)],
            OLD,
            "Discover eda1 would run 9.9.0.1 but explore exa-m1 would run 9.9.1.100: "
            "the vendor requires Discover >= connected Explore and Trace appliances",
            id="discover-below-explore",
        ),
        pytest.param(
            [box("eda1", Role.DISCOVER, target=OLD), box("eta1", Role.TRACE)],
            OLD,
            "Discover eda1 would run 9.8.0.100 but trace eta1 would run 9.9.1.100: "
            "the vendor requires Discover >= connected Explore and Trace appliances",
            id="skipped-discover-below-trace",
        ),
        pytest.param(
            [exa("exa-m1", NodeKind.MANAGER), exa("exa-d1", NodeKind.DATA, target="9.9.0.1")],
            OLD,
            "Explore cluster exa would end on mixed versions (exa-m1 9.9.1.100, exa-d1 9.9.0.1): "
            "every node of a cluster must run the same firmware",
            id="mixed-cluster",
        ),
    ],
)
def test_vendor_rule_violation_refuses_plan(
    appliances: list[Appliance], current: str, refusal: str
) -> None:
    """Targets that would leave Command or Discover below what they manage refuse the plan."""
    result = plan(appliances, observe(appliances, current))
    assert result.refusals == (refusal,)
    assert result.refused


@pytest.mark.parametrize(
    ("appliances", "facts"),
    [
        pytest.param(fleet(), observe(fleet()), id="whole-fleet-same-target"),
        pytest.param(fleet(), None, id="offline"),
        pytest.param(
            [box("eca1", Role.COMMAND, target="26.3.1.100"), box("eda1", Role.DISCOVER)],
            observe([box("eca1"), box("eda1")]),
            id="command-newer",
        ),
        pytest.param(
            [
                exa("exa-m1", NodeKind.MANAGER),
                exa("exb-d1", NodeKind.DATA, cluster="exb", target=OLD),
            ],
            observe([box("exa-m1"), box("exb-d1")]),
            id="clusters-may-differ",
        ),
    ],
)
def test_consistent_targets_pass_the_rules(
    appliances: list[Appliance], facts: dict[str, Facts] | None
) -> None:
    """A fleet whose final versions respect the vendor's order has no refusals."""
    result = plan(appliances, facts, offline=facts is None)
    assert result.refusals == ()
    assert not result.refused


def test_unknown_final_version_skips_rule_with_warning() -> None:
    """An appliance whose final version is unknown is left out of the rule check, with a warning."""
    appliances = [box("eca1", Role.COMMAND, target="9.0.0.1"), box("eda1", Role.DISCOVER)]
    facts = observe(appliances, "8.0.0.1") | {"eda1": Facts(name="eda1", error="timed out")}
    result = plan(appliances, facts)
    assert result.refusals == ()
    assert "version order not checked for eda1: final version unknown" in result.warnings


# --- ingest brackets -------------------------------------------------------------------------


def cluster_of_two(target_m: str = NEW, target_d: str = NEW) -> list[Appliance]:
    return [
        exa("exa-m1", NodeKind.MANAGER, target=target_m),
        exa("exa-d1", NodeKind.DATA, target=target_d),
    ]


@pytest.mark.parametrize(
    ("appliances", "facts", "expected"),
    [
        pytest.param(
            cluster_of_two(),
            observe(cluster_of_two(), ingest=True),
            [("exa", "exa-m1", ("exa-m1", "exa-d1"), True, True)],
            id="enabled-is-halted",
        ),
        pytest.param(
            cluster_of_two(),
            observe(cluster_of_two(), ingest=False),
            [("exa", "exa-m1", ("exa-m1", "exa-d1"), False, False)],
            id="already-off-is-left-off",
        ),
        pytest.param(
            cluster_of_two(),
            None,
            [("exa", "exa-m1", ("exa-m1", "exa-d1"), None, True)],
            id="offline-halts",
        ),
        pytest.param(
            cluster_of_two(),
            observe(cluster_of_two(), ingest=None),
            [("exa", "exa-m1", ("exa-m1", "exa-d1"), None, True)],
            id="unknown-state-halts",
        ),
        pytest.param(
            cluster_of_two(target_m=OLD),
            observe(cluster_of_two()),
            [("exa", "exa-d1", ("exa-m1", "exa-d1"), True, True)],
            id="via-first-actionable-node",
        ),
        pytest.param(
            cluster_of_two(OLD, OLD), observe(cluster_of_two()), [], id="all-skipped-no-bracket"
        ),
        pytest.param(
            [*cluster_of_two(), exa("exb-m1", NodeKind.MANAGER, cluster="exb")],
            observe(cluster_of_two()) | observe([exa("exb-m1", NodeKind.MANAGER)], ingest=False),
            [
                ("exa", "exa-m1", ("exa-m1", "exa-d1"), True, True),
                ("exb", "exb-m1", ("exb-m1",), False, False),
            ],
            id="one-bracket-per-cluster",
        ),
    ],
)
def test_ingest_brackets(
    appliances: list[Appliance],
    facts: dict[str, Facts] | None,
    expected: list[tuple[str, str, tuple[str, ...], bool | None, bool]],
) -> None:
    """Each Explore cluster with work gets a bracket; ingest already off is left off."""
    result = plan(appliances, facts, offline=facts is None)
    got = [(b.cluster, b.via, b.members, b.was_enabled, b.halt) for b in result.ingest]
    assert got == expected


@pytest.mark.parametrize(
    ("appliances", "span"),
    [
        pytest.param(
            cluster_of_two(), (WaveKind.EXPLORE_MANAGERS, WaveKind.EXPLORE_DATA), id="both"
        ),
        pytest.param(cluster_of_two(target_m=OLD), (WaveKind.EXPLORE_DATA,) * 2, id="data-only"),
        pytest.param(
            cluster_of_two(target_d=OLD), (WaveKind.EXPLORE_MANAGERS,) * 2, id="managers-only"
        ),
    ],
)
def test_bracket_spans_the_waves_with_work(
    appliances: list[Appliance], span: tuple[WaveKind, WaveKind]
) -> None:
    """Halt precedes the first wave upgrading a node of the cluster; restore follows the last."""
    result = plan(appliances)
    assert bracket_waves(result, result.ingest[0]) == span


# --- estimates and the window ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("firmware", "current", "expected"),
    [
        pytest.param(
            FileFirmware(file=Path(IMAGE.path), version=NEW),
            OLD,
            {"upload": 30.0, "download": 0.0, "upgrade": 900.0, "reboot": 300.0},
            id="upload-size-over-throughput",
        ),
        pytest.param(
            UrlFirmware(url="https://r/x.tar", version=NEW),
            OLD,
            {"upload": 0.0, "download": 300.0, "upgrade": 900.0, "reboot": 300.0},
            id="url-download-duration",
        ),
        pytest.param(
            CloudFirmware(cloud_version=NEW),
            OLD,
            {"upload": 0.0, "download": 300.0, "upgrade": 900.0, "reboot": 300.0},
            id="cloud-download-duration",
        ),
        pytest.param(
            CloudFirmware(cloud_version=NEW),
            NEW,
            {"upload": 0.0, "download": 0.0, "upgrade": 0.0, "reboot": 0.0},
            id="skip-costs-nothing",
        ),
    ],
)
def test_appliance_estimate(firmware: Firmware, current: str, expected: dict[str, float]) -> None:
    """Each step's estimate comes from the image size, the throughput and configured durations."""
    appliances = [box("eda1", Role.DISCOVER, firmware=firmware)]
    result = plan(appliances, observe(appliances, current), upload_throughput=20e6)
    assert result.by_name("eda1").estimate.model_dump() == expected


@pytest.mark.parametrize(
    ("concurrency", "wave_estimate"),
    [
        pytest.param(1, 4500.0, id="one-at-a-time"),
        pytest.param(2, 3000.0, id="two-workers"),
        pytest.param(3, 1500.0, id="all-at-once"),
        pytest.param(50, 1500.0, id="more-workers-than-appliances"),
    ],
)
def test_wave_estimate_is_makespan(concurrency: int, wave_estimate: float) -> None:
    """A wave's estimate is the makespan of its upgrades on `concurrency` workers."""
    appliances = [box(f"eda{i}", Role.DISCOVER) for i in range(3)]
    appliances.append(box("eda-done", Role.DISCOVER, target=OLD))  # skipped: costs nothing
    result = plan(appliances, concurrency=concurrency)
    discover = result.waves[1]
    assert discover.estimate == wave_estimate
    assert result.estimate == wave_estimate


@pytest.mark.parametrize(
    ("durations", "workers", "expected"),
    [
        pytest.param([], 4, 0.0, id="empty"),
        pytest.param([5.0, 1.0, 1.0, 1.0], 2, 5.0, id="longest-first"),
        pytest.param([3.0, 3.0, 2.0, 2.0, 2.0], 2, 7.0, id="list-schedule-not-optimal"),
    ],
)
def test_makespan(durations: list[float], workers: int, expected: float) -> None:
    """Longest-first list scheduling gives the makespan used for wave estimates."""
    assert makespan(durations, workers) == expected


def test_plan_estimate_is_sum_of_waves() -> None:
    """Waves run one after another, so the plan's estimate is the sum of theirs."""
    result = plan(fleet(), concurrency=2, schedule="waves")
    assert [w.estimate for w in result.waves] == [1500.0, 1500.0, 1500.0, 1500.0, 1500.0]
    assert result.estimate == 7500.0


@pytest.mark.parametrize(
    ("minutes", "late"),
    [
        pytest.param(None, set(), id="no-window"),
        pytest.param(600, set(), id="window-long-enough"),
        pytest.param(
            60, {"eda2", "eda3", "exa-m1", "exa-d1", "exa-d2", "eta1"}, id="cut-in-discover"
        ),
        pytest.param(
            10,
            {"eca1", "eda1", "eda2", "eda3", "exa-m1", "exa-d1", "exa-d2", "eta1"},
            id="nothing-fits",
        ),
    ],
)
def test_window_marks_what_would_not_finish(minutes: int | None, late: set[str]) -> None:
    """Appliances that would end after the window, and everything in later waves, do not fit."""
    appliances = [*fleet(), box("eda3", Role.DISCOVER)]
    window = None if minutes is None else NOW + dt.timedelta(minutes=minutes)
    result = plan(appliances, concurrency=1, window_end=window)
    assert {a.name for a in result.appliances() if not a.fits_window} == late
    deferral = [w for w in result.warnings if "deferred" in w]
    if late:
        assert window is not None
        ends = window.isoformat(timespec="minutes")
        count = f"{len(late)} of 8 appliances to upgrade"
        assert deferral == [
            f"{count} would not finish before the window ends at {ends} and will be deferred"
        ]
    else:
        assert deferral == []


def test_window_packs_shorter_upgrades_after_a_deferral() -> None:
    """Within a wave, a long upgrade that would overrun does not hold back a short one that fits."""
    appliances = [
        box("eda-big", Role.DISCOVER, firmware=FileFirmware(file=Path(IMAGE.path), version=NEW)),
        box("eda-small", Role.DISCOVER),
    ]
    window = NOW + dt.timedelta(seconds=1510)
    result = plan(appliances, concurrency=1, window_end=window, upload_throughput=1e6)
    assert {a.name: a.fits_window for a in result.appliances()} == {
        "eda-big": False,
        "eda-small": True,
    }


# --- the plan as a whole ---------------------------------------------------------------------


def test_plan_records_its_inputs() -> None:
    """The plan records when, from what and with which settings it was made."""
    window = NOW + dt.timedelta(hours=4)
    result = plan(fleet(), offline=True, concurrency=7, allow_downgrade=True, window_end=window)
    assert (result.created_at, result.inventory_source, result.inventory_sha256) == (
        NOW,
        "fleet.yaml",
        "0" * 64,
    )
    assert (result.offline, result.concurrency, result.allow_downgrade, result.window_end) == (
        True,
        7,
        True,
        window,
    )
    assert (
        result.warnings[0] == "planned offline: current versions and ingest state were not observed"
    )


def test_offline_plan_upgrades_everything_with_a_target() -> None:
    """Offline, current versions are unknown, so nothing is skipped or refused as a downgrade."""
    result = plan(fleet(), offline=True)
    assert set(actions(result).values()) == {Action.URL}
    assert all(a.current_version is None for a in result.appliances())


def test_missing_facts_refuse_the_appliance() -> None:
    """Online, an appliance the caller gathered no facts for is refused rather than guessed."""
    appliances = [box("eda1", Role.DISCOVER), box("eda2", Role.DISCOVER)]
    result = plan(appliances, observe(appliances[:1]))
    assert result.by_name("eda2").reason == "no facts were gathered at plan time"

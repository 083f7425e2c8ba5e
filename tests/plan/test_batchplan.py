"""Batches within each stage: sizes, how the planner cuts stages, estimates and the window."""

from __future__ import annotations

import datetime as dt

import pytest
from planbuild import NOW, OLD, box, plan
from pydantic import ValidationError

from orchestrator.core.batchsizes import BatchSizes
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, Role
from orchestrator.plan import Plan, WaveKind
from orchestrator.plan.file import plan_differences
from orchestrator.plan.schedule import batch_schedule


def discover(count: int) -> list[Appliance]:
    """`count` Discover appliances, eda1 … edaN, to upgrade."""
    return [box(f"eda{i}", Role.DISCOVER) for i in range(1, count + 1)]


def batches_of(result: Plan, kind: WaveKind = WaveKind.DISCOVER) -> list[list[str]]:
    wave = next(w for w in result.waves if w.kind is kind)
    return [list(batch) for batch in wave.batch_names()]


@pytest.mark.parametrize(
    ("text", "count", "sizes"),
    [
        pytest.param("1,5,25%", 40, [1, 5, 10, 10, 10, 4], id="canary-then-quarters"),
        pytest.param("1,5,25%", 3, [1, 2], id="fewer-than-the-sizes"),
        pytest.param("2", 5, [2, 2, 1], id="last-size-repeats"),
        pytest.param("10%", 5, [1, 1, 1, 1, 1], id="share-rounds-down-at-least-one"),
        pytest.param("100%", 7, [7], id="whole-stage"),
        pytest.param(" 1 , 50% ", 10, [1, 5, 4], id="spaces-allowed"),
        pytest.param("3", 0, [], id="empty-stage"),
    ],
)
def test_batch_sizes_split_a_stage(text: str, count: int, sizes: list[int]) -> None:
    """Sizes apply in order, the last repeating; a share is of the stage, rounded down, ≥ 1."""
    assert BatchSizes.parse(text).split(count) == sizes
    assert str(BatchSizes.parse(text)) == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "an empty size is not a count or a percentage", id="empty"),
        pytest.param("1,,5", "an empty size is not", id="empty-part"),
        pytest.param("0,5", "'0': a batch holds 1 or more appliances", id="zero"),
        pytest.param("1,150%", "'150%': a batch holds 1 or more appliances, at most 100%", id="pc"),
        pytest.param("one", "'one' is not a count or a percentage", id="word"),
        pytest.param("1.5", "'1.5' is not a count", id="fraction"),
    ],
)
def test_bad_batch_sizes_say_what_to_write(text: str, message: str) -> None:
    """A size that is not a whole count or a share is refused with what to write instead."""
    with pytest.raises(ValueError, match=r"write sizes such as 1,5,25%|at most 100%") as caught:
        BatchSizes.parse(text)
    assert message in str(caught.value)


def test_batches_setting_parses_text() -> None:
    """The setting takes the flag's text (or a number from a YAML file) and refuses bad text."""
    assert str(Settings.model_validate({"batches": "1,5,25%"}).batches) == "1,5,25%"
    assert str(Settings.model_validate({"batches": 3}).batches) == "3"
    with pytest.raises(ValidationError):
        Settings.model_validate({"batches": "1,x"})


def test_planner_cuts_each_stage_in_inventory_order() -> None:
    """Each stage's appliances to upgrade fall into batches in inventory order; skips are out."""
    appliances = [
        *discover(4),
        box("eda-done", Role.DISCOVER, target=OLD),
        box("eca1", Role.COMMAND),
    ]
    result = plan(appliances, batches="1,2")
    assert batches_of(result) == [["eda1"], ["eda2", "eda3"], ["eda4"]]
    assert batches_of(result, WaveKind.COMMAND) == [["eca1"]]
    assert result.batch_sizes == "1,2"


def test_without_batches_a_stage_is_one_batch() -> None:
    """No --batches: the plan records none and each stage runs as one batch, as before."""
    result = plan(discover(3))
    assert result.batch_sizes is None
    assert all(w.batches == () for w in result.waves)
    assert batches_of(result) == [["eda1", "eda2", "eda3"]]


def test_estimate_adds_the_batches_one_after_another() -> None:
    """A batch starts when the one before ends, so a stage's estimate is the sum of its batches."""
    whole = plan(discover(4), concurrency=4)
    canary = plan(discover(4), concurrency=4, batches="1")
    assert whole.waves[1].estimate == 1500.0
    assert canary.waves[1].estimate == 4 * 1500.0
    assert canary.estimate == 4 * 1500.0
    split = plan(discover(5), concurrency=4, batches="1,4")
    assert split.waves[1].estimate == 2 * 1500.0


def test_window_defers_the_batches_that_would_not_finish() -> None:
    """With batches, the window fitting follows the same schedule: later batches are deferred."""
    window = NOW + dt.timedelta(seconds=1500 * 2 + 10)
    result = plan(discover(6), concurrency=4, batches="1,2", window_end=window)
    fits = {a.name: a.fits_window for a in result.appliances()}
    assert fits == {
        "eda1": True,
        "eda2": True,
        "eda3": True,
        "eda4": False,
        "eda5": False,
        "eda6": False,
    }


def test_batch_schedule_starts_each_batch_after_the_last() -> None:
    """The scheduler places batch two's jobs after batch one's makespan."""
    schedule = batch_schedule([[("a", 10.0)], [("b", 5.0), ("c", 3.0)]], 2)
    assert dict(schedule.starts) == {"a": 0.0, "b": 10.0, "c": 10.0}
    assert schedule.makespan == 15.0


def test_a_plan_file_with_broken_batches_is_refused() -> None:
    """A plan whose batches leave out or repeat an appliance is not a plan (it could skip one)."""
    good = plan(discover(3), batches="1")
    data = good.model_dump(mode="json")
    data["waves"][1]["batches"] = [["eda1"], ["eda1", "eda2"]]
    with pytest.raises(ValidationError, match="do not hold each appliance to upgrade once"):
        Plan.model_validate(data)
    data["waves"][1]["batches"] = [["eda1"], [], ["eda2", "eda3"]]
    with pytest.raises(ValidationError, match="has an empty batch"):
        Plan.model_validate(data)


def test_saved_batches_must_match_the_rebuilt_plan() -> None:
    """Batches edited in the file, or other sizes given now, are differences that refuse it."""
    saved = plan(discover(3), batches="1")
    data = saved.model_dump(mode="json")
    data["waves"][1]["batches"] = [["eda2"], ["eda1"], ["eda3"]]
    edited = Plan.model_validate(data)
    assert plan_differences(edited, saved) == ["its batches of wave discover differ"]
    assert plan_differences(saved, plan(discover(3), batches="2")) == [
        "its batch sizes are 1 in the file, 2 now"
    ]
    assert plan_differences(saved, plan(discover(3), batches="1")) == []

"""The job polling policy (steps.job_polls) and its prediction in benchmarks/requests.py."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator.core.config import Settings
from orchestrator.core.models import Role, UrlFirmware
from orchestrator.engine import steps
from orchestrator.plan import Action, Estimate, PlannedAppliance, WaveKind

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import requests as request_economy  # benchmarks/requests.py


def _sleeps(settings: Settings, expected: float, count: int) -> list[float]:
    async def collect() -> list[float]:
        found: list[float] = []
        polls = steps.job_polls(settings, expected)
        async for interval in polls:
            found.append(interval)
            if len(found) == count:
                break
        return found

    return asyncio.run(collect())


@pytest.fixture
def instant_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """asyncio.sleep that advances a fake monotonic clock instead of waiting."""
    clock = [1000.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    monkeypatch.setattr("orchestrator.engine.steps.asyncio", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(
        "orchestrator.engine.steps.time", SimpleNamespace(monotonic=lambda: clock[0])
    )
    return clock


@pytest.mark.usefixtures("instant_sleep")
def test_polls_once_early_then_halves_the_time_left_until_the_estimate_then_backs_off() -> None:
    """Waits of half the time left (at least poll_interval_max), one poll at the estimate."""
    settings = Settings(poll_interval=5, poll_interval_max=60)
    sleeps = _sleeps(settings, 200.0, 8)
    assert sleeps == [5, 97.5, 60, 37.5, 5, 7.5, 11.25, 16.875]
    assert sum(sleeps[:4]) == 200.0  # one poll exactly at the estimate


@pytest.mark.usefixtures("instant_sleep")
def test_a_long_job_is_polled_a_few_times_before_its_estimate() -> None:
    """A 20-minute job: 7 polls up to its estimate (21 at one per poll_interval_max)."""
    settings = Settings(poll_interval=5, poll_interval_max=60)
    sleeps = _sleeps(settings, 1200.0, 7)
    assert sum(sleeps) == 1200.0
    assert len(sleeps) == 7


@pytest.mark.usefixtures("instant_sleep")
def test_a_job_ending_early_is_seen_by_its_estimate_and_within_half_the_time_left() -> None:
    """The wait after a poll at t is never more than half of `estimate - t`, nor past it."""
    settings = Settings(poll_interval=5, poll_interval_max=60)
    polled = 0.0
    for sleep in _sleeps(settings, 3600.0, 12):
        left = 3600.0 - polled
        assert sleep <= max(left / 2, settings.poll_interval_max)
        assert sleep <= left or polled >= 3600.0
        polled += sleep


@pytest.mark.usefixtures("instant_sleep")
def test_an_estimate_longer_than_the_deadline_still_looks_before_the_deadline() -> None:
    """Estimate 20 minutes, deadline 20 s: polled as if estimated 10 s, then backing off."""
    settings = Settings(poll_interval=0.5, poll_interval_max=2, job_deadline=20)
    sleeps = _sleeps(settings, 1200.0, 8)
    assert max(sleeps) <= 4.75
    assert sum(sleeps) < 20  # eight looks at the job before its deadline


@pytest.mark.usefixtures("instant_sleep")
def test_a_job_past_a_short_estimate_is_looked_at_every_tenth_of_it() -> None:
    """Estimate 7.5 s with polls of 0.25 s to 3 s: past it, a look every 0.75 s at most.

    So a job twice as long as its estimate is seen within 5% of its length, not 3 s late.
    """
    settings = Settings(poll_interval=0.25, poll_interval_max=3)
    sleeps = _sleeps(settings, 7.5, 12)
    assert sum(sleeps[:4]) == 7.5  # the poll at the estimate
    assert sleeps[4:] == [0.25, 0.375, 0.5625, 0.75, 0.75, 0.75, 0.75, 0.75]


@pytest.mark.usefixtures("instant_sleep")
def test_no_estimate_is_plain_backoff() -> None:
    settings = Settings(poll_interval=5, poll_interval_max=60)
    assert _sleeps(settings, 0.0, 4) == [5, 5, 7.5, 11.25]


def test_request_economy_prediction_is_bounded() -> None:
    twenty = request_economy.predict(900.0, 300.0)["counted"]
    ninety = request_economy.predict(3600.0, 1800.0)["counted"]
    assert twenty <= 26  # no more than the plain backoff it replaced
    assert twenty <= request_economy.FIXED_REQUESTS + 3  # a right estimate: 3 polls counted
    assert ninety <= 5400 / 60 + 10  # past the estimate: about one per poll_interval_max


def _planned(estimate: Estimate) -> PlannedAppliance:
    return PlannedAppliance(
        name="eda1",
        url="https://eda1.example.net",
        role=Role.DISCOVER,
        wave=WaveKind.DISCOVER,
        current_version="9.8.0.100",
        target_version="9.9.1.100",
        action=Action.URL,
        firmware=UrlFirmware(url="https://repo.example.net/eda.tar", version="9.9.1.100"),
        estimate=estimate,
    )


def test_a_job_is_expected_to_take_its_planned_download_upgrade_and_restart() -> None:
    """URL and cloud jobs download first: the plan's estimate of that counts; the upload not."""
    planned = _planned(Estimate(upload=50, download=120, upgrade=600, reboot=300))
    assert steps.job_estimate(planned) == 1020


def test_a_reattached_job_is_expected_for_what_is_left_of_its_estimate() -> None:
    """After a crash, the time since the job started is taken off, never below zero."""
    planned = _planned(Estimate(download=120, upgrade=600, reboot=300))
    assert steps.job_estimate(planned, elapsed=700) == 320
    assert steps.job_estimate(planned, elapsed=5000) == 0

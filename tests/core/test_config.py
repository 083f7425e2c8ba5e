"""Settings are resolved once: CLI flag > ORCHESTRATOR_* environment > file > default."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from orchestrator.core.config import FailureBudget, Settings, parse_window_end, resolve_settings
from orchestrator.core.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from _pytest.mark import ParameterSet


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    """Each source overrides the ones below it, setting by setting."""
    file = tmp_path / "settings.yaml"
    file.write_text("concurrency: 2\npoll-interval: 7\nreboot_deadline: 99\n")
    env = {"ORCHESTRATOR_CONCURRENCY": "3", "ORCHESTRATOR_POLL_INTERVAL": "8", "HOME": "/x"}
    settings = resolve_settings({"concurrency": 4, "state_db": None}, env, file)
    assert settings.concurrency == 4
    assert settings.poll_interval == 8.0
    assert settings.reboot_deadline == 99.0
    assert settings.job_deadline == 3600.0


@pytest.mark.parametrize(
    ("cli", "needle"),
    [
        pytest.param({"concurrency": 0}, "--concurrency", id="zero-concurrency"),
        pytest.param({"max_failures": "lots"}, "--max-failures", id="bad-budget"),
        pytest.param({"poll_interval": -1}, "--poll-interval", id="negative-interval"),
    ],
)
def test_bad_values_name_the_flag_and_the_variable(cli: dict[str, object], needle: str) -> None:
    """A bad value is refused naming the flag and the environment variable to fix."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings(cli, {})
    assert needle in str(caught.value)
    assert "ORCHESTRATOR_" in str(caught.value)


def test_unreadable_or_unknown_settings_file_is_a_config_error(tmp_path: Path) -> None:
    """A settings file that is not a mapping, or names unknown settings, is refused."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_settings({}, {}, bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("concurrencyy: 3\n")
    with pytest.raises(ConfigError, match="concurrencyy"):
        resolve_settings({}, {}, typo)


@pytest.mark.parametrize(
    ("text", "failures", "total", "exceeded"),
    [
        pytest.param("2", 2, 10, False, id="count-at-limit"),
        pytest.param("2", 3, 10, True, id="count-over"),
        pytest.param("10%", 1, 10, False, id="percent-at-limit"),
        pytest.param("10%", 2, 10, True, id="percent-over"),
        pytest.param("0", 1, 10, True, id="zero-tolerance"),
    ],
)
def test_failure_budget(text: str, failures: int, total: int, exceeded: bool) -> None:
    """--max-failures N or P% is exceeded only past the limit."""
    assert FailureBudget.parse(text).exceeded(failures, total) is exceeded


def test_window_end_hhmm_is_the_next_such_local_time() -> None:
    """HH:MM means today at that time if still ahead, else tomorrow."""
    now = dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)
    end = parse_window_end("05:30", now)
    assert end > now
    assert end - now <= dt.timedelta(days=1)
    assert (end.astimezone().hour, end.astimezone().minute) == (5, 30)


@pytest.mark.parametrize("text", ["25:00", "tomorrow", "2026-13-40T00:00"])
def test_window_end_rejects_nonsense(text: str) -> None:
    """An unparseable window end is a ConfigError that shows the accepted forms."""
    with pytest.raises(ConfigError, match="--window-end"):
        parse_window_end(text, dt.datetime.now(dt.UTC))


def test_window_end_from_the_environment_reads_like_the_flag() -> None:
    """ORCHESTRATOR_WINDOW_END takes HH:MM as --window-end does."""
    settings = resolve_settings({}, {"ORCHESTRATOR_WINDOW_END": "05:30"})
    assert settings.window_end is not None
    assert settings.window_end > dt.datetime.now(dt.UTC)
    assert (settings.window_end.astimezone().hour, settings.window_end.astimezone().minute) == (
        5,
        30,
    )


def test_an_unquoted_hhmm_in_a_settings_file_is_a_time_of_day(tmp_path: Path) -> None:
    """YAML reads `window_end: 23:15` as the number 1395; it still means 23:15."""
    config = tmp_path / "settings.yaml"
    config.write_text("window_end: 23:15\n")
    end = resolve_settings({}, {}, config).window_end
    assert end is not None
    assert (end.astimezone().hour, end.astimezone().minute) == (23, 15)
    assert end > dt.datetime.now(dt.UTC)


def test_a_window_end_without_a_zone_is_local_time() -> None:
    """A saved or configured time without a zone compares with aware times (no TypeError)."""
    settings = Settings.model_validate({"window_end": "2026-11-24T05:30"})
    assert settings.window_end is not None
    assert settings.window_end.tzinfo is not None
    assert settings.window_end == dt.datetime(2026, 11, 24, 5, 30).astimezone()


def test_an_unknown_setting_in_a_file_names_the_file_and_the_likely_one(tmp_path: Path) -> None:
    """A misspelt key in --config names the file and suggests the setting meant."""
    config = tmp_path / "settings.yaml"
    config.write_text("concurrncy: 8\n")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {}, config)
    assert str(caught.value) == f"{config}: unknown setting concurrncy; did you mean concurrency?"


def test_a_missing_settings_file_says_so(tmp_path: Path) -> None:
    """A --config path that does not exist gets the system's reason, not an exception name."""
    with pytest.raises(ConfigError, match=r"nocfg\.yaml: cannot read settings: No such file"):
        resolve_settings({}, {}, tmp_path / "nocfg.yaml")


def test_a_failure_share_over_100_percent_is_refused() -> None:
    """--max-failures 150% makes no sense: refused, naming the flag."""
    with pytest.raises(ConfigError, match=r"--max-failures .*'150%': .* at most 100%"):
        resolve_settings({"max_failures": "150%"}, {})


def test_a_settings_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    """A --config file in another encoding is one ConfigError naming the file and the byte."""
    config = tmp_path / "settings.yaml"
    config.write_bytes(b"# r\xe9glages\nconcurrency: 2\n")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {}, config)
    assert str(caught.value) == f"{config}: not UTF-8 text (byte 3); save the file as UTF-8"


def test_a_deeply_nested_settings_file_is_one_error(tmp_path: Path) -> None:
    """A settings file nested thousands deep is refused in one line, not a RecursionError."""
    config = tmp_path / "settings.yaml"
    config.write_text("concurrency: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(ConfigError, match=r"settings\.yaml: .*nest"):
        resolve_settings({}, {}, config)


# Every numeric setting: its lowest and highest accepted values.
BOUNDS = {
    "concurrency": (1, 1000),
    "connect_timeout": (0.1, 3600),
    "read_timeout": (0.1, 3600),
    "requests_per_second": (0.1, 10_000),
    "retry_attempts": (1, 100),
    "retry_timeout": (0.1, 86_400),
    "poll_interval": (0.01, 3600),
    "poll_interval_max": (0.01, 3600),
    "job_deadline": (0.1, 604_800),
    "reboot_deadline": (0.1, 604_800),
    "postcheck_grace": (0, 86_400),
    "upload_throughput": (1e3, 1e11),
    "download_duration": (0, 604_800),
    "upgrade_duration": (0, 604_800),
    "reboot_duration": (0, 604_800),
}


def test_every_numeric_setting_is_bounded() -> None:
    """No numeric setting is left without a range (a new one must be added to BOUNDS)."""
    numeric = {
        name for name, field in Settings.model_fields.items() if field.annotation in {int, float}
    }
    assert numeric == set(BOUNDS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_the_range_of_each_numeric_setting_is_inclusive(name: str) -> None:
    """The documented lowest and highest values are accepted."""
    low, high = BOUNDS[name]
    assert getattr(resolve_settings({name: low}, {}), name) == low
    assert getattr(resolve_settings({name: high}, {}), name) == high


def _out_of_range() -> list[ParameterSet]:
    """(setting, value) pairs every source must refuse."""
    cases = []
    for name, (low, _) in sorted(BOUNDS.items()):
        values = ["inf", "-inf", "nan", "1e300", "-1"]
        if low > 0:  # a duration may be 0, so 1e-300 is a (silly) valid one
            values += ["1e-300", "5e-324"]
        cases += [pytest.param(name, value, id=f"{name}={value}") for value in values]
    return cases


@pytest.mark.parametrize(("name", "value"), _out_of_range())
def test_non_finite_or_extreme_numbers_are_refused_from_the_environment(
    name: str, value: str
) -> None:
    """ORCHESTRATOR_X=inf, nan or an absurd magnitude is one ConfigError naming the setting."""
    variable = f"ORCHESTRATOR_{name.upper()}"
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {variable: value})
    message = str(caught.value)
    assert message.startswith(f"--{name.replace('_', '-')} (or {variable}): ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("line", "name"),
    [
        pytest.param("upgrade_duration: .inf", "upgrade_duration", id="yaml-inf"),
        pytest.param("connect_timeout: .nan", "connect_timeout", id="yaml-nan"),
        pytest.param("requests_per_second: 1e-300", "requests_per_second", id="rps-tiny"),
        pytest.param("upload_throughput: 5e-324", "upload_throughput", id="throughput-tiny"),
        pytest.param("concurrency: .inf", "concurrency", id="concurrency-inf"),
    ],
)
def test_non_finite_or_extreme_numbers_are_refused_from_a_file(
    tmp_path: Path, line: str, name: str
) -> None:
    """The same values in --config are refused naming the file and its key."""
    config = tmp_path / "settings.yaml"
    config.write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({}, {}, config)
    assert f"or {name} in {config})" in str(caught.value)


def test_a_too_small_request_rate_names_the_limit() -> None:
    """The refusal says what the range is, so the fix is obvious."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"requests_per_second": 0.01}, {})
    assert "greater than or equal to 0.1" in str(caught.value)

"""Small runs of every benchmark, so they keep working: they finish and report numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def bench(script: str, *args: str, cwd: Path) -> dict[str, Any]:
    """Run `python benchmarks/SCRIPT ARGS --json` and return what it printed."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def test_overhead_benchmark_reports_makespan_memory_cpu_and_requests(tmp_path: Path) -> None:
    """A 20-appliance run over TLS, twice: medians, ranges and start-up (HTTP: the test below)."""
    results = bench(
        "overhead.py",
        *("--appliances", "20", "--concurrency", "10", "--job", "0.2", "--restart", "0.1"),
        *("--poll-interval", "0.02", "--poll-interval-max", "0.05"),
        *("--variants", "tls", "--runs", "2", "--startup-runs", "2"),
        cwd=tmp_path,
    )
    assert set(results["variants"]) == {"tls"}
    for found in results["variants"].values():
        assert len(found["runs"]) == 2
        assert found["upgraded"]["median"] == 20
        assert all(sum(run["waves"].values()) == 20 for run in found["runs"])
        assert found["lower_bound_seconds"]["min"] > 0
        for measure in ("makespan_ratio", "peak_rss_mib", "cpu_ms_per_appliance"):
            low, median, high = (found[measure][k] for k in ("min", "median", "max"))
            assert 0 < low <= median <= high
        assert found["requests_per_appliance"]["median"] >= 6
    for command in ("python_ms", "version_ms", "validate_ms"):
        assert results["startup"][command]["median"] > 0


SCHEDULE_MEASURES = (
    "lower_bound_seconds",
    "staged_bound_seconds",
    "process_wall_seconds",
    "makespan_seconds",
    "wall_ratio",
    "makespan_ratio",
    "ingest_off_mean_seconds",
    "ingest_off_max_seconds",
    "cluster_ratio_mean",
    "cluster_ratio_max",
)


def test_overhead_benchmark_compares_graph_and_waves_with_each_estimate(tmp_path: Path) -> None:
    """Graph and waves on one fleet, estimates right and short: bounds, ingest-off, ratios."""
    results = bench(
        "overhead.py",
        *("--appliances", "30", "--concurrency", "10", "--job", "0.2", "--restart", "0.1"),
        *("--poll-interval", "0.02", "--poll-interval-max", "0.05"),
        *("--variants", "graph-http,waves-http", "--estimates", "right,short"),
        *("--runs", "1", "--startup-runs", "0"),
        cwd=tmp_path,
    )
    variants = results["variants"]
    assert set(variants) == {"graph-http", "waves-http", "graph-http/short", "waves-http/short"}
    for found in variants.values():
        assert found["upgraded"]["median"] == 30
        assert found["clusters_restored"]["median"] == found["clusters_halted"]["median"] == 1
        for measure in SCHEDULE_MEASURES:
            assert found[measure]["median"] > 0, measure
    assert variants["graph-http"]["chain_appliances"]["median"] == 4
    assert set(results["graph_vs_waves"]) == {"http", "http/short"}
    for ratios in results["graph_vs_waves"].values():
        assert set(ratios) == {"makespan", "ingest_off_mean", "ingest_off_max"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl to compare with")
def test_upload_benchmark_compares_with_curl_and_reports_memory(tmp_path: Path) -> None:
    """A small-image upload run reports both throughputs, their ratio and RSS per image size."""
    results = bench(
        "upload.py",
        *("--size", "4MB", "--appliances", "2", "--rounds", "1", "--rss-sizes", "1MB,8MB"),
        cwd=tmp_path,
    )
    assert results["orchestrator_mib_per_s"] > 0
    assert results["curl_mib_per_s"] > 0
    assert results["ratio_to_curl"] > 0
    assert set(results["peak_rss_mib_by_image_bytes"]) == {"1000000", "8000000"}
    assert results["uploads_completed"] == 2 * 2 + 2 * 2  # curl and ours, then two RSS runs


def test_requests_benchmark_measures_what_the_policy_predicts(tmp_path: Path) -> None:
    """The request-economy run counts requests and predicts a count that grows with the length."""
    results = bench("requests.py", "--time-scale", "0.002", "--appliances", "2", cwd=tmp_path)
    assert results["measured_requests_per_appliance"] > 0
    assert results["predicted"]["counted"] > 0
    by_length = list(results["predicted_requests_by_upgrade_length"].values())
    assert by_length == sorted(by_length)


def test_report_memory_benchmark_compares_the_three_reads(tmp_path: Path) -> None:
    """Reading the steps as events stream past holds less than reading every event."""
    results = bench("reportmem.py", "--appliances", "300", "--runs", "1", cwd=tmp_path)
    assert results["events"] == 3000
    peaks = {read: found["median"] for read, found in results["peak_mib"].items()}
    assert set(peaks) == {"events", "steps", "report", "json", "html"}
    assert 0 < peaks["steps"] < peaks["events"]
    assert peaks["json"] > 0
    assert peaks["html"] > 0


def test_plan_reading_benchmark_reports_wall_time_and_cpu(tmp_path: Path) -> None:
    """Planning a small fleet over TLS twice: medians and ranges of wall time and CPU."""
    results = bench("planread.py", "--appliances", "30", "--tls", "--runs", "2", cwd=tmp_path)
    assert results["runs"] == 2
    for measure in ("wall_seconds", "cpu_seconds", "cpu_ms_per_appliance"):
        low, median, high = (results[measure][k] for k in ("min", "median", "max"))
        assert 0 < low <= median <= high

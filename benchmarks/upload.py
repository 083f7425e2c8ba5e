"""Upload streaming: the orchestrator's client vs. curl, and its memory against the image size.

    python benchmarks/upload.py --size 1GiB --appliances 8

One sparse image is uploaded to N simulated appliances at once (upload_throughput 0, so the
simulator reads as fast as it can), alternately by benchmarks/upload_client.py (the real
ApplianceClient, in its own process) and by N concurrent `curl -T IMAGE -X POST` processes with
the vendor's headers, against the same simulator in the same run. The best round of each is
reported. Then the client alone uploads images of the --rss-sizes to show its peak RSS does not
grow with the image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import HERE, OLD, TARGET, Simulator, emit, in_workdir, orchestrator_env, run_measured

from orchestrator.core.models import FIRMWARE_MEDIA_TYPE
from orchestrator.simulator import make_image

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes from `1GiB`, `100MB`, `2 GiB` or a plain number."""
    match = _SIZE.match(text)
    if match is None or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r}: write a size such as 100MB or 1GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def scenario(count: int) -> dict[str, Any]:
    """N Discover appliances that read uploads as fast as they can."""
    return {
        "time_scale": 1.0,
        "target_version": TARGET,
        "image_size": 64 * 1024,
        "available_versions": [TARGET],
        "defaults": {"upload_throughput": 0},
        "appliances": [
            {"name": f"eda{i}", "role": "discover", "version": OLD} for i in range(count)
        ],
    }


def sha256_of(path: Path) -> str:
    """The image's sha256, as a plan records it (hashed here, outside the measured process)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def orchestrator_upload(
    sim: Simulator, image: Path, names: list[str], workdir: Path
) -> dict[str, float]:
    """Upload with the orchestrator's client in its own process: seconds, RSS, CPU.

    Each upload is checked against the image's hash while streaming, as `apply` does.
    """
    argv = [sys.executable, str(HERE / "upload_client.py"), str(sim.inventory), str(image)]
    argv += ["--sha256", sha256_of(image)]
    measured = run_measured(
        [*argv, *names],
        env=orchestrator_env({}),
        cwd=workdir,
        stdout=workdir / "client.out",
        stderr=workdir / "client.err",
    )
    if measured.returncode != 0:
        raise SystemExit((workdir / "client.err").read_text(errors="replace")[-2000:])
    seconds = json.loads((workdir / "client.out").read_text())["seconds"]
    return {
        "seconds": seconds,
        "peak_rss_mib": measured.max_rss_mib,
        "cpu_seconds": measured.cpu_seconds,
    }


def curl_upload(sim: Simulator, image: Path, names: list[str], curl: str) -> float:
    """Upload with one `curl -T` per appliance, all at once: the wall seconds it took."""
    procs = []
    start = time.monotonic()
    for name in names:
        url = sim.url(name) + "/api/v1/extrahop/firmware"
        argv = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(image)]
        argv += ["-X", "POST", "-H", "Expect:", "-H", f"Content-Type: {FIRMWARE_MEDIA_TYPE}"]
        argv += ["-H", f"Authorization: ExtraHop apikey={sim.key(name)}", url]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    answers = [p.communicate() for p in procs]
    seconds = time.monotonic() - start
    for out, err in answers:
        if out.strip() != b"201":
            raise SystemExit(f"curl upload failed: {out!r} {err!r}")
    return seconds


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Compare the client with curl, then measure the client's RSS per image size."""
    sim = Simulator(workdir / "sim", scenario(args.appliances))
    names = [f"eda{i}" for i in range(args.appliances)]
    curl = shutil.which("curl")
    results: dict[str, Any] = {"appliances": args.appliances, "image_bytes": args.size}
    try:
        image = make_image(workdir / "image.tar", "discover", TARGET, args.size)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(orchestrator_upload(sim, image, names, workdir))
            if curl is not None:
                theirs.append(curl_upload(sim, image, names, curl))
        total = args.size * args.appliances
        times = [r["seconds"] for r in ours]
        middle = statistics.median(times)
        results |= {
            "rounds": args.rounds,
            "orchestrator_seconds": round(middle, 3),
            "orchestrator_mib_per_s": round(total / middle / 2**20, 1),
            "orchestrator_mib_per_s_range": [
                round(total / t / 2**20, 1) for t in (max(times), min(times))
            ],
            "orchestrator_peak_rss_mib": round(max(r["peak_rss_mib"] for r in ours), 1),
            "orchestrator_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in ours), 3),
        }
        if theirs:
            curl_middle = statistics.median(theirs)
            results |= {
                "curl_seconds": round(curl_middle, 3),
                "curl_mib_per_s": round(total / curl_middle / 2**20, 1),
                "ratio_to_curl": round(curl_middle / middle, 3),
                "ratio_to_curl_range": [
                    round(min(theirs) / max(times), 3),
                    round(max(theirs) / min(times), 3),
                ],
            }
        rss: dict[str, float] = {}
        for size in args.rss_sizes:
            image = make_image(workdir / "image.tar", "discover", TARGET, size)
            rss[str(size)] = round(
                orchestrator_upload(sim, image, names, workdir)["peak_rss_mib"], 1
            )
        results["peak_rss_mib_by_image_bytes"] = rss
    finally:
        seen = sim.stop()
    results["uploads_completed"] = len(seen.times("upload.completed"))
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--appliances", type=int, default=8)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs each way; the median is reported, with the range",
    )
    parser.add_argument(
        "--rss-sizes",
        type=lambda text: [parse_size(s) for s in text.split(",") if s.strip()],
        default=[parse_size("100MB"), parse_size("2GiB")],
        help="image sizes for the RSS comparison, comma-separated ('' skips it)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def _with_range(results: dict[str, Any], key: str, unit: str, fmt: str) -> str:
    """`median (low-high)unit` for a result that has a range."""
    low, high = results.get(f"{key}_range", [float("nan")] * 2)
    median = results.get(key, float("nan"))
    return f"{fmt.format(median)} ({fmt.format(low)}-{fmt.format(high)}){unit}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = in_workdir(args.workdir, "bench-upload-", lambda path: run(args, path))
    table = [
        ("image x appliances", f"{args.size / 2**20:.0f} MiB x {args.appliances}"),
        ("runs each way (median, range)", str(args.rounds)),
        ("orchestrator", _with_range(results, "orchestrator_mib_per_s", " MiB/s", "{:.0f}")),
        ("curl -T", f"{results.get('curl_mib_per_s', float('nan')):.0f} MiB/s"),
        ("orchestrator / curl", _with_range(results, "ratio_to_curl", "  (>= 0.9)", "{:.3f}")),
    ]
    table += [
        (f"peak RSS, {int(size) / 2**20:.0f} MiB image", f"{mib:.1f} MiB")
        for size, mib in results["peak_rss_mib_by_image_bytes"].items()
    ]
    emit(results, as_json=args.json, table=table)


if __name__ == "__main__":
    main()

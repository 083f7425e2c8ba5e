"""Memory of a run's report: what reading the journal's events costs at 1,000 or 10,000.

    python benchmarks/reportmem.py --appliances 10000 --runs 3

A journal is filled as a run fills it: every appliance passes pending, prechecked, uploading,
uploaded, upgrading (twice: the job's id is recorded when it starts), rebooting, verifying,
postchecking and done, ten events each. Then, each `--runs` times in a fresh process, the
peak of Python's allocations (tracemalloc) while one of these is read:

- `events`: every event as a model, then each appliance's steps from that list — what the end
  of a run did before (`with_steps(report, journal.events(run))`);
- `steps`: each appliance's steps read from the events as they stream past (`Journal.steps`),
  what the end of a run does now;
- `report`: the whole report of the run (`Journal.report`: states, spans, steps), as `status`
  and a resumed run build it;
- `json`, `html`: writing that report's JSON document and its HTML page (with the timeline)
  to a file, as the end of every run does, the report itself built before measuring.

Medians with their range, never the best run. The run's plan is left out (the journal keeps
it as JSON; its size does not depend on how events are read).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from harness import emit, spread

from orchestrator.core.models import Outcome
from orchestrator.core.userfile import write_atomically
from orchestrator.journal import Journal, StateChange
from orchestrator.journal.steps import step_spans
from orchestrator.report.document import json_pieces
from orchestrator.report.html import run_page_pieces

PATH = (
    Outcome.PENDING,
    Outcome.PRECHECKED,
    Outcome.UPLOADING,
    Outcome.UPLOADED,
    Outcome.UPGRADING,
    Outcome.UPGRADING,
    Outcome.REBOOTING,
    Outcome.VERIFYING,
    Outcome.POSTCHECKING,
    Outcome.DONE,
)
READS = ("events", "steps", "report", "json", "html")


def fill(db: Path, appliances: int) -> str:
    """A journal whose one run took `appliances` appliances through PATH; the run's id."""
    journal = Journal.open(db)
    try:
        run_id = journal.start_run(
            plan_json="{}",
            inventory_source="fleet.yaml",
            inventory_sha256="0" * 64,
            settings_json="{}",
        )
        names = [f"appliance-{i:05d}" for i in range(appliances)]
        for state in PATH:
            job = "job-1" if state is Outcome.UPGRADING else None
            version = "9.8.0.100" if state is Outcome.PRECHECKED else None
            journal.record_states(
                StateChange(run_id, name, state, job_id=job, version=version) for name in names
            )
        journal.finish_run(run_id, exit_code=0)
    finally:
        journal.close()
    return run_id


def peak_mib(db: Path, run_id: str, read: str) -> float:
    """Peak MiB of Python allocations while `read` (one of READS) runs, in this process."""
    journal = Journal.open(db)
    try:
        report = journal.report(run_id) if read in {"json", "html"} else None
        tracemalloc.start()
        kept: object = None
        if read == "events":
            kept = step_spans(journal.events(run_id))
        elif read == "steps":
            kept = journal.steps(run_id)
        elif read == "report":
            kept = journal.report(run_id)
        elif report is not None:
            pieces = json_pieces(report) if read == "json" else run_page_pieces(report)
            write_atomically(db.with_name(f"report.{read}"), pieces)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del kept
    finally:
        journal.close()
    return round(peak / 2**20, 1)


def measure(db: Path, run_id: str, read: str) -> float:
    """peak_mib in a fresh process, so no run inherits another's freed memory."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(db), run_id, read],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = workdir / "state.db"
    run_id = fill(db, args.appliances)
    found: dict[str, list[float]] = {read: [] for read in READS}
    for _ in range(args.runs):  # alternating, so a slow moment hits every read alike
        for read in READS:
            found[read].append(measure(db, run_id, read))
    return {
        "appliances": args.appliances,
        "events": args.appliances * len(PATH),
        "runs": args.runs,
        "peak_mib": {read: spread(values) for read, values in found.items()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per read")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _, db, run_id, read = argv
        print(peak_mib(Path(db), run_id, read))
        return
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reportmem-") as tmp:
        results = run(args, Path(tmp))
    table = [("appliances", f"{args.appliances:,} ({results['events']:,} events)")]
    for read, peak in results["peak_mib"].items():
        low, median, high = peak["min"], peak["median"], peak["max"]
        table.append((f"peak, {read}", f"{median} MiB ({low} to {high}, {args.runs} runs)"))
    emit(results, as_json=args.json, table=table)


if __name__ == "__main__":
    main()

"""Backup first and post-checks, run the way `orchestrator apply` runs them, over real sockets.

The simulator's event log is the ground truth: when each backup was made against when each
appliance was first changed, and what a failed backup or post-check left untouched.
"""

from __future__ import annotations

import hashlib
import json
import stat
from typing import TYPE_CHECKING

from fleetrun import MUTATING, TARGET, apply_scenario, fast_settings, first_change, lab

from orchestrator.report.html import run_page
from orchestrator.report.markdown import to_markdown

if TYPE_CHECKING:
    from pathlib import Path

    from fleetrun import RunResult

CHANGED = ["eca1", "eda1", "exa-m1", "exa-d1", "eta1"]


def _backup_made(result: RunResult, name: str) -> float:
    (created,) = [e.t for e in result.events if e.appliance == name and e.kind == "backup.created"]
    return created


async def test_every_appliance_is_backed_up_into_the_run_folder_before_its_first_change(
    tmp_path: Path,
) -> None:
    """Each appliance's .exbk, running config and license are saved, 0600, before its upload.

    In runs/<id>/backups/; the report (Markdown and HTML too) lists each with size and sha256.
    """
    result = await apply_scenario(lab(small=True), tmp_path)
    assert result.report.exit_code == 0
    for name in CHANGED:
        change = first_change(result.events, name)
        assert change is not None
        assert _backup_made(result, name) < change
        (created,) = [
            e for e in result.events if e.appliance == name and e.kind == "backup.created"
        ]
        assert str(created.data["name"]).startswith(f"orchestrator run {result.report.run_id}")
    folder = tmp_path / "runs" / result.report.run_id / "backups"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    listed = {(b.appliance, b.kind): b for b in result.report.backups}
    assert len(listed) == 3 * len(CHANGED)
    for name in CHANGED:
        exbk = folder / f"{name}.customizations.exbk"
        assert exbk.read_bytes().startswith(b"EXBK-SIM")
        assert json.loads((folder / f"{name}.runningconfig.json").read_bytes())["hostname"] == name
        for kind in ("customizations.exbk", "runningconfig.json", "license.json"):
            path = folder / f"{name}.{kind}"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            entry = listed[name, kind]
            assert entry.size == path.stat().st_size
            assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    markdown = to_markdown(result.report)
    assert "eda1.customizations.exbk" in markdown
    assert listed["eda1", "customizations.exbk"].sha256 in markdown
    page = run_page(result.report)
    assert "<h2>Backups</h2>" in page
    assert listed["eda1", "customizations.exbk"].sha256 in page


async def test_a_failed_backup_fails_the_appliance_before_anything_on_it_changed(
    tmp_path: Path,
) -> None:
    """eda1's backup fails: it is failed saying so, never changed; later waves are blocked."""
    result = await apply_scenario(lab({"eda1": {"backup_fails": True}}, small=True), tmp_path)
    assert result.report.exit_code == 1
    assert result.outcome("eda1") == "failed"
    assert "backup failed, nothing on it was changed" in result.error("eda1")
    assert "--no-backup" in result.error("eda1")
    touched = [e.kind for e in result.events if e.appliance == "eda1" and e.kind in MUTATING]
    assert touched == []
    assert result.fleet.version("eda1") != TARGET
    for name in ("exa-m1", "exa-d1", "eta1"):
        assert result.outcome(name) == "blocked"
        assert first_change(result.events, name) is None


async def test_no_backup_takes_none_and_the_report_lists_none(tmp_path: Path) -> None:
    """With --no-backup (the setting `backup` off) nothing is backed up; the run still works."""
    settings = fast_settings(tmp_path, backup=False)
    result = await apply_scenario(lab(small=True), tmp_path, settings=settings)
    assert result.report.exit_code == 0
    assert [e for e in result.events if e.kind.startswith("backup.")] == []
    assert result.report.backups == ()
    assert not (tmp_path / "runs" / result.report.run_id / "backups").exists()


async def test_a_process_down_after_the_upgrade_fails_the_appliance_and_blocks_later_waves(
    tmp_path: Path,
) -> None:
    """eda1 comes back with excap stopped: failed with the reason; Explore, Trace never start."""
    settings = fast_settings(tmp_path, postcheck_grace=0.2)
    scenario = lab({"eda1": {"process_down": "excap"}}, small=True)
    result = await apply_scenario(scenario, tmp_path, settings=settings)
    assert result.report.exit_code == 1
    assert result.outcome("eda1") == "failed"
    assert "post-check failed: process excap not running" in result.error("eda1")
    assert result.fleet.version("eda1") == TARGET
    for name in ("exa-m1", "exa-d1", "eta1"):
        assert result.outcome(name) == "blocked"
        assert first_change(result.events, name) is None


async def test_a_license_changed_by_the_upgrade_fails_the_post_check(tmp_path: Path) -> None:
    """eca1's license differs after the upgrade: failed, naming the field; Discover untouched."""
    result = await apply_scenario(lab({"eca1": {"license_changes": True}}, small=True), tmp_path)
    assert result.outcome("eca1") == "failed"
    assert "the license changed during the upgrade (modules)" in result.error("eca1")
    assert result.outcome("eda1") == "blocked"
    assert first_change(result.events, "eda1") is None


async def test_explore_nodes_are_backed_up_before_their_cluster_s_ingest_is_halted(
    tmp_path: Path,
) -> None:
    """The halt changes every node of the cluster: each is backed up before it, once."""
    result = await apply_scenario(lab(small=True), tmp_path)
    (halt,) = [e.t for e in result.events if e.kind == "ingest.changed" and not e.data["enabled"]]
    for name in ("exa-m1", "exa-d1"):
        assert _backup_made(result, name) < halt


async def test_a_failed_backup_of_an_explore_node_halts_nothing_and_changes_no_node(
    tmp_path: Path,
) -> None:
    """exa-d1's backup fails: ingest is never halted, no node of the cluster is changed."""
    result = await apply_scenario(lab({"exa-d1": {"backup_fails": True}}, small=True), tmp_path)
    assert result.report.exit_code == 1
    assert [e for e in result.events if e.kind == "ingest.changed"] == []
    assert result.outcome("exa-d1") == "failed"
    assert "backup failed" in result.error("exa-d1")
    assert result.outcome("exa-m1") == "blocked"
    assert "backup of exa-d1 failed; ingest on exa not halted" in result.error("exa-m1")
    for name in ("exa-m1", "exa-d1"):
        assert first_change(result.events, name) is None
    assert result.outcome("eta1") == "done"  # Trace waits for no Explore appliance

"""The run folder's backups/: private files written whole, listed with size and sha256."""

from __future__ import annotations

import hashlib
import stat
from typing import TYPE_CHECKING

import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.core.statehome import RunFolder
from orchestrator.workflow.backups import FolderBackups, backup_files

if TYPE_CHECKING:
    from pathlib import Path


async def test_a_saved_file_is_private_read_back_and_listed(tmp_path: Path) -> None:
    """A saved backup is 0600 in a 0700 folder, read back as saved, listed with its sha256."""
    folder = RunFolder(tmp_path / "runs" / "r1").create()
    store = FolderBackups(folder)
    assert store.saved("eda1", "customizations.exbk") is None
    await store.save("eda1", "customizations.exbk", b"EXBK\x00\x01")
    await store.save("exa-m1.lab", "runningconfig.json", b"{}")
    assert store.saved("eda1", "customizations.exbk") == b"EXBK\x00\x01"
    backups = tmp_path / "runs" / "r1" / "backups"
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE((backups / "eda1.customizations.exbk").stat().st_mode) == 0o600
    (backups / ".eda1.license.json.1234.tmp").write_bytes(b"half")  # a write cut short
    listed = backup_files(folder)
    assert [(b.appliance, b.kind, b.size) for b in listed] == [
        ("eda1", "customizations.exbk", 6),
        ("exa-m1.lab", "runningconfig.json", 2),
    ]
    assert listed[0].sha256 == hashlib.sha256(b"EXBK\x00\x01").hexdigest()


async def test_a_backup_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    """backups/ taken by a file: ConfigError naming the file, which fails the appliance."""
    folder = RunFolder(tmp_path / "runs" / "r1").create()
    (folder.path / "backups").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"cannot write the backup .*eda1\.customizations\.exbk"):
        await FolderBackups(folder).save("eda1", "customizations.exbk", b"x")
    assert backup_files(folder) == ()

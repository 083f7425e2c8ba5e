"""The run folder's `backups/`: where a run keeps each appliance's backup, and what it holds.

`runs/<run-id>/backups/<appliance>.<kind>` — the customizations (`.exbk`), the running config
and the license read at the precheck — in a folder private to the user (0700), each file 0600
and written whole (`core.userfile.write_bytes_atomically`), so a file that is there is complete.
A file that cannot be read or written fails its appliance (ConfigError), not the run.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import BackupFile
from orchestrator.core.userfile import write_bytes_atomically
from orchestrator.engine.backup import CUSTOMIZATIONS, LICENSE, RUNNINGCONFIG

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.core.statehome import RunFolder

__all__ = ["FolderBackups", "backup_files"]

_KINDS = (CUSTOMIZATIONS, RUNNINGCONFIG, LICENSE)


def backups_dir(folder: RunFolder) -> Path:
    """The folder of a run's backups."""
    return folder.path / "backups"


class FolderBackups:
    """The engine's `BackupStore` on a run's folder."""

    def __init__(self, folder: RunFolder) -> None:
        self.path = backups_dir(folder)

    def _file(self, appliance: str, kind: str) -> Path:
        return self.path / f"{appliance}.{kind}"

    def saved(self, appliance: str, kind: str) -> bytes | None:
        """The file's bytes, if this run saved it already."""
        try:
            return self._file(appliance, kind).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            path = self._file(appliance, kind)
            raise ConfigError(f"cannot read the backup {path}: {reason}") from None

    async def save(self, appliance: str, kind: str, data: bytes) -> None:
        """Write the file whole, private to the user."""
        path = self._file(appliance, kind)
        await asyncio.to_thread(write_bytes_atomically, path, data, "the backup")


def backup_files(folder: RunFolder) -> tuple[BackupFile, ...]:
    """Every complete file in the run's backups, with its size and sha256, by appliance."""
    found: list[BackupFile] = []
    try:
        paths = sorted(backups_dir(folder).iterdir())
    except OSError:
        return ()
    for path in paths:
        kind = next((k for k in _KINDS if path.name.endswith(f".{k}")), None)
        if kind is None or not path.is_file():
            continue
        data = path.read_bytes()
        found.append(
            BackupFile(
                appliance=path.name.removesuffix(f".{kind}"),
                kind=kind,
                path=str(path),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return tuple(found)

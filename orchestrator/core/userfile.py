"""Files the user names (inventory, key, CA bundle, image, settings, plan): regular files only.

Opening a FIFO for reading waits for a writer, and a device may never end, so a path is
opened without blocking and refused unless it is a regular file. Every failure is an
OSError whose `strerror` reads well inside a message: `cannot read X (STRERROR)`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import TYPE_CHECKING, BinaryIO

from orchestrator.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

__all__ = [
    "NotRegularFileError",
    "TooLargeError",
    "check_readable",
    "open_regular",
    "read_regular",
    "replace_atomically",
    "write_atomically",
    "write_bytes_atomically",
]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_BLOCK = 1 << 20  # characters of a text written in pieces, encoded and written at once
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegularFileError(OSError):
    """The path is a directory, FIFO, socket or device: reading it could block or never end."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"it is not a regular file but {kind}", str(path))
        self.kind = kind


class TooLargeError(OSError):
    """The file is larger than what it should hold."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(errno.EFBIG, f"it is larger than {limit} bytes", str(path))


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """`path` opened for binary reading; OSError unless it is a regular file."""
    _no_nul(path)
    _refuse_irregular(path, path.stat().st_mode)
    fd = os.open(path, _FLAGS)
    try:  # checked again on what was opened: the path may have changed in between
        _refuse_irregular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file `path`; TooLargeError past `limit` bytes."""
    with open_regular(path) as handle:
        data = handle.read(-1 if limit is None else limit + 1)
    if limit is not None and len(data) > limit:
        raise TooLargeError(path, limit)
    return data


def check_readable(path: Path) -> None:
    """Raise OSError unless `path` is a regular file this process may read."""
    with open_regular(path):
        pass


def _no_nul(path: Path) -> None:
    """Refuse a path with a NUL in it as a missing file (the OS would raise ValueError)."""
    if "\0" in str(path):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))


def _refuse_irregular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "an unusual file")
    raise NotRegularFileError(path, kind)


def write_atomically(path: Path, text: str | Iterable[str], what: str = "the report") -> None:
    """Write `text` (UTF-8) as `write_bytes_atomically` does.

    `text` may come in pieces (a large report's JSON, its HTML page): they are encoded and
    written a MiB at a time, so the whole text is never held in memory, nor the list of
    pieces that joining it would build (ten times the text's size for indented JSON).
    """
    data = text.encode("utf-8") if isinstance(text, str) else _encoded(text)
    write_bytes_atomically(path, data, what)


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    """The pieces as UTF-8, joined into blocks of about `_BLOCK` characters."""
    block: list[str] = []
    size = 0
    for piece in pieces:
        block.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            yield "".join(block).encode("utf-8")
            block, size = [], 0
    yield "".join(block).encode("utf-8")


def write_bytes_atomically(
    path: Path, data: bytes | Iterable[bytes], what: str = "the report"
) -> None:
    """Write `data` as `replace_atomically` does, private (0600) in a private folder (0700).

    Readable by its owner only, like everything else a run writes. ConfigError naming `what`
    when it cannot.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_atomically(path, data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot write {what} {path}: {reason}") from exc


def replace_atomically(path: Path, data: bytes | Iterable[bytes], mode: int = 0o600) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`.

    A reader sees the old file or the new, never half; the temporary file is removed if
    anything fails. OSError as it came.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            for block in (data,) if isinstance(data, bytes) else data:
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(mode)  # exactly `mode`, whatever the umask
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise

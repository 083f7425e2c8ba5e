"""A firmware image read for streaming: from the page cache on the event loop, else in a thread.

The upload's body is produced CHUNK_SIZE bytes at a time, so memory stays flat whatever the
image's size; the event loop never waits for the disk (docs/benchmarks.md, upload streaming).
Checked against the plan's hash, the last chunk is only handed over once the bytes are
known to be the plan's image, so the appliance never receives a whole image the plan did not
approve. They are known to be when the file is still the very file this process hashed
(`hash_image`: same device, inode, size, modification and change times, before and after the
upload read it; the change time cannot be set back by hand, and every write moves it):
then nothing is hashed again, which keeps uploads as fast as `curl -T` without SHA hardware.
Otherwise the bytes are hashed as they are read (in a thread) and compared.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.core.errors import PreconditionFailed
from orchestrator.core.userfile import open_regular

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from pathlib import Path

    from orchestrator.plan.model import ImageInfo

__all__ = ["CHUNK_SIZE", "ImageCheck", "hash_image", "read_chunks"]

CHUNK_SIZE = 1024 * 1024  # bytes read from disk and handed to the socket at a time
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class _Identity:
    """What tells a file from any other version of it: where it is, its size and its times."""

    device: int
    inode: int
    size: int
    modified_ns: int
    changed_ns: int

    @classmethod
    def of(cls, fd: int) -> _Identity:
        st = os.fstat(fd)
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# The images this process hashed, by path: the file's identity then, and its sha256.
_HASHED: dict[str, tuple[_Identity, str]] = {}


def hash_image(path: Path, progress: Callable[[int], None] | None = None) -> tuple[int, str]:
    """(size, sha256) of the image at `path`, remembered with the file's identity (blocking).

    `progress` is told the bytes read, chunk by chunk (from this thread).
    """
    digest = hashlib.sha256()
    size = 0
    with open_regular(path) as handle:
        before = _Identity.of(handle.fileno())
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
        if _Identity.of(handle.fileno()) == before:  # not written to while it was read
            _HASHED[str(path)] = (before, digest.hexdigest())
    return size, digest.hexdigest()


def _hashed_as(fd: int, path: Path, sha256: str) -> bool:
    """Whether `fd` is still the file this process hashed at `path`, to `sha256`."""
    known = _HASHED.get(str(path))
    return known is not None and known[1] == sha256 and known[0] == _Identity.of(fd)


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """The image the plan hashed, for one appliance: what an upload of `path` must read."""

    appliance: str
    path: Path
    expected: ImageInfo

    def sized(self, size: int) -> ImageCheck:
        """Return this check if the image has the plan's size, else raise PreconditionFailed."""
        if size != self.expected.size:
            self.changed(f"size {self.expected.size} -> {size} bytes")
        return self

    def digest(self, size: int, sha256: str) -> None:
        """PreconditionFailed unless `size` bytes hashing to `sha256` are the plan's image."""
        self.sized(size)
        if sha256 != self.expected.sha256:
            self.changed(f"sha256 {_short(self.expected.sha256)} -> {_short(sha256)}")

    def changed(self, how: str) -> None:
        """Raise PreconditionFailed: the image is not the plan's any more (`how`)."""
        message = f"image {self.path} changed since the plan ({how}); plan again"
        raise PreconditionFailed(self.appliance, message)


def _short(digest: str) -> str:
    return digest[:12] + "…"


async def read_chunks(
    path: Path,
    total: int,
    progress: Callable[[int, int], None] | None,
    check: ImageCheck | None = None,
) -> AsyncGenerator[memoryview]:
    """Read `path` CHUNK_SIZE bytes at a time, reporting progress as it goes.

    With `check`, the bytes are hashed as they are read and the last chunk (or the end of a
    file that shrank) raises PreconditionFailed instead of going out if they are not the
    plan's image. aiohttp drives this from its body-writer task; if the request fails, that
    task's cancellation runs the `finally` and closes the file.
    """
    sent = 0
    if progress is not None:
        progress(0, total)
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    known = check is not None and _hashed_as(fd, path, check.expected.sha256)
    hashing = check is not None and not known
    reader = _ChunkReader(fd, hashlib.sha256() if hashing else None)
    try:
        # Up to the Content-Length sent: a file that shrank ends early, and the appliance
        # refuses the short body; nothing past `total` would be sent anyway.
        while sent < total:
            chunk = await reader.read(sent, total - sent)
            if check is not None and (not chunk or sent + len(chunk) == total):
                # Before the last byte goes: the plan's image, still, or never whole.
                if known and not _hashed_as(fd, path, check.expected.sha256):
                    check.changed("written to while it was being sent")
                check.digest(sent + len(chunk), reader.hexdigest() or check.expected.sha256)
            if not chunk:
                break
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent, total)
    finally:
        os.close(reader.fd)  # not in a thread: an await here could be cut short by cancellation


class _ChunkReader:
    """Reads a file by offset: from the page cache on the event loop, else in a thread.

    A thread hop per chunk costs about as much CPU as sending the chunk, so data already
    cached (the image was just hashed for the plan) is read with RWF_NOWAIT, which never
    blocks; only what would wait for the disk goes to a thread. Hashing a chunk costs far more
    than a thread hop, so a hashed read always goes to a thread, reading and hashing there:
    the event loop stays free, and the other cores can hash. Every chunk is a fresh buffer:
    the transport may hold on to it after write() returns.
    """

    def __init__(self, fd: int, digest: hashlib._Hash | None) -> None:
        self.fd = fd
        self.digest = digest
        self.nowait = _HAS_NOWAIT and digest is None

    def hexdigest(self) -> str:
        """The sha256 of everything read so far ("" when not hashing)."""
        return self.digest.hexdigest() if self.digest is not None else ""

    async def read(self, offset: int, wanted: int) -> memoryview:
        """Up to CHUNK_SIZE (and `wanted`) bytes at `offset` (empty at the end of the file)."""
        buffer = bytearray(min(CHUNK_SIZE, wanted))
        count = self._read_cached(buffer, offset)
        if count is None:
            count = await asyncio.to_thread(_read_into, self.fd, buffer, offset, self.digest)
        return memoryview(buffer)[:count]

    def _read_cached(self, buffer: bytearray, offset: int) -> int | None:
        """Bytes read without waiting for the disk, or None if that would have to wait."""
        if not self.nowait:
            return None
        try:
            count = os.preadv(self.fd, [buffer], offset, os.RWF_NOWAIT)
        except BlockingIOError:
            return None
        except OSError:  # this file system or kernel does not offer RWF_NOWAIT
            self.nowait = False
            return None
        return count or None  # 0: let a plain read confirm the end of the file


def _read_into(fd: int, buffer: bytearray, offset: int, digest: hashlib._Hash | None) -> int:
    """Fill `buffer` from `offset`, hashing what was read (blocking; short only at the end)."""
    view, done = memoryview(buffer), 0
    while done < len(buffer):
        chunk = os.pread(fd, len(buffer) - done, offset + done)
        if not chunk:
            break
        view[done : done + len(chunk)] = chunk
        done += len(chunk)
    if digest is not None:
        digest.update(view[:done])
    return done


_HAS_NOWAIT = hasattr(os, "RWF_NOWAIT") and hasattr(os, "preadv")

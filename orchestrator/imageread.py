"""A firmware image read for streaming: from the page cache on the event loop, else in a thread.

The upload's body is produced CHUNK_SIZE bytes at a time, so memory stays flat whatever the
image's size; the event loop never waits for the disk (docs/benchmarks.md, upload streaming).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from pathlib import Path

__all__ = ["CHUNK_SIZE", "read_chunks"]

CHUNK_SIZE = 1024 * 1024  # bytes read from disk and handed to the socket at a time


async def read_chunks(
    path: Path, total: int, progress: Callable[[int, int], None] | None
) -> AsyncGenerator[memoryview]:
    """Read `path` CHUNK_SIZE bytes at a time, reporting progress as it goes.

    aiohttp drives this from its body-writer task; if the request fails, that task's
    cancellation runs the `finally` and closes the file.
    """
    sent = 0
    if progress is not None:
        progress(0, total)
    reader = _ChunkReader(await asyncio.to_thread(os.open, path, os.O_RDONLY))
    try:
        # Up to the Content-Length sent: a file that shrank ends early, and the appliance
        # refuses the short body; nothing past `total` would be sent anyway.
        while sent < total and (chunk := await reader.read(sent, total - sent)):
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
    blocks; only what would wait for the disk goes to a thread. Every chunk is a fresh
    buffer: the transport may hold on to it after write() returns.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.nowait = _HAS_NOWAIT

    async def read(self, offset: int, wanted: int) -> memoryview:
        """Up to CHUNK_SIZE (and `wanted`) bytes at `offset` (empty at the end of the file)."""
        buffer = bytearray(min(CHUNK_SIZE, wanted))
        count = self._read_cached(buffer, offset)
        if count is None:
            count = await asyncio.to_thread(_read_into, self.fd, buffer, offset)
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


def _read_into(fd: int, buffer: bytearray, offset: int) -> int:
    """Fill `buffer` from `offset` (blocking; short only at the end of the file)."""
    view, done = memoryview(buffer), 0
    while done < len(buffer):
        chunk = os.pread(fd, len(buffer) - done, offset + done)
        if not chunk:
            break
        view[done : done + len(chunk)] = chunk
        done += len(chunk)
    return done


_HAS_NOWAIT = hasattr(os, "RWF_NOWAIT") and hasattr(os, "preadv")

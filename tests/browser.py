"""Test helper: open a page in headless Chromium (Debian's `chromium`), screenshot it, read it back.

`.ci/run` installs `chromium` when it is missing and sets ORCHESTRATOR_TEST_REQUIRE_CHROMIUM, so
in CI a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

REQUIRED = "ORCHESTRATOR_TEST_REQUIRE_CHROMIUM"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=0.5",  # a quarter of the pixels to read back: quicker
)


def chromium() -> str:
    """The browser's path; skips the test if there is none (fails it where CI requires one)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        why = "chromium is not installed (`.ci/run` installs it: apt-get install chromium)"
        if os.environ.get(REQUIRED):
            pytest.fail(why)
        pytest.skip(why)
    return found


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium(), *_FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def dump_dom(page: Path) -> str:
    """The page's DOM as the browser built it."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, png: Path, width: int = 1300, height: int = 1400) -> None:
    """A PNG of the page as the browser draws it in a window of `width` x `height`."""
    _run(page, f"--screenshot={png}", f"--window-size={width},{height}")
    assert png.exists(), "no screenshot was written"


def pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG, as Chromium writes them."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, offset = {}, 8
    idat = b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            idat += body
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8, depth
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, above: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return line
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = above[i]
        corner = above[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
    return line


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def count_colour(png: Path, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    """How many pixels of the screenshot are (nearly) `rgb`."""
    width, _, rows = pixels(png)
    channels = len(rows[0]) // width
    found = 0
    for row in rows:
        for x in range(0, len(row), channels):
            if all(abs(row[x + i] - rgb[i]) <= tolerance for i in range(3)):
                found += 1
    return found

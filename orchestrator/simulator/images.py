"""Simulated firmware images: a one-line header naming platform and version, then padding."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

IMAGE_MAGIC = b"EXTRAHOP-FIRMWARE"
REPOSITORY_PATH = "/firmware/"  # where the fleet's repository serves `<role>-<version>.tar`
HEADER_LIMIT = 256  # bytes of the body inspected for the header line
_HEADER = re.compile(rb"^EXTRAHOP-FIRMWARE platform=([a-z]+) version=([0-9][0-9A-Za-z.+-]*)\n")
_SERVED = re.compile(r"([a-z]+)-([0-9][0-9A-Za-z.+-]*?)\.tar")


class ImageHeader(NamedTuple):
    """What an image's first line says."""

    platform: str
    version: str


def image_header(role: str, version: str) -> bytes:
    """The first line of a simulated image for `role` at `version`."""
    return IMAGE_MAGIC + f" platform={role} version={version}\n".encode("ascii")


def make_image(path: Path, role: str, version: str, size: int = 1024 * 1024) -> Path:
    """Write a simulated image of `size` bytes (sparse padding, so a 1 GiB image is cheap)."""
    header = image_header(role, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(max(size, len(header)))
    return path


def parse_image_header(head: bytes) -> ImageHeader | None:
    """The header of an image from its first bytes, or None if it is not an image."""
    match = _HEADER.match(head[:HEADER_LIMIT])
    if match is None:
        return None
    return ImageHeader(match.group(1).decode("ascii"), match.group(2).decode("ascii"))


def image_name(role: str, version: str) -> str:
    """The file name of the image for `role` at `version`: `discover-9.9.1.100.tar`."""
    return f"{role}-{version}.tar"


def served_image(path: str) -> ImageHeader | None:
    """The image the fleet's repository serves at URL path `path`, or None (404)."""
    if not path.startswith(REPOSITORY_PATH):
        return None
    match = _SERVED.fullmatch(path.removeprefix(REPOSITORY_PATH))
    return ImageHeader(match.group(1), match.group(2)) if match else None

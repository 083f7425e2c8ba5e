"""Upload one image to several appliances at once with the orchestrator's own client.

    python benchmarks/upload_client.py INVENTORY IMAGE [--sha256 HEX] NAME [NAME ...]

Runs in its own process so the upload benchmark can measure its peak RSS and CPU time;
prints the wall seconds the uploads took as JSON. With --sha256 (the image's hash, as a plan
records it) the image is first hashed here, as `apply` re-checks the plan's images, and every
upload is checked against it while streaming, as `apply` does (the timing starts after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.appliance.imageread import hash_image
from orchestrator.core.config import Settings
from orchestrator.inventory import load_inventory
from orchestrator.plan import ImageInfo


async def upload_all(
    inventory: Path, image: Path, names: list[str], expected: ImageInfo | None = None
) -> float:
    """Upload `image` to every named appliance concurrently; the wall seconds it took."""
    fleet = load_inventory(inventory)
    settings = Settings(concurrency=len(names), read_timeout=600)
    async with open_session(settings) as session:
        clients = [ApplianceClient(session, fleet.by_name(n), settings) for n in names]
        start = time.monotonic()
        await asyncio.gather(*(c.upload_firmware(image, expected=expected) for c in clients))
        return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inventory", type=Path)
    parser.add_argument("image", type=Path)
    parser.add_argument("--sha256", help="check every upload against this hash of the image")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    expected = None
    if args.sha256 is not None:
        size, sha256 = hash_image(args.image)  # as apply's re-check of the plan's images
        if sha256 != args.sha256:
            raise SystemExit(f"{args.image} is not the image hashed {args.sha256}")
        expected = ImageInfo(path=str(args.image), size=size, sha256=sha256)
    seconds = asyncio.run(upload_all(args.inventory, args.image, args.names, expected))
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()

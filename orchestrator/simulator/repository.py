"""The fleet's firmware repository: images served at `/firmware/<role>-<version>.tar`.

What a vendor download site is to real appliances: `simulate --mode url` points the inventory
here, and a simulated appliance told to download from it (download/url) fetches the image
for real, over HTTPS when the fleet serves TLS. Every image is generated as it is sent: its
header line, then zeros up to the scenario's `image_size`.
"""

from __future__ import annotations

from aiohttp import web

from orchestrator.simulator.images import REPOSITORY_PATH, image_header, served_image

__all__ = ["create_repository"]

_CHUNK = 256 * 1024
_SIZE = web.AppKey("image_size", int)
_ZEROS = bytes(_CHUNK)


async def _get_image(request: web.Request) -> web.StreamResponse:
    """GET /firmware/<role>-<version>.tar: the image, streamed; 404 for any other name."""
    header = served_image(request.path)
    if header is None:
        raise web.HTTPNotFound(text=f"no image at {request.path}\n")
    head = image_header(header.platform, header.version)
    size = max(request.app[_SIZE], len(head))
    response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    response.content_length = size
    await response.prepare(request)
    await response.write(head)
    left = size - len(head)
    while left > 0:
        await response.write(_ZEROS[: min(left, _CHUNK)])
        left -= _CHUNK
    await response.write_eof()
    return response


def create_repository(image_size: int) -> web.Application:
    """The repository's application; images are `image_size` bytes long."""
    app = web.Application()
    app[_SIZE] = image_size
    app.router.add_get(REPOSITORY_PATH + "{name}", _get_image)
    return app

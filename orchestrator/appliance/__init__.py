"""The ExtraHop REST API of one appliance (aiohttp), and the image streamed to it."""

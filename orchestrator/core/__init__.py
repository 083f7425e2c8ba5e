"""Shared types and rules every layer uses: errors, models, settings, the procedure table.

Also where runs live and the text conventions. No I/O library: no aiohttp, rich, structlog or
sqlite3 (an import-linter contract in pyproject.toml).
"""

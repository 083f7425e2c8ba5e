"""Room for one socket per appliance: the soft limit on open files, raised as far as allowed.

A run keeps a connection per appliance in progress, and for a few seconds after it (HTTP
keep-alive); a large fleet on a laptop (macOS allows 256 open files by default, many Linux
desktops 1,024) would otherwise fail with "Too many open files". The hard limit is the
administrator's: it is never exceeded.
"""

from __future__ import annotations

import contextlib

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no soft limit on sockets to raise
    resource = None  # type: ignore[assignment]

__all__ = ["WANTED_OPEN_FILES", "raise_open_file_limit"]

WANTED_OPEN_FILES = 65_536
_MACOS_OPEN_MAX = 10_240  # macOS refuses more than OPEN_MAX even when the hard limit is unlimited


def raise_open_file_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (never above the hard limit); the result."""
    if resource is None:  # pragma: no cover
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        for attempt in (target, min(target, _MACOS_OPEN_MAX)):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (attempt, hard))
                break
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

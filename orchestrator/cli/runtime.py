"""The process tuned for a fleet: room for a socket per appliance, and a cheaper garbage collector.

Open files: a run keeps a connection per appliance in progress, and for a few seconds after
it (HTTP keep-alive), and the simulator listens on a port per appliance; a large fleet on a
laptop (macOS allows 256 open files by default, many Linux desktops 1,024) would otherwise fail
with "Too many open files". The soft limit is raised; the hard limit is the administrator's
and is never exceeded.

Garbage collection: every request allocates a few hundred short-lived objects, and with
CPython's default threshold (a young-generation collection every 700 allocations) collecting
them was a tenth of a large run's CPU time (docs/benchmarks.md). Collections are made rarer;
reference counting still frees almost everything at once, so memory does not grow.
"""

from __future__ import annotations

import contextlib
import gc

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no soft limit on sockets to raise
    resource = None  # type: ignore[assignment]

__all__ = ["GC_THRESHOLDS", "WANTED_OPEN_FILES", "prepare_process", "raise_open_file_limit"]

WANTED_OPEN_FILES = 65_536
GC_THRESHOLDS = (10_000, 10, 10)  # CPython's default is (700, 10, 10)
_MACOS_OPEN_MAX = 10_240  # macOS refuses more than OPEN_MAX even when the hard limit is unlimited


def prepare_process() -> None:
    """Raise the open-file limit and make garbage collection rarer, once, at start-up."""
    raise_open_file_limit()
    gc.set_threshold(*GC_THRESHOLDS)


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

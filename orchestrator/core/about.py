"""Who is running the tool, where, and which release: what a report records of its run."""

from __future__ import annotations

import getpass
import os
import socket

from orchestrator.core.release import RELEASE

__all__ = ["host_name", "tool_version", "user_name"]


def tool_version() -> str:
    """The release (`0.1.0`), a constant, so `--version` reads no package metadata."""
    return RELEASE


def host_name() -> str:
    """The host name of the machine the tool runs on."""
    return socket.gethostname()


def user_name() -> str:
    """The user running the tool; the numeric uid when the system has no name for it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container's uid without a passwd entry
        return str(os.getuid())


def operator() -> str:
    """Who is at the keyboard, as a gate's answer records it: `user@host`."""
    return f"{user_name()}@{host_name()}"

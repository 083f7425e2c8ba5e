"""An appliance as a Command appliance (the console) lists it: `GET /api/v1/appliances`."""

from __future__ import annotations

from orchestrator.core.models import Frozen

__all__ = ["ONLINE", "ListedAppliance"]

ONLINE = "Online"  # the status_message of an appliance the console can reach


class ListedAppliance(Frozen):
    """One entry of the console's list: id 0 is the console itself."""

    id: int
    hostname: str = ""  # the address the console reaches it at
    platform: str = ""
    firmware_version: str = ""
    display_name: str = ""
    nickname: str = ""
    status_message: str = ONLINE

    @property
    def online(self) -> bool:
        """Whether the console could reach it when it answered."""
        return self.status_message.strip().lower() == ONLINE.lower()

"""What a Command appliance (the console) says: its appliances, and its jobs upgrading them.

`GET /api/v1/appliances` lists the console (id 0) and its connected appliances; a console
job (`POST /appliances/firmware/upgrade`) follows each appliance in its `remote_jobs`.
"""

from __future__ import annotations

from pydantic import ConfigDict

from orchestrator.core.models import Frozen, JobProgress

__all__ = ["ONLINE", "ConsoleJob", "ListedAppliance", "RemoteJob"]

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


class RemoteJob(JobProgress):
    """One appliance's part of a console job (`remote_jobs` of GET /jobs/{id})."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # the API may add fields

    system_id: int
    job_id: str | None = None  # None: the appliance's job never started


class ConsoleJob(Frozen):
    """One poll of a console's job upgrading connected appliances."""

    id: str
    status: str
    details: str | None = None
    remote_jobs: tuple[RemoteJob, ...] = ()

    def remote(self, system_id: int) -> RemoteJob | None:
        """The remote job of the appliance with that id on the console, if there is one."""
        return next((job for job in self.remote_jobs if job.system_id == system_id), None)

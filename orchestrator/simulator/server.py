"""SimulatedFleet: every appliance of a scenario on its own 127.0.0.1 port, in one process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any, Literal, Self

from aiohttp import web

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import parse_version
from orchestrator.simulator import writer
from orchestrator.simulator.app import Registry, create_app
from orchestrator.simulator.fleet import SimAppliance, build_appliances
from orchestrator.simulator.host import Event

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from types import TracebackType
    from typing import IO

    from orchestrator.simulator.scenario import Scenario

HOST = "127.0.0.1"
_REOPEN_ATTEMPTS = 50
_REOPEN_PAUSE = 0.05


class SimulatedFleet:
    """Serve a scenario's appliances until the `async with` block ends."""

    def __init__(self, scenario: Scenario, *, event_log: Path | None = None) -> None:
        self.scenario = scenario
        self.events: list[Event] = []
        self._event_log_path = event_log
        self._log: IO[str] | None = None
        self._appliances = build_appliances(scenario, self)
        versions = dict.fromkeys(scenario.available_versions)
        if scenario.target_version:
            versions[scenario.target_version] = None
        self._registry = Registry(dict(self._appliances), {}, tuple(versions))
        self._runner: web.AppRunner | None = None
        self._sites: dict[str, web.TCPSite] = {}
        self._ports: dict[str, int] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._event_log_path is not None:
            self._log = self._event_log_path.open("a", encoding="utf-8")
        self._runner = web.AppRunner(
            create_app(self._registry), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        try:
            for appliance in self._appliances.values():
                await self._listen(appliance, appliance.spec.port)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._timers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def _listen(self, appliance: SimAppliance, port: int) -> None:
        if self._runner is None:
            raise RuntimeError("the fleet is not running")
        site = web.TCPSite(self._runner, HOST, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"{appliance.name}: cannot listen on {HOST}:{port} ({exc})") from None
        self._sites[appliance.name] = site
        self._ports[appliance.name] = site.port
        self._registry.by_port[site.port] = appliance

    # -- Host protocol (called by the appliances) ---------------------------------------

    def now(self) -> float:
        """Monotonic wall time in seconds."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` after `delay` wall seconds, unless the fleet stops first."""
        loop = asyncio.get_running_loop()
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.discard(holder[0])
            callback()

        holder.append(loop.call_later(max(delay, 0.0), fire))
        self._timers.add(holder[0])

    def emit(self, appliance: str, kind: str, data: dict[str, Any]) -> None:
        """Record an event, and append it to the event log file if there is one."""
        event = Event(time.monotonic(), appliance, kind, data)
        self.events.append(event)
        if self._log is not None:
            line = {
                "t": event.t,
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "appliance": appliance,
            }
            line |= {"kind": kind, "data": data}
            self._log.write(json.dumps(line) + "\n")
            self._log.flush()

    def go_down(self, appliance: str) -> None:
        """Stop listening on the appliance's port and drop its open connections."""
        port = self._ports[appliance]
        self._registry.by_port.pop(port, None)
        site = self._sites.pop(appliance, None)
        if site is not None:
            self._spawn(site.stop())
        if self._runner is not None and self._runner.server is not None:
            for handler in self._runner.server.connections:
                transport = handler.transport
                sockname = transport.get_extra_info("sockname") if transport else None
                if sockname and sockname[1] == port:
                    handler.force_close()

    def come_up(self, appliance: str, then: Callable[[], None]) -> None:
        """Listen again on the appliance's port, then call `then`."""
        self._spawn(self._reopen(self._appliances[appliance], then))

    async def _reopen(self, appliance: SimAppliance, then: Callable[[], None]) -> None:
        port = self._ports[appliance.name]
        for _ in range(_REOPEN_ATTEMPTS):  # the old socket may linger a moment
            try:
                await self._listen(appliance, port)
                break
            except ConfigError:
                await asyncio.sleep(_REOPEN_PAUSE)
        then()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what tests and the CLI read ----------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Appliance names, in scenario order."""
        return tuple(self._appliances)

    def url(self, name: str) -> str:
        """Base URL of an appliance, e.g. http://127.0.0.1:40001."""
        return f"http://{HOST}:{self._ports[name]}"

    def api_key(self, name: str) -> str:
        """The API key an appliance accepts."""
        return self._appliances[name].api_key

    def version(self, name: str) -> str:
        """The version an appliance is running now."""
        return self._appliances[name].version

    def ingest_enabled(self, cluster: str) -> bool:
        """Whether record ingest is on for an Explore cluster."""
        for appliance in self._appliances.values():
            if appliance.cluster is not None and appliance.cluster.name == cluster:
                return appliance.cluster.ingest_enabled
        raise KeyError(cluster)

    def appliance(self, name: str) -> SimAppliance:
        """The state of one appliance (for tests that look inside)."""
        return self._appliances[name]

    def events_for(self, name: str) -> list[Event]:
        """Events of one appliance, in order."""
        return [e for e in self.events if e.appliance == name]

    def events_of(self, kind: str) -> list[Event]:
        """Events of one kind, in order."""
        return [e for e in self.events if e.kind == kind]

    def request_count(self, name: str) -> int:
        """HTTP requests this appliance has received."""
        return self._appliances[name].requests

    def _entries(self) -> list[writer.Entry]:
        return [
            writer.Entry(
                a.name,
                self.url(a.name),
                a.role.value,
                a.spec.cluster,
                a.spec.node.value if a.spec.node else None,
                a.api_key,
            )
            for a in self._appliances.values()
        ]

    def key_exports(self) -> str:
        """`export SIM_KEY_NAME=...` lines for an inventory written with keys="env"."""
        return writer.key_exports(self._entries())

    def target_version(self) -> str:
        """The version written inventories upgrade to."""
        if self.scenario.target_version:
            return self.scenario.target_version
        versions = sorted(self.scenario.available_versions, key=lambda v: parse_version(v) or 0)
        if not versions:
            raise ConfigError("the scenario names no target_version or available_versions")
        return versions[-1]

    def write_inventory(
        self,
        path: Path,
        *,
        keys: Literal["file", "env"] = "file",
        mode: Literal["file", "url", "cloud"] = "file",
    ) -> Path:
        """Write an inventory for this fleet (keys and images beside it); return its path."""
        return writer.write_inventory(
            path,
            self._entries(),
            version=self.target_version(),
            image_size=self.scenario.image_size,
            keys=keys,
            mode=mode,
        )

"""SimulatedFleet: every appliance of a scenario on its own 127.0.0.1 port, in one process.

With `tls=True` every appliance serves HTTPS with a certificate from the fleet's own CA
(`simulator.certs`), and so does the fleet's firmware repository (`simulator.repository`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any, Literal, Self

import aiohttp
from aiohttp import web

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import parse_version
from orchestrator.simulator import writer
from orchestrator.simulator.app import Registry, create_app
from orchestrator.simulator.download import fetch
from orchestrator.simulator.fleet import SimAppliance, build_appliances
from orchestrator.simulator.host import Event
from orchestrator.simulator.repository import create_repository

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from types import TracebackType
    from typing import IO

    from orchestrator.simulator.certs import FleetCertificates
    from orchestrator.simulator.jobs import Fetched
    from orchestrator.simulator.scenario import Scenario

HOST = "127.0.0.1"
REPOSITORY = "firmware-repository"  # the common name of the repository's certificate
_REOPEN_ATTEMPTS = 50
_REOPEN_PAUSE = 0.05


class SimulatedFleet:
    """Serve a scenario's appliances until the `async with` block ends."""

    def __init__(
        self, scenario: Scenario, *, event_log: Path | None = None, tls: bool = False
    ) -> None:
        self.scenario = scenario
        self.certificates: FleetCertificates | None = None
        if tls:  # trustme and cryptography are imported only for a TLS fleet
            from orchestrator.simulator.certs import FleetCertificates  # noqa: PLC0415

            self.certificates = FleetCertificates()
        self.events: list[Event] = []
        self._event_log_path = event_log
        self._log: IO[str] | None = None
        self._appliances = build_appliances(scenario, self)
        versions = dict.fromkeys(scenario.available_versions)
        if scenario.target_version:
            versions[scenario.target_version] = None
        self._registry = Registry(dict(self._appliances), {}, tuple(versions))
        self._runner: web.AppRunner | None = None
        self._repository: web.AppRunner | None = None
        self._downloads: aiohttp.ClientSession | None = None
        self._sites: dict[str, web.TCPSite] = {}
        self._repository_port = 0
        self._ports = self._registry.ports
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # cancelled when the fleet stops
        self._port_tasks: set[asyncio.Task[None]] = set()  # awaited: they open or close ports
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._event_log_path is not None:
            self._log = self._event_log_path.open("a", encoding="utf-8")
        self._runner = web.AppRunner(
            create_app(self._registry), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        self._repository = web.AppRunner(
            create_repository(self.scenario.image_size), handle_signals=False, access_log=None
        )
        await self._repository.setup()
        try:
            await self._serve_repository()
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
        # A port being reopened stays closed; one opened halfway is finished, then stopped with
        # the rest (a cancel inside `site.start()` would leave its socket listening, unowned).
        self._closing = True
        await asyncio.gather(*self._port_tasks, return_exceptions=True)
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._timers.clear()
        for runner in (self._runner, self._repository):
            if runner is not None:
                await runner.cleanup()
        if self._downloads is not None:
            await self._downloads.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def _listen(self, appliance: SimAppliance, port: int) -> None:
        if self._runner is None:
            raise RuntimeError("the fleet is not running")
        ssl_context = None
        if self.certificates is not None:
            kind = appliance.spec.certificate
            ssl_context = self.certificates.server_context(appliance.name, kind)
        site = web.TCPSite(self._runner, HOST, port, reuse_address=True, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"{appliance.name}: cannot listen on {HOST}:{port} ({exc})") from None
        self._sites[appliance.name] = site
        self._ports[appliance.name] = site.port
        self._registry.by_port[site.port] = appliance

    async def _serve_repository(self) -> None:
        if self._repository is None:
            raise RuntimeError("the fleet is not running")
        context = None
        if self.certificates is not None:
            context = self.certificates.server_context(REPOSITORY)
        site = web.TCPSite(self._repository, HOST, 0, ssl_context=context)
        await site.start()
        self._repository_port = site.port

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
            self._spawn(site.stop(), holds_a_port=True)
        if self._runner is not None and self._runner.server is not None:
            for handler in self._runner.server.connections:
                transport = handler.transport
                sockname = transport.get_extra_info("sockname") if transport else None
                if sockname and sockname[1] == port:
                    handler.force_close()

    def come_up(self, appliance: str, then: Callable[[], None]) -> None:
        """Listen again on the appliance's port, then call `then`."""
        self._spawn(self._reopen(self._appliances[appliance], then), holds_a_port=True)

    async def _reopen(self, appliance: SimAppliance, then: Callable[[], None]) -> None:
        port = self._ports[appliance.name]
        for _ in range(_REOPEN_ATTEMPTS):  # the old socket may linger a moment
            if self._closing:
                return
            try:
                await self._listen(appliance, port)
                break
            except ConfigError:
                await asyncio.sleep(_REOPEN_PAUSE)
        then()

    def download(self, appliance: str, url: str, then: Callable[[Fetched], None]) -> None:
        """Fetch `url` for real (from this machine only), then call `then` with what came."""
        del appliance  # every appliance downloads through the same session

        async def run() -> None:
            if self._downloads is None:
                self._downloads = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            trust = self.certificates.client_context() if self.certificates else None
            then(await fetch(self._downloads, url, trust=trust))

        self._spawn(run())

    def _spawn(self, coro: Coroutine[Any, Any, None], *, holds_a_port: bool = False) -> None:
        """Run `coro` beside the fleet until the fleet stops.

        Cancelled then, unless it opens or closes a listening socket (`holds_a_port`): that one
        is awaited.
        """
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        tasks = self._port_tasks if holds_a_port else self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # -- what tests and the CLI read ----------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Appliance names, in scenario order."""
        return tuple(self._appliances)

    def url(self, name: str) -> str:
        """Base URL of an appliance, e.g. https://127.0.0.1:40001 (http:// without TLS)."""
        return self._base_url(self._ports[name])

    def _base_url(self, port: int) -> str:
        scheme = "http" if self.certificates is None else "https"
        return f"{scheme}://{HOST}:{port}"

    @property
    def repository_url(self) -> str:
        """Base URL of the firmware repository: images are at `/firmware/<role>-<version>.tar`."""
        return self._base_url(self._repository_port)

    @property
    def ca_pem(self) -> bytes | None:
        """The fleet CA's certificate (PEM) that every appliance's chains to; None without TLS."""
        return self.certificates.ca_pem if self.certificates is not None else None

    def replace_certificate(self, name: str) -> None:
        """Give appliance `name` a new certificate from the fleet's CA (as an admin would)."""
        if self.certificates is None:
            raise RuntimeError("the fleet does not serve TLS")
        self.certificates.replace(name)

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
            repository=self.repository_url,
            ca_pem=self.ca_pem,
        )

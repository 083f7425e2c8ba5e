"""The ExtraHop REST API of one appliance, on an injected aiohttp session.

Only this module (with `orchestrator.appliance.transport`) and the simulator import aiohttp. Every
request is rate-capped per appliance, carries its own timeouts and TLS settings, and is
retried through stamina according to whether it is safe to send again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp
import stamina
import structlog
from asyncio_throttle.throttler import Throttler
from pydantic import BaseModel

from orchestrator.appliance.imageread import CHUNK_SIZE, ImageCheck, read_chunks
from orchestrator.appliance.tlsconfig import TlsSetting, tls_setting
from orchestrator.appliance.transport import (
    Answer,
    http_error,
    idempotent_retry,
    is_tls_failure,
    map_aiohttp_errors,
    unprocessed_retry,
)
from orchestrator.core.consolelist import ConsoleJob, ListedAppliance
from orchestrator.core.errors import (
    ApiError,
    ApplianceError,
    PreconditionFailed,
    TransportError,
)
from orchestrator.core.models import (
    FIRMWARE_MEDIA_TYPE,
    ApplianceInfo,
    ClusterInfo,
    JobState,
    PreviousFirmware,
    ProcessState,
)
from orchestrator.core.tls import TlsCheck

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from pathlib import Path

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Appliance
    from orchestrator.plan.model import ImageInfo

__all__ = [
    "CHUNK_SIZE",
    "ApplianceClient",
    "idle_timeout",
    "map_aiohttp_errors",
    "open_session",
    "pool_limit",
]

_API = "/api/v1"
_JSON = "application/json"
_JOB_PATH = re.compile(r"/jobs/([^/]+)/?$")
_BACKUP_PATH = re.compile(r"/customizations/([^/]+)/?$")
_EXBK = "application/exbk"
_WAIT_INITIAL = 0.5  # seconds before the first retry (plus jitter)
_WAIT_MAX = 30.0  # longest backoff between two retries, Retry-After aside
_SERVER_ERROR = 500
_TOO_MANY_REQUESTS = 429
_SPARE_CONNECTIONS = 16  # besides one per appliance worked on: ingest halts and restores
_KEEPALIVE_MAX = 15.0  # aiohttp's default keep-alive, the most an idle connection is kept

Policy = Literal["idempotent", "unprocessed", "once"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Request:
    """What to send; a body factory makes a fresh stream for every attempt."""

    method: str
    path: str
    json_body: dict[str, Any] | None
    body_factory: Callable[[], AsyncGenerator[bytes | memoryview]] | None
    headers: dict[str, str]


def open_session(settings: Settings, *, idle: float | None = None) -> aiohttp.ClientSession:
    """A session able to serve a whole fleet; open it inside the event loop and close it.

    At most `concurrency` appliances are worked on at once, one request each, so that many
    connections (and a few for ingest) are all a run uses; an idle one is kept for the gap
    between an appliance's polls (`poll_interval_max`, at most 15 s), not much longer after
    its appliance is done. Over TLS each open connection holds ~285 KiB. `idle`: seconds an
    idle connection is kept instead; 0 closes each after its answer.
    """
    seconds = idle_timeout(settings) if idle is None else idle
    kept = {"keepalive_timeout": seconds} if seconds > 0 else {"force_close": True}
    connector = aiohttp.TCPConnector(limit=pool_limit(settings), limit_per_host=0, **kept)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
    )
    # One session talks to many appliances: no cookies may travel from one to another.
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    )


def pool_limit(settings: Settings) -> int:
    """Connections open at once: one per appliance worked on, and spares for ingest."""
    return settings.concurrency + _SPARE_CONNECTIONS


def idle_timeout(settings: Settings) -> float:
    """Seconds an idle connection is kept: `poll_interval_max`, at most aiohttp's 15 s."""
    return min(_KEEPALIVE_MAX, settings.poll_interval_max)


def _throttler(requests_per_second: float) -> Throttler:
    # Throttler counts whole requests per period: 2.5/s becomes 3 per 1.2 s, 0.5/s 1 per 2 s.
    burst = max(1, math.ceil(requests_per_second))
    return Throttler(rate_limit=burst, period=burst / requests_per_second)


class ApplianceClient:
    """The ExtraHop REST API of one appliance."""

    def __init__(
        self, session: aiohttp.ClientSession, appliance: Appliance, settings: Settings
    ) -> None:
        self.name = appliance.name
        self._session = session
        self._appliance = appliance
        self._settings = settings
        self._base = appliance.url.rstrip("/") + _API
        self._throttler = _throttler(settings.requests_per_second)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        self._ssl: TlsSetting | None = None  # built on first use
        self._base_headers: dict[str, str] | None = None  # built on first use
        self._log = structlog.get_logger(__name__).bind(appliance=self.name)
        if appliance.tls_check is TlsCheck.NONE:
            self._log.warning("tls.verification_disabled")

    def __repr__(self) -> str:
        return f"ApplianceClient(name={self.name!r}, url={self._appliance.url!r})"

    # --- identity -------------------------------------------------------------------------

    async def get_info(self, *, retry: bool = True) -> ApplianceInfo:
        """Version, platform and hostname from GET /extrahop (one try if not `retry`)."""
        policy: Policy = "idempotent" if retry else "once"
        return await self._get_model("/extrahop", ApplianceInfo, policy=policy)

    async def get_version(self, *, retry: bool = True) -> str:
        """The running firmware version, from GET /extrahop/version (one try if not `retry`)."""
        policy: Policy = "idempotent" if retry else "once"
        return await self._get_field("/extrahop/version", "version", policy=policy)

    async def get_platform(self) -> str:
        """The platform (discover, command, explore, trace...), from GET /extrahop/platform."""
        return await self._get_field("/extrahop/platform", "platform")

    async def get_edition(self) -> str:
        """The edition, from GET /extrahop/edition."""
        return await self._get_field("/extrahop/edition", "edition")

    async def ping(self) -> bool:
        """One unretried GET /extrahop/version: whether the API answers (auth and TLS raise)."""
        try:
            await self._call("once", "GET", "/extrahop/version")
        except TransportError as exc:
            if is_tls_failure(exc):
                raise
            return False
        except ApiError as exc:
            if exc.status >= _SERVER_ERROR or exc.status == _TOO_MANY_REQUESTS:
                return False
            raise
        return True

    # --- Explore cluster ------------------------------------------------------------------

    async def get_cluster(self) -> ClusterInfo:
        """Whether the Explore cluster ingests records, from GET /extrahop/cluster."""
        return await self._get_model("/extrahop/cluster", ClusterInfo)

    async def set_ingest(self, *, enabled: bool) -> None:
        """Halt or resume record ingest for the whole Explore cluster (PATCH /extrahop/cluster)."""
        body = {"ingest_enabled": enabled}
        await self._call("idempotent", "PATCH", "/extrahop/cluster", json_body=body)

    # --- firmware -------------------------------------------------------------------------

    async def upload_firmware(
        self,
        path: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        expected: ImageInfo | None = None,
    ) -> None:
        """Stream a firmware image from disk to POST /extrahop/firmware; re-sent whole on faults.

        An image that is no longer the plan's (`expected`) is never sent whole: PreconditionFailed.
        """
        try:
            total = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise PreconditionFailed(self.name, f"cannot read firmware {path}: {reason}") from exc
        check = None if expected is None else ImageCheck(self.name, path, expected).sized(total)
        headers = {"Content-Type": FIRMWARE_MEDIA_TYPE, "Content-Length": str(total)}
        await self._call(
            "idempotent",
            "POST",
            "/extrahop/firmware",
            body_factory=lambda: read_chunks(path, total, progress, check),
            headers=headers,
        )

    async def start_upgrade(self, *, restart_after: bool = True) -> str | None:
        """Install the uploaded image; the job id, or None when the firmware predates jobs."""
        body = {"restart_after": restart_after}
        return await self._start_job("/extrahop/firmware/latest/upgrade", body)

    async def download_url(
        self, url: str, *, upgrade: bool = True, force: bool = False
    ) -> str | None:
        """Have the appliance download (and by default install) an image from a URL.

        `force` skips the appliance's own compatibility check: a planned downgrade needs it.
        """
        body: dict[str, Any] = {"firmware_url": url, "upgrade": upgrade}
        if force:
            body["force"] = True
        return await self._start_job("/extrahop/firmware/download/url", body)

    async def download_version(self, version: str, *, upgrade: bool = False) -> str | None:
        """Have the appliance download a version from ExtraHop Cloud Services."""
        body = {"version": version, "upgrade": upgrade}
        return await self._start_job("/extrahop/firmware/download/version", body)

    async def firmware_next(self) -> list[dict[str, Any]]:
        """The releases the appliance could upgrade to, from GET /extrahop/firmware/next."""
        path = "/extrahop/firmware/next"
        data = await self._get_json(path)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self._unexpected(path, "expected a list of releases")
        return data

    async def get_previous(self) -> PreviousFirmware:
        """The firmware a rollback would restore, from GET /extrahop/firmware/previous."""
        return await self._get_model("/extrahop/firmware/previous", PreviousFirmware)

    async def rollback_firmware(self) -> None:
        """Restart into the previous firmware (POST firmware/previous/rollback, 202, no job).

        Never retried once the appliance may have taken it: a second rollback could undo the
        first (the previous firmware is then the one just left).
        """
        await self._call("unprocessed", "POST", "/extrahop/firmware/previous/rollback")

    async def list_appliances(self) -> list[ListedAppliance]:
        """The appliance itself and, on a console, those connected to it (GET /appliances)."""
        return await self._get_models("/appliances", ListedAppliance, "appliances")

    async def console_firmware_next(self, ids: list[int] | None = None) -> list[dict[str, Any]]:
        """Console: the versions connected appliances can go to (GET appliances/firmware/next)."""
        query = f"?ids={','.join(str(i) for i in ids)}" if ids else ""
        path = f"/appliances/firmware/next{query}"
        data = await self._get_json(path)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self._unexpected(path, "expected a list of releases")
        return data

    async def console_upgrade(self, system_ids: list[int], version: str) -> str | None:
        """Console: upgrade connected appliances through Cloud Services; the console job's id."""
        body = {"system_ids": system_ids, "version": version}
        return await self._start_job("/appliances/firmware/upgrade", body)

    async def get_console_job(self, job_id: str, *, retry: bool = True) -> ConsoleJob:
        """One poll of a console job, with each appliance's remote job."""
        return await self._poll(job_id, ConsoleJob, retry=retry)

    # --- jobs -----------------------------------------------------------------------------

    async def get_job(self, job_id: str, *, retry: bool = True) -> JobState:
        """One poll of GET /jobs/{id}; `retry=False` when the caller's poll loop retries."""
        return await self._poll(job_id, JobState, retry=retry)

    async def list_jobs(self) -> list[JobState]:
        """Every job the appliance knows, from GET /jobs."""
        return await self._get_models("/jobs", JobState, "jobs")

    # --- backup and health (reference/extrahop-api.md §1.6; answer shapes partly unverified) --

    async def create_backup(self, name: str) -> str:
        """POST /customizations `{"name"}`: the new backup's id, from its `Location` (201)."""
        path = "/customizations"
        answer = await self._call("unprocessed", "POST", path, json_body={"name": name})
        location = (answer.location or "").split("?", 1)[0]
        match = _BACKUP_PATH.search(location)
        if match is None:
            what = f"no backup id in Location {answer.location!r}"
            raise TransportError(self.name, f"unexpected answer to POST {_API}{path}: {what}")
        return match.group(1)

    async def download_backup(self, backup_id: str) -> bytes:
        """POST /customizations/{id}/download with `Accept: application/exbk`: the file."""
        path = f"/customizations/{backup_id}/download"
        answer = await self._call("idempotent", "POST", path, headers={"Accept": _EXBK})
        return answer.body

    async def get_running_config(self) -> bytes:
        """GET /runningconfig: the running configuration, as the appliance sent it (JSON)."""
        answer = await self._call("idempotent", "GET", "/runningconfig")
        with map_aiohttp_errors(self.name, request=f"GET {_API}/runningconfig"):
            json.loads(answer.body)  # a truncated or non-JSON answer is not a backup
        return answer.body

    async def get_processes(self) -> list[ProcessState]:
        """GET /extrahop/processes: each process and whether it runs."""
        return await self._get_models("/extrahop/processes", ProcessState, "processes")

    async def get_license(self) -> dict[str, Any]:
        """GET /license: the license applied to the appliance, as a JSON object."""
        data = await self._get_json("/license")
        if not isinstance(data, dict):
            raise self._unexpected("/license", "expected a JSON object")
        return data

    # --- plumbing -------------------------------------------------------------------------

    async def _poll(self, job_id: str, model: type[M], *, retry: bool) -> M:
        path = f"/jobs/{job_id}"
        data = await self._get_json(path, policy="idempotent" if retry else "once")
        if isinstance(data, dict):
            data.setdefault("id", job_id)
        return self._model(path, model, data)

    async def _start_job(self, path: str, body: dict[str, Any]) -> str | None:
        answer = await self._call("unprocessed", "POST", path, json_body=body)
        if answer.location is None:
            return None
        match = _JOB_PATH.search(answer.location.split("?", 1)[0])
        if match is None:
            self._log.warning("job.location_unrecognised", path=path, location=answer.location)
            return None
        return match.group(1)

    async def _get_field(self, path: str, field: str, *, policy: Policy = "idempotent") -> str:
        data = await self._get_json(path, policy=policy)
        value = data.get(field) if isinstance(data, dict) else None
        if not isinstance(value, str):
            raise self._unexpected(path, f'expected an object with a "{field}" string')
        return value

    async def _get_models(self, path: str, model: type[M], what: str) -> list[M]:
        """GET a JSON list of objects, each validated as `model`."""
        data = await self._get_json(path)
        if not isinstance(data, list):
            raise self._unexpected(path, f"expected a list of {what}")
        return [self._model(path, model, item) for item in data]

    async def _get_model(self, path: str, model: type[M], *, policy: Policy = "idempotent") -> M:
        return self._model(path, model, await self._get_json(path, policy=policy))

    async def _get_json(self, path: str, *, policy: Policy = "idempotent") -> Any:  # noqa: ANN401
        answer = await self._call(policy, "GET", path)
        with map_aiohttp_errors(self.name, request=f"GET {_API}{path}"):
            return json.loads(answer.body)

    def _model(self, path: str, model: type[M], data: object) -> M:
        """Validate the fields `model` knows; the API may add others, or send nulls."""
        if not isinstance(data, dict):
            raise self._unexpected(path, "expected a JSON object")
        fields = _field_names(model)
        known = {k: v for k, v in data.items() if k in fields and v is not None}
        with map_aiohttp_errors(self.name, request=f"GET {_API}{path}"):
            return model.model_validate(known)

    def _unexpected(self, path: str, what: str) -> TransportError:
        return TransportError(self.name, f"unexpected answer to GET {_API}{path}: {what}")

    async def _call(
        self,
        policy: Policy,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        body_factory: Callable[[], AsyncGenerator[bytes | memoryview]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request, retried as `policy` allows; the answer is a 2xx."""
        if self._appliance.api_key is None:  # console mode: it is never asked without a key
            fix = "give it api_key_env or api_key_file in the inventory"
            raise ApplianceError(self.name, f"no API key (console mode): {method} {path}; {fix}")
        request = _Request(method, path, json_body, body_factory, headers or {})
        started = time.monotonic()
        try:
            return await self._attempt(request)
        except ApplianceError as exc:
            if policy == "once":
                raise
            first = exc
        return await self._retry(request, policy, first, time.monotonic() - started)

    async def _retry(
        self, request: _Request, policy: Policy, first: ApplianceError, spent: float
    ) -> Answer:
        """Retry a request whose first attempt failed with `first` after `spent` seconds.

        The retry machinery costs as much CPU as a request, so it is only built once a request
        has failed: stamina is handed that failure as its first attempt's, and decides from it
        whether, and after how long, to send the request again, within what is left of
        `retry_timeout` (the first attempt counts, as it would inside stamina).
        """
        left = self._settings.retry_timeout - spent
        if left <= 0:
            raise first
        hook_factory = idempotent_retry if policy == "idempotent" else unprocessed_retry
        retries = stamina.retry_context(
            on=hook_factory(self._settings.retry_timeout),
            attempts=self._settings.retry_attempts,
            timeout=left,
            wait_initial=_WAIT_INITIAL,
            wait_max=_WAIT_MAX,
        )
        last_error = first
        async for attempt in retries:
            with attempt:
                if attempt.num == 1:
                    raise first
                self._log_retry(request, attempt.num, last_error)
                try:
                    return await self._attempt(request)
                except ApplianceError as exc:
                    last_error = exc
                    raise
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _log_retry(self, request: _Request, num: int, error: ApplianceError) -> None:
        self._log.warning(
            "request.retried",
            method=request.method,
            path=_API + request.path,
            attempt=num,
            error=error.message,
        )

    async def _attempt(self, request: _Request) -> Answer:
        """One rate-capped exchange; HTTP error statuses raised as ApiError."""
        await self._throttler.acquire()  # type: ignore[no-untyped-call]  # untyped library
        answer = await self._exchange(request)
        if not 200 <= answer.status < 300:  # noqa: PLR2004
            raise http_error(self.name, answer, secret=self._key())
        return answer

    async def _exchange(self, request: _Request) -> Answer:
        """One HTTP exchange, every foreign error translated."""
        body = request.body_factory() if request.body_factory is not None else None
        with map_aiohttp_errors(self.name, request=f"{request.method} {_API}{request.path}"):
            async with self._session.request(
                request.method,
                self._base + request.path,
                headers=self._headers(request.headers),
                json=request.json_body,
                data=body,
                ssl=self._ssl_setting(),
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the key elsewhere
            ) as response:
                return Answer(
                    status=response.status,
                    reason=response.reason or "",
                    body=await response.read(),
                    location=response.headers.get("Location"),
                    retry_after=response.headers.get("Retry-After"),
                )

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        if self._base_headers is None:  # built once: most requests (every poll) add nothing
            self._base_headers = {"Accept": _JSON}
            self._base_headers["Authorization"] = f"ExtraHop apikey={self._key()}"
        return self._base_headers | extra if extra else self._base_headers

    def _key(self) -> str:
        key = self._appliance.api_key
        return key.get_secret_value() if key is not None else ""

    def _ssl_setting(self) -> TlsSetting:
        """Per-request TLS, built on first use (a bad ca_bundle fails the first request)."""
        if self._ssl is None:
            self._ssl = tls_setting(self._appliance)
        return self._ssl


@functools.cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)

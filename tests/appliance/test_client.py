"""The real ApplianceClient against the real simulator, over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import stamina
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator.appliance.client import CHUNK_SIZE, ApplianceClient, open_session
from orchestrator.appliance.imageread import hash_image
from orchestrator.core import errors
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, FileFirmware, JobState, Role
from orchestrator.plan import ImageInfo
from orchestrator.simulator import Scenario, SimulatedFleet, make_image
from orchestrator.simulator.testing import Api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import aiohttp

TARGET = "9.9.1.100"
IMAGE_SIZE = 3 * CHUNK_SIZE + 1234  # three full chunks and a remainder
FAST = Settings(requests_per_second=1000, retry_attempts=4, retry_timeout=10)


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def scenario(*appliances: dict[str, Any], **extra: object) -> Scenario:
    return Scenario.model_validate(
        {
            "time_scale": 0.001,
            "target_version": TARGET,
            "available_versions": ["9.9.0.500", TARGET],
            "clusters": {"exa": {"ingest_enabled": True}},
            "appliances": list(appliances),
        }
        | extra
    )


def eda(**faults: object) -> dict[str, Any]:
    return {
        "name": "eda1",
        "role": "discover",
        "version": "9.8.0.100",
        "api_key": "k-eda1",
        "faults": faults,
    }


def exa() -> dict[str, Any]:
    return {
        "name": "exa1",
        "role": "explore",
        "version": "9.8.0.100",
        "cluster": "exa",
        "node": "manager",
        "api_key": "k-exa1",
    }


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session(FAST) as session:
        yield session


def client_for(
    fleet: SimulatedFleet,
    name: str,
    session: aiohttp.ClientSession,
    settings: Settings = FAST,
    *,
    key: str | None = None,
) -> ApplianceClient:
    appliance = Appliance(
        name=name,
        url=fleet.url(name),
        role=Role(fleet.appliance(name).role),
        firmware=FileFirmware(file=Path(f"{name}.tar")),
        api_key=SecretStr(key or fleet.api_key(name)),
    )
    return ApplianceClient(session, appliance, settings)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "eda.tar", "discover", TARGET, size=IMAGE_SIZE)


async def wait_for_job(client: ApplianceClient, job_id: str) -> JobState:
    """Poll like the vendor's script: a restarting appliance is waited out."""
    async with asyncio.timeout(10):
        while True:
            try:
                job = await client.get_job(job_id)
            except errors.TransportError:
                job = None
            if job is not None and job.terminal:
                return job
            await asyncio.sleep(0.02)


async def wait_until_up(client: ApplianceClient) -> None:
    async with asyncio.timeout(10):
        while not await client.ping():  # noqa: ASYNC110 - polling the API is the point
            await asyncio.sleep(0.02)


def kinds(fleet: SimulatedFleet, name: str) -> list[str]:
    return [event.kind for event in fleet.events_for(name)]


# --- reading an appliance ----------------------------------------------------------------


async def test_identity_is_read(session: aiohttp.ClientSession) -> None:
    """get_info, get_version, get_platform and get_edition report what the appliance runs."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        info = await client.get_info()
        assert (info.version, info.platform, info.hostname) == ("9.8.0.100", "discover", "eda1")
        assert await client.get_version() == "9.8.0.100"
        assert await client.get_platform() == "discover"
        assert await client.get_edition()
        assert client.name == "eda1"


async def test_ingest_is_halted_and_restored(session: aiohttp.ClientSession) -> None:
    """set_ingest switches the Explore cluster's ingest, and get_cluster reads it back."""
    async with SimulatedFleet(scenario(exa())) as fleet:
        client = client_for(fleet, "exa1", session)
        assert (await client.get_cluster()).ingest_enabled is True
        await client.set_ingest(enabled=False)
        assert fleet.ingest_enabled("exa") is False
        assert (await client.get_cluster()).ingest_enabled is False
        await client.set_ingest(enabled=True)
        assert fleet.ingest_enabled("exa") is True


async def test_cluster_of_a_non_explore_appliance_is_an_api_error(
    session: aiohttp.ClientSession,
) -> None:
    """Asking a Discover appliance for its cluster fails with the appliance's own message."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.ApiError, match="not an Explore cluster node") as caught:
            await client.get_cluster()
        assert caught.value.status == 404


async def test_firmware_next_lists_newer_releases(session: aiohttp.ClientSession) -> None:
    """firmware_next returns the releases the appliance could move to."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        releases = await client_for(fleet, "eda1", session).firmware_next()
    assert [r["release"] for r in releases] == ["9.9"]
    assert releases[0]["versions"] == [TARGET, "9.9.0.500"]


# --- upload and upgrade --------------------------------------------------------------------


def hashed(path: Path) -> ImageInfo:
    """The image as the plan records it."""
    data = path.read_bytes()
    return ImageInfo(path=str(path), size=len(data), sha256=hashlib.sha256(data).hexdigest())


def overwrite(path: Path, offset: int, data: bytes) -> None:
    """Change bytes of the image in place (its size stays)."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


@pytest.mark.parametrize("planned", [False, True], ids=["unchecked", "checked"])
async def test_upload_streams_in_chunks_with_progress(
    session: aiohttp.ClientSession, image: Path, *, planned: bool
) -> None:
    """The image goes up in CHUNK_SIZE pieces, progress rising to the full size, and is accepted."""
    total = IMAGE_SIZE
    seen: list[tuple[int, int]] = []
    async with SimulatedFleet(scenario(eda())) as fleet:
        await client_for(fleet, "eda1", session).upload_firmware(
            image,
            progress=lambda sent, size: seen.append((sent, size)),
            expected=hashed(image) if planned else None,
        )
        completed = fleet.events_of("upload.completed")
    sent = [s for s, _ in seen]
    assert {size for _, size in seen} == {total}
    assert sent == sorted(sent)
    assert (sent[0], sent[-1]) == (0, total)
    assert max(b - a for a, b in itertools.pairwise(sent)) == CHUNK_SIZE
    assert len(sent) == 1 + 4  # 0, then three full chunks and the remainder
    assert completed[0].data == {"bytes": total, "version": TARGET}


@pytest.mark.parametrize("when", ["before", "while-streaming"])
async def test_an_image_changed_since_the_plan_never_arrives_whole(
    session: aiohttp.ClientSession, image: Path, when: str
) -> None:
    """Bytes that differ from the plan's image are cut before the last chunk, and not retried."""
    expected = hashed(image)
    seen: list[int] = []

    def progress(sent: int, _: int) -> None:
        seen.append(sent)
        if sent == CHUNK_SIZE and when == "while-streaming":
            overwrite(image, IMAGE_SIZE - 10, b"tampered!!")

    if when == "before":
        overwrite(image, 100, b"tampered")
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.PreconditionFailed) as caught:
            await client.upload_firmware(image, progress=progress, expected=expected)
        api = Api(session, fleet)
        await api.wait_for(lambda: "upload.failed" in kinds(fleet, "eda1"))
        assert kinds(fleet, "eda1") == ["upload.started", "upload.failed"]
        assert fleet.appliance("eda1").staged is None
    assert seen[-1] == 3 * CHUNK_SIZE  # the last chunk was held back
    now = hashed(image).sha256
    assert str(caught.value) == (
        f"eda1: image {image} changed since the plan "
        f"(sha256 {expected.sha256[:12]}… -> {now[:12]}…); plan again"
    )


@pytest.mark.parametrize("written", [False, True], ids=["untouched", "written-while-sent"])
async def test_an_image_this_process_hashed_is_trusted_only_while_untouched(
    session: aiohttp.ClientSession, image: Path, *, written: bool
) -> None:
    """The file hashed for the plan goes out unhashed; written to meanwhile, it never arrives."""
    size, sha256 = hash_image(image)
    expected = ImageInfo(path=str(image), size=size, sha256=sha256)

    def progress(sent: int, _: int) -> None:
        if sent == CHUNK_SIZE and written:
            overwrite(image, 10, b"same-size!")

    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        if not written:
            await client.upload_firmware(image, progress=progress, expected=expected)
            assert fleet.appliance("eda1").staged is not None
            return
        with pytest.raises(errors.PreconditionFailed, match="written to while it was being sent"):
            await client.upload_firmware(image, progress=progress, expected=expected)
        api = Api(session, fleet)
        await api.wait_for(lambda: "upload.failed" in kinds(fleet, "eda1"))
        assert fleet.appliance("eda1").staged is None


@pytest.mark.parametrize("change", [-1000, +1000], ids=["shrank", "grew"])
async def test_an_image_of_another_size_is_not_sent_at_all(
    session: aiohttp.ClientSession, image: Path, change: int
) -> None:
    """An image whose size changed since the plan fails before a single request."""
    expected = hashed(image)
    with image.open("r+b") as handle:
        handle.truncate(IMAGE_SIZE + change)
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.PreconditionFailed, match="changed since the plan") as caught:
            await client.upload_firmware(image, expected=expected)
        assert fleet.request_count("eda1") == 0
    assert f"(size {IMAGE_SIZE} -> {IMAGE_SIZE + change} bytes); plan again" in str(caught.value)


async def test_an_image_that_shrinks_while_streaming_is_cut(
    session: aiohttp.ClientSession, image: Path
) -> None:
    """A file truncated during its upload ends the request short, naming what was read."""
    expected = hashed(image)

    def progress(sent: int, _: int) -> None:
        if sent == CHUNK_SIZE:
            with image.open("r+b") as handle:
                handle.truncate(2 * CHUNK_SIZE)

    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.PreconditionFailed) as caught:
            await client.upload_firmware(image, progress=progress, expected=expected)
        await Api(session, fleet).wait_for(lambda: "upload.failed" in kinds(fleet, "eda1"))
        assert "upload.completed" not in kinds(fleet, "eda1")
    assert f"(size {IMAGE_SIZE} -> {2 * CHUNK_SIZE} bytes); plan again" in str(caught.value)


async def test_upload_of_a_missing_file_names_it(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Uploading an image that is not on disk fails before any request, naming the file."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.PreconditionFailed, match=r"missing\.tar"):
            await client.upload_firmware(tmp_path / "missing.tar")
        assert fleet.request_count("eda1") == 0


async def test_wrong_image_is_refused_at_once(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """An image for another platform fails with the appliance's reason, without re-uploading."""
    wrong = make_image(tmp_path / "eca.tar", "command", TARGET, size=4096)
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.ApiError, match="for command appliances") as caught:
            await client.upload_firmware(wrong)
        assert caught.value.status == 400
        assert fleet.request_count("eda1") == 1


async def test_upgrade_runs_a_job_then_the_appliance_restarts(
    session: aiohttp.ClientSession, image: Path
) -> None:
    """start_upgrade gives a job that ends DONE, and the appliance comes back upgraded."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        job_id = await client.start_upgrade()
        assert job_id is not None
        first = await client.get_job(job_id)
        assert (first.id, first.status, first.total_steps) == (job_id, "RUNNING", 4)
        assert first.step_description
        assert [job.id for job in await client.list_jobs()] == [job_id]
        assert (await wait_for_job(client, job_id)).status == "DONE"
        await wait_until_up(client)
        assert await client.get_version() == TARGET
        assert "restart.started" in kinds(fleet, "eda1")


async def test_download_by_url_starts_a_job(session: aiohttp.ClientSession) -> None:
    """download_url makes the appliance fetch the image from the URL and install it, as a job."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        job_id = await client.download_url(f"{fleet.repository_url}/firmware/discover-{TARGET}.tar")
        assert job_id is not None
        job = await wait_for_job(client, job_id)
        assert job.status == "DONE"
        assert fleet.events_of("job.created")[0].data["type"] == "download_url"
        assert fleet.events_of("download.completed")[0].data["version"] == TARGET


async def test_download_by_version_starts_a_job(session: aiohttp.ClientSession) -> None:
    """download_version fetches a cloud version without installing it by default."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        job_id = await client.download_version(TARGET)
        assert job_id is not None
        assert (await wait_for_job(client, job_id)).status == "DONE"
        assert "restart.started" not in kinds(fleet, "eda1")
        assert await client.get_version() == "9.8.0.100"


async def test_unknown_cloud_version_is_refused(session: aiohttp.ClientSession) -> None:
    """A version Cloud Services does not offer fails at once with the appliance's reason."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        with pytest.raises(errors.ApiError, match="not available") as caught:
            await client.download_version("1.2.3.4")
        assert caught.value.status == 400
        assert fleet.request_count("eda1") == 1


async def test_requests_are_rate_capped(session: aiohttp.ClientSession) -> None:
    """No more than requests_per_second requests reach one appliance in any second."""
    settings = Settings(requests_per_second=20)
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session, settings)
        started = time.monotonic()
        await asyncio.gather(*(client.get_version() for _ in range(21)))
        elapsed = time.monotonic() - started
        assert fleet.request_count("eda1") == 21
    assert elapsed >= 0.95


@pytest.mark.parametrize("verify_tls", [True, False], ids=["verified", "unverified"])
async def test_https_to_a_plain_http_appliance_says_so(
    session: aiohttp.ClientSession, *, verify_tls: bool
) -> None:
    """An https:// URL on the simulator's plain-HTTP port names the scheme, not ca_bundle."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        url = fleet.url("eda1").replace("http://", "https://")
        port = url.rsplit(":", 1)[1]
        appliance = Appliance(
            name="eda1",
            url=url,
            role=Role.DISCOVER,
            firmware=FileFirmware(file=Path("eda1.tar")),
            api_key=SecretStr(fleet.api_key("eda1")),
            verify_tls=verify_tls,
        )
        client = ApplianceClient(session, appliance, FAST)
        with pytest.raises(errors.TransportError) as caught:
            await client.get_info()
        with pytest.raises(errors.TransportError):
            await client.ping()  # waiting would not help: raised, not "not answering"
    message = str(caught.value)
    assert f"does not speak TLS on 127.0.0.1:{port}" in message
    assert "use an http:// URL" in message
    assert "ca_bundle" not in message
    assert "\n" not in message


# --- faults the simulator scripts ----------------------------------------------------------


async def test_5xx_burst_is_retried(session: aiohttp.ClientSession) -> None:
    """Two 503s in a row are retried, logged as request.retried, and the read then succeeds."""
    async with SimulatedFleet(scenario(eda(http_5xx=2))) as fleet:
        with capture_logs() as logs:
            assert await client_for(fleet, "eda1", session).get_version() == "9.8.0.100"
        assert fleet.request_count("eda1") == 3
    retried = [e for e in logs if e["event"] == "request.retried"]
    assert [(e["attempt"], e["method"], e["path"]) for e in retried] == [
        (2, "GET", "/api/v1/extrahop/version"),
        (3, "GET", "/api/v1/extrahop/version"),
    ]
    assert retried[0]["appliance"] == "eda1"
    assert "503" in retried[0]["error"]


async def test_5xx_beyond_the_attempts_fails(session: aiohttp.ClientSession) -> None:
    """A 5xx burst longer than retry_attempts ends as an ApiError carrying the status."""
    settings = FAST.model_copy(update={"retry_attempts": 2})
    async with SimulatedFleet(scenario(eda(http_5xx=5))) as fleet:
        with pytest.raises(errors.ApiError) as caught:
            await client_for(fleet, "eda1", session, settings).get_version()
        assert fleet.request_count("eda1") == 2
    assert caught.value.status == 503
    assert errors.is_transient(caught.value)


async def test_503_on_upgrade_is_retried(session: aiohttp.ClientSession, image: Path) -> None:
    """A 503 to the upgrade POST means nothing happened, so it is sent again and succeeds."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        fleet.appliance("eda1").left.http_5xx = 2
        assert await client.start_upgrade() is not None
        assert len(fleet.events_of("job.created")) == 1


async def test_429_waits_for_retry_after(session: aiohttp.ClientSession) -> None:
    """A 429 is retried after the Retry-After the appliance asked for, not sooner."""
    limited = eda(rate_limit={"count": 1, "retry_after": 0.3})
    async with SimulatedFleet(scenario(limited)) as fleet:
        client = client_for(fleet, "eda1", session)
        with stamina.set_testing(False):  # testing mode would skip the wait itself
            started = time.monotonic()
            assert await client.get_version() == "9.8.0.100"
            elapsed = time.monotonic() - started
        assert fleet.request_count("eda1") == 2
    assert elapsed >= 0.3


async def test_dropped_upload_is_sent_again_whole(
    session: aiohttp.ClientSession, image: Path
) -> None:
    """An upload cut halfway is re-sent from the first byte, progress restarting at 0."""
    seen: list[int] = []
    async with SimulatedFleet(scenario(eda(drop_upload_at=0.5))) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image, progress=lambda sent, _: seen.append(sent))
        assert kinds(fleet, "eda1").count("upload.started") == 2
        assert fleet.events_of("upload.completed")[0].data["bytes"] == IMAGE_SIZE
    restarts = [i for i, sent in enumerate(seen) if sent == 0]
    assert len(restarts) == 2
    assert seen[restarts[1] - 1] > 0
    assert seen[-1] == IMAGE_SIZE


async def test_revoked_key_fails_at_once(session: aiohttp.ClientSession) -> None:
    """A revoked key raises AuthError with the appliance's message after a single request."""
    async with SimulatedFleet(scenario(eda(revoked_key=True))) as fleet:
        with pytest.raises(errors.AuthError, match="revoked") as caught:
            await client_for(fleet, "eda1", session).get_info()
        assert fleet.request_count("eda1") == 1
    assert caught.value.status == 401
    assert "k-eda1" not in str(caught.value)


async def test_wrong_key_fails_at_once(session: aiohttp.ClientSession) -> None:
    """A key the appliance does not know raises AuthError without retrying."""
    async with SimulatedFleet(scenario(eda())) as fleet:
        client = client_for(fleet, "eda1", session, key="not-the-key")
        with pytest.raises(errors.AuthError):
            await client.ping()
        assert fleet.request_count("eda1") == 1


async def test_busy_appliance_is_a_409(session: aiohttp.ClientSession, image: Path) -> None:
    """An appliance already running a job refuses the upgrade with 409, which is not retried."""
    async with SimulatedFleet(scenario(eda(busy=1))) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        with pytest.raises(errors.ApiError, match="already running") as caught:
            await client.start_upgrade()
        assert caught.value.status == 409
        assert fleet.request_count("eda1") == 2


async def test_no_location_means_no_job_id(session: aiohttp.ClientSession, image: Path) -> None:
    """Pre-8.5 firmware accepts the upgrade without a job Location, so there is no id to poll."""
    async with SimulatedFleet(scenario(eda(no_job_location=True))) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        assert await client.start_upgrade() is None
        with pytest.raises(errors.ApiError) as caught:
            await client.list_jobs()
    assert caught.value.status == 404


async def test_failed_job_reports_its_details(session: aiohttp.ClientSession, image: Path) -> None:
    """A job the appliance fails reads back FAILED with its details."""
    async with SimulatedFleet(scenario(eda(job_result="FAILED"))) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        job_id = await client.start_upgrade()
        assert job_id is not None
        job = await wait_for_job(client, job_id)
    assert job.status == "FAILED"
    assert job.details


async def test_ping_is_false_while_the_appliance_restarts(
    session: aiohttp.ClientSession, image: Path
) -> None:
    """While the appliance is down for its restart ping answers False, then True once it is back."""
    slow = eda() | {"restart_downtime": 300.0}  # 0.3 s of wall time
    async with SimulatedFleet(scenario(slow)) as fleet:
        client = client_for(fleet, "eda1", session)
        await client.upload_firmware(image)
        job_id = await client.start_upgrade()
        assert job_id is not None
        async with asyncio.timeout(5):
            # up while the job runs, down once it restarts
            while await client.ping():  # noqa: ASYNC110 - polling the API is the point
                await asyncio.sleep(0.01)
        assert "restart.finished" not in kinds(fleet, "eda1")
        await wait_until_up(client)
        assert (await client.get_job(job_id)).status == "DONE"
        assert await client.get_version() == TARGET

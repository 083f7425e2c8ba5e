"""The real client against a simulated fleet over real TLS: CA, pins, and every refusal in words."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import TYPE_CHECKING, Any

import pytest
import stamina
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core import errors
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, FileFirmware, Role
from orchestrator.core.tls import TlsCheck
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import aiohttp

FAST = Settings(requests_per_second=1000, retry_attempts=4, retry_timeout=10)


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session(FAST) as session:
        yield session


def fleet_of(certificate: str = "fleet") -> SimulatedFleet:
    scenario = Scenario.model_validate(
        {
            "time_scale": 0.001,
            "appliances": [
                {
                    "name": "eda1",
                    "role": "discover",
                    "version": "9.8.0.100",
                    "api_key": "k-eda1-0123456789abcdef",
                    "certificate": certificate,
                }
            ],
        }
    )
    return SimulatedFleet(scenario, tls=True)


def appliance(fleet: SimulatedFleet, tmp_path: Path, **fields: Any) -> Appliance:  # noqa: ANN401
    bundle = tmp_path / "fleet-ca.pem"
    bundle.write_bytes(fleet.ca_pem or b"")
    values: dict[str, Any] = {
        "name": "eda1",
        "url": fleet.url("eda1"),
        "role": Role.DISCOVER,
        "firmware": FileFirmware(file=tmp_path / "eda.tar"),
        "api_key": SecretStr(fleet.api_key("eda1")),
        "ca_bundle": bundle,
    }
    return Appliance(**(values | fields))


async def served_pin(fleet: SimulatedFleet) -> str:
    """The sha256 pin of the certificate eda1 serves now (read without verifying)."""
    host, port = fleet.url("eda1").removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return "sha256:" + hashlib.sha256(der).hexdigest()


async def test_the_fleet_ca_in_ca_bundle_verifies_the_appliance(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """With ca_bundle naming the fleet's CA, the client verifies and talks over HTTPS."""
    async with fleet_of() as fleet:
        target = appliance(fleet, tmp_path)
        assert target.tls_check is TlsCheck.CA
        info = await ApplianceClient(session, target, FAST).get_info()
    assert info.hostname == "eda1"


@pytest.mark.parametrize(
    ("kind", "words", "fix"),
    [
        pytest.param("self-signed", "its certificate is self-signed", "pin it", id="self-signed"),
        pytest.param(
            "other-ca",
            "its certificate is signed by an unknown CA",
            "set ca_bundle to the CA that signed it",
            id="unknown-ca",
        ),
        pytest.param(
            "wrong-name",
            "its certificate is not issued for 127.0.0.1 (name mismatch)",
            "write the name the certificate was issued for",
            id="name-mismatch",
        ),
        pytest.param(
            "expired",
            "its certificate has expired",
            "renew the appliance's certificate",
            id="expired",
        ),
        pytest.param(
            "not-yet-valid",
            "its certificate is not valid yet",
            "check the clock",
            id="not-yet-valid",
        ),
    ],
)
async def test_each_certificate_failure_is_one_line_with_its_fix(
    session: aiohttp.ClientSession, tmp_path: Path, kind: str, words: str, fix: str
) -> None:
    """Each kind of refused certificate names the appliance, what failed and what to do."""
    async with fleet_of(kind) as fleet:
        client = ApplianceClient(session, appliance(fleet, tmp_path), FAST)
        with pytest.raises(errors.TransportError) as caught:
            await client.get_info()
        assert fleet.request_count("eda1") == 0  # refused in the handshake, never retried
    message = str(caught.value)
    assert message.startswith("eda1: TLS verification failed for GET /api/v1/extrahop: ")
    assert words in message
    assert fix in message
    assert "`orchestrator trust INVENTORY`" in message
    assert "\n" not in message
    assert "Traceback" not in message


async def test_a_pinned_self_signed_appliance_is_verified_by_its_pin(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A pin accepts exactly the appliance's self-signed certificate, with no CA at all."""
    async with fleet_of("self-signed") as fleet:
        pinned = appliance(fleet, tmp_path, ca_bundle=None, pin=await served_pin(fleet))
        assert pinned.tls_check is TlsCheck.PIN
        assert (await ApplianceClient(session, pinned, FAST).get_info()).hostname == "eda1"


async def test_a_replaced_certificate_is_refused_naming_both_fingerprints(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A pinned appliance whose certificate changed is refused at once, old and new shown."""
    async with fleet_of() as fleet:
        old = await served_pin(fleet)
        fleet.replace_certificate("eda1")
        new = await served_pin(fleet)
        client = ApplianceClient(session, appliance(fleet, tmp_path, pin=old), FAST)
        with pytest.raises(errors.TransportError) as caught:
            await client.get_info()
        assert fleet.request_count("eda1") == 0
    message = str(caught.value)
    assert message.startswith("eda1: TLS refused for GET /api/v1/extrahop: ")
    assert f"pinned {old}, now {new}" in message
    assert "re-pin it with `orchestrator trust INVENTORY`" in message


async def test_a_pin_is_enforced_even_with_verify_tls_false(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """verify_tls: false does not weaken a pin: another certificate is still refused."""
    async with fleet_of("self-signed") as fleet:
        wrong = "sha256:" + "0" * 64
        target = appliance(fleet, tmp_path, verify_tls=False, pin=wrong)
        assert target.tls_check is TlsCheck.PIN
        with capture_logs() as logs, pytest.raises(errors.TransportError, match="changed"):
            await ApplianceClient(session, target, FAST).get_info()
    assert not any(event["event"] == "tls.verification_disabled" for event in logs)


async def test_verify_tls_false_still_works_and_warns(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Without a pin, verify_tls: false accepts any certificate and logs a warning."""
    async with fleet_of("self-signed") as fleet:
        target = appliance(fleet, tmp_path, verify_tls=False, ca_bundle=None)
        assert target.tls_check is TlsCheck.NONE
        with capture_logs() as logs:
            assert (await ApplianceClient(session, target, FAST).get_info()).hostname == "eda1"
    assert any(event["event"] == "tls.verification_disabled" for event in logs)

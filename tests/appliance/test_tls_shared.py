"""A fleet naming one CA shares one TLS context, and one bounded connection pool."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trustme
from pydantic import SecretStr

from orchestrator.appliance.client import ApplianceClient, idle_timeout, open_session
from orchestrator.appliance.tlsconfig import tls_setting
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, FileFirmware, Role
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from pathlib import Path

FAST = Settings(requests_per_second=1000)
NAMES = ("eda1", "eda2", "eda3")


def _appliance(name: str, url: str, key: str, bundle: Path) -> Appliance:
    return Appliance(
        name=name,
        url=url,
        role=Role.DISCOVER,
        firmware=FileFirmware(file=bundle.with_name("eda.tar")),
        api_key=SecretStr(key),
        ca_bundle=bundle,
    )


async def test_appliances_naming_one_ca_share_one_context_over_real_tls(tmp_path: Path) -> None:
    """Three appliances behind one ca_bundle: one SSLContext, and each answers through it."""
    scenario = Scenario.model_validate(
        {"appliances": [{"name": n, "role": "discover", "version": "9.8.0.100"} for n in NAMES]}
    )
    async with SimulatedFleet(scenario, tls=True) as fleet, open_session(FAST) as session:
        bundle = tmp_path / "fleet-ca.pem"
        bundle.write_bytes(fleet.ca_pem or b"")
        appliances = [_appliance(n, fleet.url(n), fleet.api_key(n), bundle) for n in NAMES]
        contexts = {id(tls_setting(a)) for a in appliances}
        versions = [
            (await ApplianceClient(session, a, FAST).get_info()).version for a in appliances
        ]
    assert len(contexts) == 1
    assert versions == ["9.8.0.100"] * 3


def test_a_ca_bundle_replaced_on_disk_gets_a_context_of_its_own(tmp_path: Path) -> None:
    """A new CA written over the bundle is read again: never an old context for new contents."""
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    first = tls_setting(_appliance("eda1", "https://127.0.0.1:1", "k", bundle))
    replacement = tmp_path / "ca.pem.new"
    trustme.CA().cert_pem.write_to_path(str(replacement))
    replacement.replace(bundle)
    second = tls_setting(_appliance("eda1", "https://127.0.0.1:1", "k", bundle))
    assert first is not second


async def test_the_pool_holds_a_connection_per_appliance_worked_on_and_a_few_spare() -> None:
    """Not 4 x concurrency: each open TLS connection holds ~285 KiB (docs/benchmarks.md)."""
    settings = Settings(concurrency=50)
    async with open_session(settings) as session:
        assert session.connector is not None
        assert session.connector.limit == 50 + 16
    assert idle_timeout(Settings(poll_interval=0.05, poll_interval_max=0.6)) == 0.6
    assert idle_timeout(settings) == 15  # never longer than aiohttp's default

"""A fleet served over TLS: HTTPS with a certificate per appliance from the fleet's own CA."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import TYPE_CHECKING

import aiohttp
import pytest
import yaml

from orchestrator.inventory import load_inventory

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.simulator.testing import Start

TWO = (
    {"name": "eda1", "role": "discover", "version": "9.8.0.100"},
    {"name": "eta1", "role": "trace", "version": "9.8.0.100"},
)


async def peer_certificate(url: str) -> bytes:
    """The DER certificate an https URL presents (not verified)."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return bytes(der)


async def test_a_tls_fleet_serves_https_verified_by_its_ca(start: Start) -> None:
    """Every appliance answers over HTTPS with a certificate for 127.0.0.1 from the fleet's CA."""
    api = await start(*TWO, tls=True)
    assert api.fleet.ca_pem is not None
    for name in ("eda1", "eta1"):
        assert api.fleet.url(name).startswith("https://127.0.0.1:")
        answer = await api.call(name, "GET", "/api/v1/extrahop")  # verifies against the CA
        assert answer.json()["hostname"] == name


async def test_a_tls_fleet_is_refused_by_a_client_that_does_not_know_its_ca(start: Start) -> None:
    """Without the fleet's CA, a verifying client refuses the certificate."""
    api = await start(*TWO, tls=True)
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await api.call("eda1", "GET", "/api/v1/extrahop", ssl=ssl.create_default_context())


async def test_plain_http_stays_the_default(start: Start) -> None:
    """Without tls, appliances and the repository speak plain HTTP and there is no CA."""
    api = await start(*TWO)
    assert api.fleet.url("eda1").startswith("http://")
    assert api.fleet.repository_url.startswith("http://")
    assert api.fleet.ca_pem is None
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).status == 200


async def test_an_appliance_keeps_its_certificate_across_a_restart(start: Start) -> None:
    """After an upgrade's restart the appliance serves TLS again, with the same certificate."""
    api = await start(*TWO, tls=True)
    before = await peer_certificate(api.fleet.url("eda1"))
    api.fleet.appliance("eda1").restart("9.9.1.100")
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert await peer_certificate(api.fleet.url("eda1")) == before
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).json()["version"] == "9.9.1.100"


async def test_a_replaced_certificate_is_served_at_once(start: Start) -> None:
    """replace_certificate gives the appliance a new certificate (new fingerprint), still valid."""
    api = await start(*TWO, tls=True)
    before = hashlib.sha256(await peer_certificate(api.fleet.url("eda1"))).hexdigest()
    api.fleet.replace_certificate("eda1")
    after = hashlib.sha256(await peer_certificate(api.fleet.url("eda1"))).hexdigest()
    assert after != before
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).status == 200


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        pytest.param("self-signed", 18, id="self-signed"),
        pytest.param("other-ca", 20, id="unknown-ca"),
        pytest.param("expired", 10, id="expired"),
        pytest.param("not-yet-valid", 9, id="not-yet-valid"),
        pytest.param("wrong-name", 64, id="name-mismatch"),
    ],
)
async def test_each_certificate_kind_fails_verification_as_named(
    start: Start, kind: str, code: int
) -> None:
    """A `certificate:` kind serves the certificate OpenSSL refuses with that verify code."""
    api = await start({**TWO[0], "certificate": kind}, tls=True)
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as caught:
        await api.call("eda1", "GET", "/api/v1/extrahop")
    error = caught.value.certificate_error
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert error.verify_code == code


async def test_the_written_inventory_names_the_ca_bundle_beside_it(
    start: Start, tmp_path: Path
) -> None:
    """--write-inventory of a TLS fleet writes <stem>-ca.pem and ca_bundle: in the defaults."""
    api = await start(*TWO, tls=True)
    path = api.fleet.write_inventory(tmp_path / "fleet.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["defaults"] == {"verify_tls": True, "ca_bundle": "fleet-ca.pem"}
    assert (tmp_path / "fleet-ca.pem").read_bytes() == api.fleet.ca_pem
    inventory = load_inventory(path)
    assert inventory.warnings == ()
    assert {a.ca_bundle for a in inventory.appliances} == {tmp_path / "fleet-ca.pem"}
    assert all(a.url.startswith("https://") for a in inventory.appliances)

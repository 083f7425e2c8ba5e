"""The vendor's own examples work unchanged against the simulator.

The guides' curl commands and the 8.2 guide's Python script over plain HTTP (only the scheme
and host differ); ExtraHop/code-examples' three upgrade scripts, byte for byte, run from
`../shared/reference/vendor-scripts/` against `simulate --tls` with `REQUESTS_CA_BUNDLE` set
to the fleet's CA, as they hard-code https.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.simulator import make_image

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Api, Start

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEEDS = SHARED / "seeds"
VENDOR_SCRIPTS = SHARED / "reference" / "vendor-scripts"
needs_vendor_scripts = pytest.mark.skipif(
    not (VENDOR_SCRIPTS / "upgrade_system.py").is_file(),
    reason="the vendor scripts are not beside the repository (../shared/reference/)",
)
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")

# Verbatim from "ExtraHop 8.2 Trace REST API Guide", section "Python script example".
VENDOR_SCRIPT = """\
#!/usr/bin/python3

import os
import requests
import csv

SYSTEM_LIST = 'systems.csv'

# Retrieve URLs, API keys, and firmware file paths
systems = []
with open(SYSTEM_LIST, 'rt', encoding='ascii') as f:
    reader = csv.reader(f)
    for row in reader:
        system = {
            'host': row[0],
            'api_key': row[1],
            'firmware': row[2]
        }
        systems.append(system)

# Function that uploads firmware to system
def uploadFirmware(host, api_key, firmware):
    headers = {
        'Authorization': 'ExtraHop apikey=%s' % api_key,
        'Content-Type': 'application/vnd.extrahop.firmware'
    }
    url = host + 'api/v1/extrahop/firmware'
    file_path = os.path.join(firmware)
    data = open(file_path, 'rb')
    r = requests.post(url, data=data, headers=headers)
    if r.status_code == 201:
        print('Uploaded firmware to ' + host)
        return True
    else:
        print('Failed to upload firmware to ' + host)
        print(r.text)
        return False

# Function that upgrades firmware on system
def upgradeFirmware(host, api_key):
    headers = {'Authorization': 'ExtraHop apikey=%s' % api_key}
    url = host + 'api/v1/extrahop/firmware/latest/upgrade'
    r = requests.post(url, headers=headers)
    print(r.status_code)
    if r.status_code == 202:
        print('Upgraded firmware on ' + host)
        return True
    else:
        print('Failed to upgrade firmware on ' + host)
        print(r.text)
        return False

# Upgrade firmware for each system
for system in systems:
    host = system['host']
    api_key = system['api_key']
    firmware = system['firmware']
    upload_success = uploadFirmware(host, api_key, firmware)
    if upload_success:
        upgradeFirmware(host, api_key)
"""

# Used only where no Python with `requests` exists: the two calls the script makes, on urllib.
REQUESTS_SHIM = """\
import os, urllib.error, urllib.request

class Response:
    def __init__(self, status, body):
        self.status_code, self.text = status, body.decode()

def post(url, data=None, headers=None):
    headers = dict(headers or {})
    if hasattr(data, "fileno"):
        headers["Content-Length"] = str(os.fstat(data.fileno()).st_size)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            return Response(answer.status, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read())
"""

FLEET = (
    {"name": "eda1", "role": "discover", "version": "9.8.0.100"},
    {"name": "eta1", "role": "trace", "version": "9.8.0.100"},
    {
        "name": "exa-m1",
        "role": "explore",
        "cluster": "exa",
        "node": "manager",
        "version": "9.8.0.100",
    },
)


def child_env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return env


async def run(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 30
) -> str:
    """Run a program without blocking the event loop that serves the fleet; return stdout."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def shell(command: str, cwd: Path | None = None) -> str:
    """Run one of the guide's shell command lines."""
    return await run("bash", "-c", command, cwd=cwd)


def python_with_requests() -> str | None:
    for candidate in (sys.executable, shutil.which("python3")):
        if candidate is None:
            continue
        check = subprocess.run(
            [candidate, "-c", "import requests"], capture_output=True, check=False
        )
        if check.returncode == 0:
            return candidate
    return None


def test_embedded_script_is_the_guides_script() -> None:
    """The script run below is the guide's text, but for the PDF's page break and indentation."""
    guide = SEEDS / "extrahop-8.2-trace-rest-api-guide.txt"
    if not guide.exists():
        pytest.skip("the seed guides are not beside the repository")
    text = guide.read_text()
    block = text[text.index("#!/usr/bin/python3") : text.index("upgradeFirmware(host, api_key)\n")]
    block += "upgradeFirmware(host, api_key)\n"

    def lines(source: str) -> list[str]:
        # The text extracted from the PDF lost the indentation of the lines after its page
        # break (which would leave only the last CSV row in `systems`); compare the rest.
        return [line.strip() for line in source.splitlines() if line.strip() not in ("", "```")]

    assert lines(block) == lines(VENDOR_SCRIPT)


@needs_curl
async def test_guide_curl_commands_upgrade_an_appliance(start: Start, tmp_path: Path) -> None:
    """The 8.2 guide's curl upload, upgrade and verify commands upgrade eda1 to 9.9.1.100."""
    api = await start(*FLEET)
    host, key = api.fleet.url("eda1").removeprefix("http://"), api.fleet.api_key("eda1")
    image = make_image(tmp_path / "eda-complete.tar", "discover", "9.9.1.100", size=2_000_000)
    file_path = image.name  # the guide's FILE_PATH is relative
    await shell(
        f"curl -X POST http://{host}/api/v1/extrahop/firmware --data-binary "
        f'@{file_path} -H "Content-Type:application/vnd.extrahop.firmware" -H '
        f'"Authorization: ExtraHop apikey={key}"',
        cwd=tmp_path,
    )
    assert api.fleet.events_of("upload.completed")[0].data["bytes"] == 2_000_000
    await shell(
        f'curl -X POST "http://{host}/api/v1/extrahop/firmware/latest/upgrade" -H '
        f'"accept: application/json" -H "Authorization: ExtraHop apikey={key}" '
        '-H "Content-Type: application/json" -d "{ \\"restart_after\\": true}"'
    )
    assert len(api.fleet.events_of("job.created")) == 1
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    out = await shell(
        f'curl -X GET http://{host}/api/v1/extrahop -H "Authorization: ExtraHop apikey={key}"'
    )
    assert '"version": "9.9.1.100"' in out
    out = await shell(
        'curl -i -X GET --header "Accept: application/json" \\\n'
        f'--header "Authorization: ExtraHop apikey={key}" \\\n'
        f'"http://{host}/api/v1/extrahop"'
    )
    assert out.startswith("HTTP/1.1 200")


@needs_curl
async def test_guide_curl_download_url_and_job_monitoring(start: Start) -> None:
    """The 8.7 guide's download/url command answers a Location whose job the GET command shows."""
    api = await start({**FLEET[0], "job_duration": 500}, *FLEET[1:])
    host, key = api.fleet.url("eda1").removeprefix("http://"), api.fleet.api_key("eda1")
    firmware_url = f"{api.fleet.repository_url}/firmware/discover-9.9.1.100.tar"
    out = await run(
        "bash",
        "-c",
        f"curl -v -X POST http://{host}/api/v1/extrahop/firmware/download/url -H "
        f'"Authorization: ExtraHop apikey={key}" -H "Content-Type: application/'
        f'json" -d "{{ \\"upgrade\\": true, \\"firmware_url\\": \\"{firmware_url}\\"}}" 2>&1',
    )
    location = next(line for line in out.splitlines() if line.lower().startswith("< location:"))
    job_id = location.rsplit("/", 1)[1].strip()
    out = await shell(
        f"curl -v -X GET http://{host}/api/v1/jobs/{job_id} -H "
        f'"Authorization: ExtraHop apikey={key}"'
    )
    assert '"status": "RUNNING"' in out
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert api.fleet.version("eda1") == "9.9.1.100"


@needs_curl
async def test_guide_curl_halts_ingest_for_the_cluster(start: Start) -> None:
    """The guide's PATCH /extrahop/cluster command halts ingest for the Explore cluster."""
    api = await start(*FLEET)
    host, key = api.fleet.url("exa-m1").removeprefix("http://"), api.fleet.api_key("exa-m1")
    await shell(
        f'curl -X PATCH "http://{host}/api/v1/extrahop/cluster" -H "accept: application/json" '
        f'-H "Authorization: ExtraHop apikey={key}" -H "Content-Type: application/json" '
        """-d '{"ingest_enabled": false}'"""
    )
    assert api.fleet.ingest_enabled("exa") is False


async def test_guide_python_script_upgrades_the_fleet(start: Start, tmp_path: Path) -> None:
    """The 8.2 guide's Python script, unchanged, uploads to and upgrades every CSV row."""
    api = await start(*FLEET)
    rows = []
    for name, role in (("eda1", "discover"), ("eta1", "trace")):
        make_image(tmp_path / f"{role}.tar", role, "9.9.1.100", size=500_000)
        rows.append(f"{api.fleet.url(name)}/,{api.fleet.api_key(name)},{role}.tar\n")
    (tmp_path / "systems.csv").write_text("".join(rows), encoding="ascii")
    (tmp_path / "upgrade.py").write_text(VENDOR_SCRIPT)
    python = python_with_requests()
    env = None
    if python is None:
        shim = tmp_path / "shim"
        shim.mkdir()
        (shim / "requests.py").write_text(REQUESTS_SHIM)
        python, env = sys.executable, child_env(shim)
    out = await run(python, "upgrade.py", cwd=tmp_path, env=env)
    for name in ("eda1", "eta1"):
        assert f"Uploaded firmware to {api.fleet.url(name)}/" in out
        assert f"Upgraded firmware on {api.fleet.url(name)}/" in out
    await api.wait_for(lambda: len(api.fleet.events_of("restart.finished")) == 2)
    assert (api.fleet.version("eda1"), api.fleet.version("eta1")) == ("9.9.1.100", "9.9.1.100")


# -- ExtraHop/code-examples, byte for byte, over TLS ----------------------------------------

VENDOR_FLEET = (
    {"name": "eda1", "role": "discover", "version": "9.8.0.100"},
    {"name": "eta1", "role": "trace", "version": "9.8.0.100"},
)


async def vendor_script(
    api: Api, script: str, rows: list[str], *args: str, tmp_path: Path, timeout: float = 30
) -> str:
    """Run one of the vendor's scripts from its own folder, on `rows` as systems.csv."""
    python = python_with_requests()
    if python is None:
        pytest.skip("no Python with `requests` (pip install -e '.[test]' brings it)")
    bundle = tmp_path / "fleet-ca.pem"
    bundle.write_bytes(api.fleet.ca_pem or b"")
    (tmp_path / "systems.csv").write_text("".join(rows), encoding="ascii")
    env = child_env() | {"REQUESTS_CA_BUNDLE": str(bundle)}
    return await run(
        python, str(VENDOR_SCRIPTS / script), *args, cwd=tmp_path, env=env, timeout=timeout
    )


def host(api: Api, name: str) -> str:
    """What the scripts' CSV calls the host: they put it into https://HOST/api/v1/..."""
    return api.fleet.url(name).removeprefix("https://")


async def wait_upgraded(api: Api) -> None:
    await api.wait_for(lambda: all(api.fleet.version(n) == "9.9.1.100" for n in api.fleet.names))
    await api.wait_for(lambda: all(api.fleet.appliance(n).up for n in api.fleet.names))


@needs_vendor_scripts
@pytest.mark.slow  # the script polls every 30 s (its WAIT constant), whatever the job takes
async def test_vendor_upgrade_system_uploads_and_upgrades_over_tls(
    start: Start, tmp_path: Path
) -> None:
    """upgrade_system.py uploads each CSV row's image, starts the upgrade and sees it DONE."""
    api = await start(*VENDOR_FLEET, tls=True)
    rows = []
    for name in ("eda1", "eta1"):
        role = api.fleet.appliance(name).role.value
        make_image(tmp_path / f"{role}.tar", role, "9.9.1.100", size=300_000)
        rows.append(f"{host(api, name)},{api.fleet.api_key(name)},{role}.tar\n")
    out = await vendor_script(api, "upgrade_system.py", rows, tmp_path=tmp_path, timeout=120)
    for name in ("eda1", "eta1"):
        assert f"Uploaded firmware to {host(api, name)}" in out
        assert f"Upgrade for {host(api, name)} is DONE." in out
    assert len(api.fleet.events_of("upload.completed")) == 2
    await wait_upgraded(api)


@needs_vendor_scripts
async def test_vendor_upgrade_system_url_downloads_and_upgrades_over_tls(
    start: Start, tmp_path: Path
) -> None:
    """upgrade_system_url.py makes each appliance fetch its image from the fleet's repository."""
    api = await start(*VENDOR_FLEET, tls=True)
    rows = [
        f"{host(api, name)},{api.fleet.api_key(name)},"
        f"{api.fleet.repository_url}/firmware/{api.fleet.appliance(name).role.value}"
        "-9.9.1.100.tar\n"
        for name in ("eda1", "eta1")
    ]
    out = await vendor_script(
        api, "upgrade_system_url.py", rows, "--wait", "0.01", tmp_path=tmp_path
    )
    for name in ("eda1", "eta1"):
        assert f"Firmware upgrade for {host(api, name)} is DONE." in out
    assert len(api.fleet.events_of("download.completed")) == 2
    await wait_upgraded(api)


@needs_vendor_scripts
async def test_vendor_upgrade_system_cloud_downloads_then_upgrades_over_tls(
    start: Start, tmp_path: Path
) -> None:
    """upgrade_system_cloud.py --version: firmware/next, a download job, then an upgrade job."""
    api = await start(*VENDOR_FLEET, tls=True)
    rows = [f"{host(api, name)},{api.fleet.api_key(name)}\n" for name in ("eda1", "eta1")]
    out = await vendor_script(
        api,
        "upgrade_system_cloud.py",
        rows,
        "--version",
        "9.9.1.100",
        "--force",
        "--wait",
        "0.01",
        tmp_path=tmp_path,
    )
    for name in ("eda1", "eta1"):
        assert f"Firmware download for {host(api, name)} is DONE." in out
        assert f"Upgrade for {host(api, name)} is DONE." in out
    assert [e.data["type"] for e in api.fleet.events_of("job.created")].count("upgrade") == 2
    await wait_upgraded(api)

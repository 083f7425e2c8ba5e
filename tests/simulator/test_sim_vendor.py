"""The vendor's own examples (curl commands and the 8.2 guide's Python script) work unchanged.

Only the scheme and host differ: the simulator speaks plain HTTP on 127.0.0.1.
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
    from orchestrator.simulator.testing import Start

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
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


async def run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a program without blocking the event loop that serves the fleet; return stdout."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
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

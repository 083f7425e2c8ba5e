"""YAML inventories, the checks every format shares, and the sample inventories."""

from __future__ import annotations

import asyncio
import hashlib
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.core.config import Settings
from orchestrator.core.errors import InventoryError
from orchestrator.core.models import (
    CloudFirmware,
    FileFirmware,
    Inventory,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.inventory import load_inventory, normalise_url
from orchestrator.report.planview import status_line
from orchestrator.workflow.planning import make_plan

INVENTORIES = Path(__file__).resolve().parents[2] / "inventories"
KEY = "0123456789abcdefghijKLMNOPQRSTuv"  # looks like a real ExtraHop key

HEAD = """\
defaults:
  api_key_file: keys/default.key
firmware:
  command: {file: images/eca-9.9.1.100.tar, version: 9.9.1.100}
  discover: {url: https://repo.example.net/eda-9.9.1.100.tar, version: 9.9.1.100}
  explore: {file: images/exa-9.9.1.100.tar, version: 9.9.1.100}
  trace: {cloud_version: 9.9.1.100}
"""
FLEET = """\
appliances:
  - {name: eca1, url: https://eca1.example.net, role: command}
  - {name: eda1, url: https://eda1.example.net, role: discover}
  - {name: exa-m1, url: https://exa-m1.example.net, role: explore, cluster: exa, node: manager}
  - {name: exa-d1, url: https://exa-d1.example.net, role: explore, cluster: exa, node: data}
  - {name: eta1, url: https://eta1.example.net, role: trace}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with images and key files beside where the inventory will be written."""
    (tmp_path / "images").mkdir()
    for image in ("eca-9.9.1.100.tar", "exa-9.9.1.100.tar", "eta-hotfix.tar"):
        (tmp_path / "images" / image).write_text("EXTRAHOP-FIRMWARE platform=x version=9\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "default.key").write_text("default-key\n")
    (tmp_path / "keys" / "eda1.key").write_text("  eda1-key  \n")
    (tmp_path / "keys" / "empty.key").write_text("\n")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("fake CA\n")
    return tmp_path


def load(
    directory: Path, text: str, *, name: str = "inv.yaml", env: dict[str, str] | None = None
) -> Inventory:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return load_inventory(path, env=env or {})


def fleet(*lines: str) -> str:
    """HEAD plus an appliances list of flow mappings."""
    return HEAD + "appliances:\n" + "".join(f"  - {line}\n" for line in lines)


ECA = "{name: eca1, url: https://eca1.example.net, role: command}"
EDA = "{name: eda1, url: https://eda1.example.net, role: discover}"


# --- good YAML -----------------------------------------------------------------------------


def test_yaml_loads_every_role(tree: Path) -> None:
    """A full YAML inventory yields each appliance with its role, cluster, node and firmware."""
    inventory = load(tree, HEAD + FLEET)
    assert [a.name for a in inventory.appliances] == ["eca1", "eda1", "exa-m1", "exa-d1", "eta1"]
    eca, eda, manager, data, eta = inventory.appliances
    assert eca.role is Role.COMMAND
    assert eca.firmware == FileFirmware(
        file=tree / "images" / "eca-9.9.1.100.tar", version="9.9.1.100"
    )
    assert eda.firmware == UrlFirmware(
        url="https://repo.example.net/eda-9.9.1.100.tar", version="9.9.1.100"
    )
    assert (manager.cluster, manager.node) == ("exa", NodeKind.MANAGER)
    assert (data.cluster, data.node) == ("exa", NodeKind.DATA)
    assert eta.firmware == CloudFirmware(cloud_version="9.9.1.100")
    assert eca.api_key == SecretStr("default-key")
    assert inventory.warnings == ()


def test_yaml_records_source_and_hash(tree: Path) -> None:
    """The inventory remembers its file and the sha256 of its bytes, for saved plans."""
    inventory = load(tree, HEAD + FLEET)
    path = tree / "inv.yaml"
    assert inventory.source == str(path)
    assert inventory.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_appliance_settings_override_defaults(tree: Path) -> None:
    """An appliance's own key, TLS settings and firmware beat the defaults and the role image."""
    text = fleet(
        "{name: eta1, url: https://eta1.example.net, role: trace, api_key_file: keys/eda1.key,"
        " verify_tls: false, ca_bundle: certs/ca.pem,"
        " firmware: {file: images/eta-hotfix.tar, version: 9.9.1.101}}"
    )
    (eta,) = load(tree, text).appliances
    assert eta.api_key == SecretStr("eda1-key")
    assert eta.verify_tls is False
    assert eta.ca_bundle == tree / "certs" / "ca.pem"
    assert eta.firmware == FileFirmware(
        file=tree / "images" / "eta-hotfix.tar", version="9.9.1.101"
    )


def test_defaults_apply_to_every_appliance(tree: Path) -> None:
    """verify_tls and ca_bundle in defaults reach appliances that do not set them."""
    text = HEAD.replace("defaults:\n", "defaults:\n  ca_bundle: certs/ca.pem\n") + FLEET
    inventory = load(tree, text)
    assert {a.ca_bundle for a in inventory.appliances} == {tree / "certs" / "ca.pem"}
    assert all(a.verify_tls for a in inventory.appliances)


def test_key_from_environment_beats_default_file(tree: Path) -> None:
    """api_key_env on the appliance wins over api_key_file in defaults."""
    text = fleet(ECA, "{name: eda1, url: https://eda1.example.net, role: discover, api_key_env: K}")
    eca, eda = load(tree, text, env={"K": " env-key\n"}).appliances
    assert eca.api_key == SecretStr("default-key")
    assert eda.api_key == SecretStr("env-key")


def test_default_key_from_environment(tree: Path) -> None:
    """api_key_env in defaults reads the variable from os.environ when no env is given."""
    text = HEAD.replace("api_key_file: keys/default.key", "api_key_env: EH_KEY") + FLEET
    path = tree / "inv.yaml"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EH_KEY", "from-os-environ")
        inventory = load_inventory(path)
    assert [a.api_key for a in inventory.appliances] == [SecretStr("from-os-environ")] * len(
        inventory.appliances
    )


def test_paths_are_relative_to_the_inventory(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Images and keys resolve from the inventory's directory, not the working directory."""
    sub = tree / "site"
    sub.mkdir()
    text = HEAD.replace("keys/", "../keys/").replace("images/", "../images/") + FLEET
    (sub / "inv.yaml").write_text(text)
    monkeypatch.chdir(tree.parent)
    inventory = load_inventory(Path(tree.name) / "site" / "inv.yaml", env={})
    assert inventory.by_name("eca1").firmware == FileFirmware(
        file=tree / "images" / "eca-9.9.1.100.tar", version="9.9.1.100"
    )
    assert inventory.by_name("eca1").api_key == SecretStr("default-key")


def test_simulator_inventory_loads_without_warnings(tree: Path) -> None:
    """The simulator's http://127.0.0.1 inventory with per-appliance key files is clean."""
    (tree / "fleet-keys").mkdir()
    (tree / "fleet-keys" / "eca1.key").write_text("sim-key\n")
    text = """\
        # written by orchestrator simulate
        defaults: {verify_tls: true}
        firmware:
          command: {file: images/eca-9.9.1.100.tar, version: 9.9.1.100}
        appliances:
          - {name: eca1, url: 'http://127.0.0.1:41001', role: command,
             api_key_file: fleet-keys/eca1.key}
          - {name: eca2, url: 'http://localhost:41002/', role: command,
             api_key_file: fleet-keys/eca1.key}
    """
    inventory = load(tree, text)
    assert inventory.warnings == ()
    assert [a.url for a in inventory.appliances] == [
        "http://127.0.0.1:41001",
        "http://localhost:41002",
    ]


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        pytest.param("https://EDA1.Example.NET/", "https://eda1.example.net", id="case-slash"),
        pytest.param("HTTPS://eda1.example.net:443", "https://eda1.example.net", id="https-port"),
        pytest.param("http://10.0.0.5:80/", "http://10.0.0.5", id="http-port"),
        pytest.param("https://eda1:8443", "https://eda1:8443", id="other-port"),
        pytest.param("https://[FE80::1]:443/", "https://[fe80::1]", id="ipv6"),
        pytest.param(
            "https://proxy.example.net/eda1/", "https://proxy.example.net/eda1", id="path"
        ),
    ],
)
def test_urls_are_normalised(written: str, normal: str) -> None:
    """URLs are compared and stored lower-cased, without default port or trailing slash."""
    assert normalise_url(written) == normal


# --- warnings ------------------------------------------------------------------------------


def test_warnings_name_the_appliance(tree: Path) -> None:
    """Inline keys, disabled TLS checks and plain http to another host each warn, by name."""
    text = fleet(
        f"{{name: eca1, url: https://eca1.example.net, role: command, api_key: {KEY}}}",
        "{name: eda1, url: https://eda1.example.net, role: discover, verify_tls: false}",
        "{name: eda2, url: http://eda2.example.net, role: discover}",
    )
    warnings = load(tree, text).warnings
    assert warnings == (
        (
            f"the API key for eca1 is inline in {tree / 'inv.yaml'}; prefer api_key_env or "
            "api_key_file"
        ),
        (
            "TLS verification disabled for eda1; prefer ca_bundle, or pin its certificate with "
            "`orchestrator trust`"
        ),
        "API key sent in clear to eda2 (http://eda2.example.net); use https://",
    )
    assert not any(KEY in warning for warning in warnings)


def test_inline_default_key_warns_once(tree: Path) -> None:
    """An inline key in defaults gives one warning, not one per appliance."""
    text = HEAD.replace("api_key_file: keys/default.key", f"api_key: {KEY}") + FLEET
    inventory = load(tree, text)
    assert len(inventory.warnings) == 1
    assert "in defaults is inline" in inventory.warnings[0]
    assert inventory.by_name("eta1").api_key == SecretStr(KEY)


# --- errors --------------------------------------------------------------------------------

BAD_YAML = [
    pytest.param(
        "appliances:\n  - {name: eca1\n", 3, ["YAML syntax error", "indentation"], id="syntax"
    ),
    pytest.param(
        "appliances:\n  - {name: e\x00a1}\n",
        2,
        ["the character U+0000 (column 13) is not allowed", "delete it"],
        id="nul-byte",
    ),
    pytest.param(
        "# réseau été\nappliances:\n  - {name: ü\x1b}\n",
        3,
        ["the character U+001B (column 13) is not allowed", "delete it"],
        id="escape-after-accents",
    ),
    pytest.param(
        "appliances:\n  - name: eca1\n    name: eca2\n",
        3,
        ["duplicate key 'name'", "keep only one"],
        id="duplicate-key",
    ),
    pytest.param(
        "- eca1\n- eda1\n", None, ["must be a mapping", "appliances:"], id="not-a-mapping"
    ),
    pytest.param("appliance:\n  - {}\n", "appliance", ["did you mean appliances?"], id="top-typo"),
    pytest.param(
        fleet("{name: eca1, url: https://eca1.example.net, rol: command}"),
        "appliances[0].rol",
        ["unknown key 'rol'", "did you mean role?"],
        id="appliance-typo",
    ),
    pytest.param(
        "defaults: {verify_ssl: false}\n" + FLEET,
        "defaults.verify_ssl",
        ["did you mean verify_tls?"],
        id="defaults-typo",
    ),
    pytest.param(
        "firmware:\n  discovery: {cloud_version: 9.9.1.100}\n" + FLEET,
        "firmware.discovery",
        ["did you mean discover?"],
        id="firmware-role-typo",
    ),
    pytest.param(
        "firmware:\n  command: {files: a.tar}\n" + FLEET,
        "firmware.command.files",
        ["did you mean file?"],
        id="firmware-key-typo",
    ),
    pytest.param(
        fleet("{url: https://eca1.example.net, role: command}"),
        "appliances[0].name",
        ["missing name", "add name: eda1"],
        id="missing-name",
    ),
    pytest.param(
        fleet("{name: eca1, role: command}"),
        "appliances[0].url",
        ["missing url", "add url: https://"],
        id="missing-url",
    ),
    pytest.param(
        fleet("{name: eca1, url: https://eca1.example.net}"),
        "appliances[0].role",
        ["missing role for eca1", "command, discover, explore, trace"],
        id="missing-role",
    ),
    pytest.param(
        fleet("{name: eda1, url: https://eda1.example.net, role: sensor}"),
        "appliances[0].role",
        ["unknown role 'sensor' for eda1", "write role: discover"],
        id="platform-as-role",
    ),
    pytest.param(
        fleet("{name: r1, url: https://r1.example.net, role: router}"),
        "appliances[0].role",
        ["unknown role 'router'", "use one of command, discover, explore, trace"],
        id="bad-role",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'ftp://eca1.example.net', role: command}"),
        "appliances[0].url",
        ["'ftp://eca1.example.net'", "must start with https://"],
        id="url-scheme",
    ),
    pytest.param(
        fleet("{name: eca1, url: eca1.example.net, role: command}"),
        "appliances[0].url",
        ["must start with https://"],
        id="url-no-scheme",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'https://', role: command}"),
        "appliances[0].url",
        ["no valid host", "write https://eda1.example.net"],
        id="url-no-host",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'https://eca1.example.net/api/v1', role: command}"),
        "appliances[0].url",
        ["remove /api/v1"],
        id="url-api-path",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'https://eca1.example.net/api/v1/extrahop', role: command}"),
        "appliances[0].url",
        ["must be the appliance's base URL", "remove /api/v1/extrahop"],
        id="url-api-endpoint",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'https://proxy.example.net/eca1/API/', role: command}"),
        "appliances[0].url",
        ["must be the appliance's base URL", "remove /API"],
        id="url-api-under-a-proxy-path",
    ),
    pytest.param(
        fleet("{name: eca1, url: 'https://eca1.example.net:99999', role: command}"),
        "appliances[0].url",
        ["bad port", "1 to 65535"],
        id="url-port",
    ),
    pytest.param(
        fleet(ECA, "{name: ECA1, url: https://eca2.example.net, role: command}"),
        "appliances[1].name",
        ["duplicate name ECA1 (also appliances[0])", "its own name"],
        id="duplicate-name",
    ),
    pytest.param(
        fleet(ECA, "{name: eca2, url: 'HTTPS://ECA1.example.net:443/', role: command}"),
        "appliances[1].url",
        ["eca2 has the same URL as eca1 (appliances[0])", "list each one once"],
        id="duplicate-url",
    ),
    pytest.param(
        fleet("{name: exa1, url: https://exa1.example.net, role: explore, node: data}"),
        "appliances[0].cluster",
        ["exa1 has no cluster", "add cluster:"],
        id="explore-no-cluster",
    ),
    pytest.param(
        fleet("{name: exa1, url: https://exa1.example.net, role: explore, cluster: exa}"),
        "appliances[0].node",
        ["exa1 has no node", "node: manager or node: data"],
        id="explore-no-node",
    ),
    pytest.param(
        fleet(
            "{name: exa1, url: https://exa1.example.net, role: explore, cluster: x, node: master}"
        ),
        "appliances[0].node",
        ["unknown node 'master'", "write manager or data"],
        id="bad-node",
    ),
    pytest.param(
        fleet("{name: eca1, url: https://eca1.example.net, role: command, cluster: exa}"),
        "appliances[0].cluster",
        ["only to explore", "remove cluster from eca1"],
        id="cluster-not-explore",
    ),
    pytest.param(
        HEAD.replace("  trace: {cloud_version: 9.9.1.100}\n", "") + FLEET,
        "appliances[4].firmware",
        ["no firmware for eta1 (role trace)", "add firmware.trace:"],
        id="no-firmware-for-role",
    ),
    pytest.param(
        HEAD.replace("eca-9.9.1.100.tar", "eca-missing.tar") + FLEET,
        "firmware.command.file",
        ["images/eca-missing.tar' does not exist", "relative paths start at"],
        id="firmware-file-missing",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{file: ~nosuchuser/a.tar, version: 9.9.1.1}")
        + FLEET,
        "firmware.trace.file",
        ["~nosuchuser/a.tar' does not exist", "fix the path"],
        id="firmware-file-unknown-home",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{file: images, version: 9.9.1.100}") + FLEET,
        "firmware.trace.file",
        ["is not a regular file (a directory)"],
        id="firmware-file-is-dir",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{file: a.tar, url: 'https://x/a.tar'}") + FLEET,
        "firmware.trace",
        ["both file and url", "keep one"],
        id="file-and-url",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{version: 9.9.1.100}") + FLEET,
        "firmware.trace",
        ["needs one of file, url, cloud_version, console_version"],
        id="firmware-no-source",
    ),
    pytest.param(
        HEAD.replace("exa-9.9.1.100.tar, version: 9.9.1.100", "exa-9.9.1.100.tar") + FLEET,
        "firmware.explore.version",
        ["target version is missing", "add version: 9.9.1.100"],
        id="file-without-version",
    ),
    pytest.param(
        HEAD.replace("eda-9.9.1.100.tar, version: 9.9.1.100", "eda.tar") + FLEET,
        "firmware.discover.version",
        ["target version is missing", "add version: X.Y.Z.BUILD"],
        id="url-without-version",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{cloud_version: 9.9}") + FLEET,
        "firmware.trace.cloud_version",
        ["must be text", "in quotes"],
        id="version-float",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{cloud_version: latest}") + FLEET,
        "firmware.trace.cloud_version",
        ["'latest' is not a dotted version", "9.9.1.100"],
        id="version-not-dotted",
    ),
    pytest.param(
        HEAD.replace("{cloud_version: 9.9.1.100}", "{cloud_version: 9.9.1.1, version: 9.9.1.2}")
        + FLEET,
        "firmware.trace.version",
        ["differ", "keep cloud_version"],
        id="versions-differ",
    ),
    pytest.param(
        HEAD.replace("url: https://repo.example.net/eda-9.9.1.100.tar", "url: 'ftp://u:pw@r/e.tar'")
        + FLEET,
        "firmware.discover.url",
        ["contains a password", "needs no password"],
        id="firmware-url-password",
    ),
    pytest.param(
        fleet("{name: eda1, url: https://eda1.example.net, role: discover, api_key_env: EDA1_KEY}"),
        "appliances[0].api_key_env",
        ["EDA1_KEY is unset or empty", "export EDA1_KEY=..."],
        id="env-unset",
    ),
    pytest.param(
        fleet(f"{{name: eda1, url: https://eda1.example.net, role: discover, api_key_env: {KEY}}}"),
        "appliances[0].api_key_env",
        ["is not a variable name", "not the key"],
        id="env-holds-key",
    ),
    pytest.param(
        HEAD.replace("keys/default.key", "keys/missing.key") + FLEET,
        "defaults.api_key_file",
        ["cannot read key file", "keys/missing.key", "No such file"],
        id="key-file-missing",
    ),
    pytest.param(
        HEAD.replace("keys/default.key", "keys/empty.key") + FLEET,
        "defaults.api_key_file",
        ["keys/empty.key' is empty", "only the API key"],
        id="key-file-empty",
    ),
    pytest.param(
        fleet(
            "{name: eda1, url: https://eda1.example.net, role: discover, api_key_env: A,"
            " api_key_file: keys/eda1.key}"
        ),
        "appliances[0]",
        ["eda1 sets both api_key_env and api_key_file; keep one"],
        id="two-key-sources",
    ),
    pytest.param(
        HEAD.replace("  api_key_file: keys/default.key\n", "  verify_tls: true\n") + FLEET,
        "appliances[0]",
        ["no API key for eca1", "api_key_env", "api_key_file"],
        id="no-key",
    ),
    pytest.param(
        HEAD.replace("defaults:\n", "defaults:\n  ca_bundle: certs/none.pem\n") + FLEET,
        "defaults.ca_bundle",
        ["CA bundle", "certs/none.pem' does not exist"],
        id="ca-missing",
    ),
    pytest.param(
        HEAD.replace("defaults:\n", "defaults:\n  verify_tls: 'no'\n") + FLEET,
        "defaults.verify_tls",
        ["must be true or false", "verify_tls: false"],
        id="verify-tls-text",
    ),
    pytest.param(
        HEAD + "appliances: []\n",
        "appliances",
        ["lists no appliances", "add at least one"],
        id="empty-list",
    ),
    pytest.param(HEAD, "appliances", ["lists no appliances"], id="no-appliances-key"),
    pytest.param(
        HEAD + "appliances: {eca1: command}\n",
        "appliances",
        ["must be a list"],
        id="appliances-map",
    ),
    pytest.param(
        fleet("{name: '', url: https://eca1.example.net, role: command}"),
        "appliances[0].name",
        ["name is empty"],
        id="empty-value",
    ),
]


@pytest.mark.parametrize(("text", "row", "fragments"), BAD_YAML)
def test_bad_yaml_is_one_clear_error(
    tree: Path, text: str, row: str | int | None, fragments: list[str]
) -> None:
    """Each mistake raises InventoryError naming the file, the row or path, and the fix."""
    with pytest.raises(InventoryError) as caught:
        load(tree, text)
    path = tree / "inv.yaml"
    assert (caught.value.file, caught.value.row) == (str(path), row)
    where = f"{path}:{row}: " if row is not None else f"{path}: "
    assert str(caught.value).startswith(where)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is an InventoryError, not a traceback."""
    with pytest.raises(InventoryError, match=r"cannot read the inventory \(No such file"):
        load_inventory(tmp_path / "nope.yaml", env={})


def test_unknown_extension_is_an_error(tmp_path: Path) -> None:
    """Only .yaml, .yml and .csv are accepted, and the error says so."""
    path = tmp_path / "fleet.txt"
    path.write_text("x")
    with pytest.raises(InventoryError, match=r"name it \.yaml, \.yml or \.csv"):
        load_inventory(path, env={})


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 give an error naming the offset."""
    path = tmp_path / "fleet.yaml"
    path.write_bytes(b"appliances: \xff\n")
    with pytest.raises(InventoryError, match=r"not UTF-8 text \(byte 12\)"):
        load_inventory(path, env={})


# --- secrets -------------------------------------------------------------------------------

LEAKY = [
    pytest.param(f"defaults: {{api_key: {KEY}\n" + FLEET, id="syntax-error-on-key-line"),
    pytest.param(
        HEAD + f"appliances:\n  - {{name: eca1, url: 'ftp://x', role: command, api_key: {KEY}}}\n",
        id="bad-url-beside-inline-key",
    ),
    pytest.param(
        HEAD + f"appliances:\n  - {{name: eca1, url: 'https://x/{KEY}', role: nope}}\n",
        id="key-pasted-in-url",
    ),
    pytest.param(
        HEAD + f"appliances:\n  - {{name: eca1, url: 'https://x', role: {KEY}}}\n",
        id="key-pasted-as-role",
    ),
    pytest.param(
        HEAD + f"appliances:\n  - {{name: eca1, url: 'https://x/api/v1/{KEY}', role: command}}\n",
        id="key-in-an-api-url",
    ),
    pytest.param(HEAD + f"appliances:\n  - {{{KEY}: eca1}}\n", id="key-as-mapping-key"),
    pytest.param(HEAD + f"appliances:\n  - {{name: !{KEY} eca1}}\n", id="key-as-yaml-tag"),
    pytest.param(
        HEAD + "appliances:\n  - {name: eca1, url: 'https://x', role: command, api_key: 12345}\n",
        id="numeric-inline-key",
    ),
    pytest.param(
        HEAD + "appliances:\n  - {name: eca1, url: 'https://x', role: command, api_key: s3-cr3t}\n"
        "  - {name: eca1, url: 'https://s3-cr3t', role: command, api_key: s3-cr3t}\n",
        id="short-key-echoed-elsewhere",
    ),
]


@pytest.mark.parametrize("text", LEAKY)
def test_errors_never_contain_the_key(tree: Path, text: str) -> None:
    """No error message repeats an API key, wherever the key was written."""
    with pytest.raises(InventoryError) as caught:
        load(tree, text)
    for secret in (KEY, "12345", "s3-cr3t"):
        assert secret not in str(caught.value)


# --- the sample inventories ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "warnings"),
    [
        pytest.param("example.yaml", 0, id="yaml"),
        pytest.param("example-headered.csv", 0, id="headered-csv"),
        pytest.param("systems.csv", 1, id="vendor-csv"),
    ],
)
def test_sample_inventories_load(name: str, warnings: int) -> None:
    """The inventories shipped in inventories/ validate without any environment variable."""
    inventory = load_inventory(INVENTORIES / name, env={})
    assert len(inventory.appliances) >= 3
    assert len(inventory.warnings) == warnings


def test_example_yaml_matches_the_headered_csv() -> None:
    """example.yaml and example-headered.csv describe the same fleet in two formats."""
    yaml_fleet = load_inventory(INVENTORIES / "example.yaml", env={}).appliances
    csv_fleet = load_inventory(INVENTORIES / "example-headered.csv", env={}).appliances
    assert [(a.name, a.url, a.role, a.cluster, a.node) for a in yaml_fleet] == [
        (a.name, a.url, a.role, a.cluster, a.node) for a in csv_fleet
    ]


@pytest.mark.parametrize("name", ["example.yaml", "example-headered.csv"])
def test_the_working_examples_plan_as_ready(name: str) -> None:
    """The examples the docs show plan offline as ready to apply, breaking no vendor rule."""
    inventory = load_inventory(INVENTORIES / name, env={})
    plan = asyncio.run(make_plan(inventory, Settings(), offline=True))
    assert not plan.refused, [*plan.refusals, *(a.reason for a in plan.appliances())]
    assert status_line(plan) == "ready to apply"
    assert all(line.actionable for line in plan.appliances())


HEX_KEY = "deadbeef0123456789abcdef01234567"  # a hex key that is also a valid variable name


@pytest.mark.parametrize(
    ("text", "row", "fragment"),
    [
        pytest.param(
            fleet(f"{{name: eda1, url: https://e1, role: discover, api_key_env: {HEX_KEY}}}"),
            "appliances[0].api_key_env",
            "looks like an API key rather than a variable name",
            id="api-key-env",
        ),
        pytest.param(
            HEAD.replace("api_key_file: keys/default.key", f"api_key_env: {HEX_KEY}") + FLEET,
            "defaults.api_key_env",
            "looks like an API key rather than a variable name",
            id="default-api-key-env",
        ),
        pytest.param(
            fleet(f"{{name: {HEX_KEY}, url: https://eda1.example.net, role: discover}}"),
            "appliances[0].name",
            "name looks like an API key",
            id="name",
        ),
        pytest.param(
            fleet(f"{{name: x1, url: https://x1, role: explore, cluster: {HEX_KEY}, node: data}}"),
            "appliances[0].cluster",
            "cluster looks like an API key",
            id="cluster",
        ),
        pytest.param(
            fleet(f"{{name: eda1, url: 'http://eda1.example.net/{HEX_KEY}', role: discover}}"),
            "appliances[0].url",
            "url looks like it holds an API key",
            id="url",
        ),
    ],
)
def test_a_key_pasted_where_a_label_belongs_is_refused_unseen(
    tree: Path, text: str, row: str, fragment: str
) -> None:
    """A key in api_key_env, name, cluster or url is refused without being repeated."""
    with pytest.raises(InventoryError) as caught:
        load(tree, text)
    assert caught.value.row == row
    assert fragment in caught.value.message
    assert HEX_KEY not in str(caught.value)


def test_a_set_variable_with_a_key_like_name_is_still_read(tree: Path) -> None:
    """A variable whose long name merely looks like a key works when it is set."""
    variable = "EXTRAHOPAPIKEY2026PRODUCTION"
    text = HEAD.replace("api_key_file: keys/default.key", f"api_key_env: {variable}") + FLEET
    inventory = load(tree, text, env={variable: "the-key"})
    assert inventory.by_name("eca1").api_key == SecretStr("the-key")

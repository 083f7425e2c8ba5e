"""CSV inventories: the vendor's headerless systems.csv and the headered table."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import (
    CloudFirmware,
    FileFirmware,
    Inventory,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.inventory import load_inventory
from orchestrator.inventory.csvfile import version_in_name

if TYPE_CHECKING:
    from pathlib import Path

KEY = "0123456789abcdefghijKLMNOPQRSTuv"  # looks like a real ExtraHop key


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with two images and a key file, where the CSV will be written."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "eda-9.9.1.100.tar").write_text("EXTRAHOP-FIRMWARE\n")
    (tmp_path / "images" / "eda-complete.tar").write_text("EXTRAHOP-FIRMWARE\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "eda.key").write_text("file-key\n")
    return tmp_path


def load(directory: Path, text: str, env: dict[str, str] | None = None) -> Inventory:
    path = directory / "fleet.csv"
    path.write_text(textwrap.dedent(text))
    return load_inventory(path, env=env or {})


# --- vendor format -------------------------------------------------------------------------


def test_vendor_rows_load(tree: Path) -> None:
    """host,api_key,firmware rows become appliances named by host, role left for discovery."""
    inventory = load(
        tree,
        f"""\
        # upgrade these
        eda1.example.net,{KEY},images/eda-9.9.1.100.tar

        https://EDA2.example.net/,key-two,images/eda-complete.tar
        10.0.0.7:8443,key-three,https://repo.example.net/eda/8.7.1.tar
        """,
    )
    eda1, eda2, eda3 = inventory.appliances
    assert (eda1.name, eda1.url, eda1.role) == (
        "eda1.example.net",
        "https://eda1.example.net",
        None,
    )
    assert eda1.firmware == FileFirmware(
        file=tree / "images" / "eda-9.9.1.100.tar", version="9.9.1.100"
    )
    assert eda1.api_key == SecretStr(KEY)
    assert (eda2.name, eda2.url) == ("eda2.example.net", "https://eda2.example.net")
    assert eda2.firmware == FileFirmware(file=tree / "images" / "eda-complete.tar", version=None)
    assert (eda3.name, eda3.url) == ("10.0.0.7:8443", "https://10.0.0.7:8443")
    assert eda3.firmware == UrlFirmware(
        url="https://repo.example.net/eda/8.7.1.tar", version="8.7.1"
    )


def test_vendor_inline_keys_warn_once(tree: Path) -> None:
    """The vendor format's inline keys give one warning for the file, never the key itself."""
    inventory = load(
        tree,
        f"eda1,{KEY},images/eda-complete.tar\neda2,{KEY},images/eda-complete.tar\n",
    )
    assert inventory.warnings == (
        (
            f"keys are inline in {tree / 'fleet.csv'}; "
            "prefer a YAML inventory with api_key_env or api_key_file"
        ),
    )


def test_vendor_header_row_is_skipped(tree: Path) -> None:
    """A host,api_key,firmware header that someone added is not read as an appliance."""
    inventory = load(tree, "host,api_key,firmware\neda1,k,images/eda-complete.tar\n")
    assert [a.name for a in inventory.appliances] == ["eda1"]


def test_vendor_rows_report_their_line(tree: Path) -> None:
    """Errors point at the file's line, counting comments and blank lines."""
    text = "# comment\n\neda1,k,images/eda-complete.tar\neda2,k,images/missing.tar\n"
    with pytest.raises(InventoryError) as caught:
        load(tree, text)
    assert caught.value.row == 4


@pytest.mark.parametrize(
    ("name", "version"),
    [
        pytest.param("eda-9.9.1.100.tar", "9.9.1.100", id="file"),
        pytest.param("https://repo.example.net/eda/8.7.1.tar", "8.7.1", id="url-path"),
        pytest.param("https://10.1.2.3/eda-complete.tar", None, id="ip-host-ignored"),
        pytest.param("images/eda-complete.tar", None, id="none"),
    ],
)
def test_version_comes_from_the_image_name(name: str, version: str | None) -> None:
    """The target version is read from a dotted version in the file name or URL path."""
    assert version_in_name(name) == version


# --- headered format -----------------------------------------------------------------------


def test_headered_rows_load(tree: Path) -> None:
    """A headered CSV gives roles, clusters, firmware of each kind and per-row settings."""
    inventory = load(
        tree,
        """\
        name,url,role,cluster,node,firmware,version,api_key_env,api_key_file,verify_tls
        eda1,https://eda1.example.net,discover,,,images/eda-9.9.1.100.tar,9.9.1.100,,keys/eda.key,
        exa1,https://exa1.example.net,explore,exa,data,https://r.example.net/x.tar,9.9.1.100,K,,yes
        eta1,https://eta1.example.net,trace,,,cloud,9.9.1.100,K,,no
        """,
        env={"K": "env-key"},
    )
    eda1, exa1, eta1 = inventory.appliances
    assert eda1.role is Role.DISCOVER
    assert eda1.api_key == SecretStr("file-key")
    assert (exa1.cluster, exa1.node) == ("exa", NodeKind.DATA)
    assert exa1.firmware == UrlFirmware(url="https://r.example.net/x.tar", version="9.9.1.100")
    assert eta1.firmware == CloudFirmware(cloud_version="9.9.1.100")
    assert eta1.verify_tls is False
    assert inventory.warnings == (
        (
            "TLS verification disabled for eta1; prefer ca_bundle, or pin its certificate with "
            "`orchestrator trust`"
        ),
    )


def test_headered_inline_key_warns_per_appliance(tree: Path) -> None:
    """An api_key column warns for each appliance that uses it."""
    text = f"name,url,role,firmware,version,api_key\ne1,https://e1,discover,cloud,9.9.1.1,{KEY}\n"
    warnings = load(tree, text).warnings
    assert warnings == (
        f"the API key for e1 is inline in {tree / 'fleet.csv'}; prefer api_key_env or api_key_file",
    )


# --- errors --------------------------------------------------------------------------------

HEADER = "name,url,role,cluster,node,firmware,version,api_key_env\n"
BAD_CSV = [
    pytest.param(
        f"eda1.example.net,{KEY}\n",
        1,
        ["found 2", "add the firmware .tar path or URL"],
        id="vendor-two-fields",
    ),
    pytest.param(
        f"eda1,{KEY},a.tar,extra\n",
        1,
        ["expected 3 fields host,api_key,firmware, found 4"],
        id="vendor-four-fields",
    ),
    pytest.param(
        "eda1,,images/eda-complete.tar\n",
        1,
        ["api_key (field 2) is empty"],
        id="vendor-no-key",
    ),
    pytest.param(
        f",{KEY},images/eda-complete.tar\n",
        1,
        ["host (field 1) is empty"],
        id="vendor-no-host",
    ),
    pytest.param(
        f"sftp://eda1,{KEY},images/eda-complete.tar\n",
        1,
        ["host 'sftp://eda1'", "https://"],
        id="vendor-bad-scheme",
    ),
    pytest.param(
        f"{KEY},eda1,images/eda-complete.tar\n",
        1,
        ["looks like an API key", "host,api_key"],
        id="vendor-swapped-columns",
    ),
    pytest.param(
        f"eda1,{KEY},images/nope.tar\n",
        1,
        ["images/nope.tar' does not exist"],
        id="vendor-missing-image",
    ),
    pytest.param(
        f"eda1:abc,{KEY},images/eda-complete.tar\n",
        1,
        ["host (field 1) has a port that is not a number 1-65535"],
        id="vendor-bad-port",
    ),
    pytest.param(
        f"eda1,{KEY},gopher://x/eda.tar\n",
        1,
        ["http://, https:// or ftp://"],
        id="vendor-bad-firmware-url",
    ),
    pytest.param(
        f"eda1:8443,{KEY},images/eda-complete.tar\nEDA1:8443,{KEY},images/eda-complete.tar\n",
        2,
        ["duplicate name eda1:8443 (also row 1)", "use YAML to name them"],
        id="vendor-duplicate-host",
    ),
    pytest.param(
        f"https://eda1/,{KEY},images/eda-complete.tar\neda1:443,{KEY},images/eda-complete.tar\n",
        2,
        ["eda1:443 has the same URL as eda1 (row 1)", "list each one once"],
        id="vendor-same-host-as-url",
    ),
    pytest.param(
        f'"eda1,{KEY},images/eda-complete.tar\n',
        1,
        ["unreadable CSV row", "quotes"],
        id="bad-quoting",
    ),
    pytest.param("# nothing yet\n", None, ["lists no appliances", "add a row"], id="empty"),
    pytest.param(
        "name,url,rol\n",
        1,
        ["unknown column 'rol'", "did you mean role?"],
        id="unknown-column",
    ),
    pytest.param(
        "name,role,firmware\n",
        1,
        ["the header lacks url", "start it with name,url,role"],
        id="missing-column",
    ),
    pytest.param("name,url,role,url\n", 1, ["column url appears twice"], id="duplicate-column"),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,images/eda-complete.tar,9.9.1.1,K,extra\n",
        2,
        ["9 cells but the header has 8 columns", "quote a value"],
        id="extra-cells",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,,9.9.1.1,K\n",
        2,
        ["version is set but firmware is empty", "the word cloud"],
        id="version-no-firmware",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,cloud,,K\n",
        2,
        ["firmware is cloud but version is empty", "e.g. 9.9.1.100"],
        id="cloud-no-version",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,images/eda-9.9.1.100.tar,,K\n",
        2,
        ["target version is missing", "fill the version column", "e.g. 9.9.1.100"],
        id="file-no-version",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,,,K\n",
        2,
        ["no firmware for e1 (role discover)", "fill the firmware column"],
        id="no-firmware",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,cloud,9.9.1.1,\n",
        2,
        ["no API key for e1", "fill the api_key_env or api_key_file column"],
        id="no-key",
    ),
    pytest.param(
        HEADER + "e1,https://e1,discover,,,cloud,9.9.1.1,MISSING\n",
        2,
        ["MISSING is unset or empty", "export MISSING=..."],
        id="env-unset",
    ),
    pytest.param(
        HEADER + "x1,https://x1,explore,exa,,cloud,9.9.1.1,K\n",
        2,
        ["x1 has no node", "node: manager or node: data"],
        id="explore-no-node",
    ),
    pytest.param(
        HEADER + "e1,https://e1,command,,data,cloud,9.9.1.1,K\n",
        2,
        ["only to explore", "remove node from e1"],
        id="node-not-explore",
    ),
    pytest.param(
        "name,url,role,firmware,version,api_key_env,verify_tls\n"
        "e1,https://e1,discover,cloud,9.9.1.1,K,maybe\n",
        2,
        ["verify_tls 'maybe'", "write true or false"],
        id="verify-tls",
    ),
]


@pytest.mark.parametrize(("text", "row", "fragments"), BAD_CSV)
def test_bad_csv_is_one_clear_error(
    tree: Path, text: str, row: int | None, fragments: list[str]
) -> None:
    """Each mistake raises InventoryError naming the file, the line and the fix, never the key."""
    with pytest.raises(InventoryError) as caught:
        load(tree, text, env={"K": "k"})
    path = tree / "fleet.csv"
    assert (caught.value.file, caught.value.row) == (str(path), row)
    where = f"{path}:{row}: " if row is not None else f"{path}: "
    assert str(caught.value).startswith(where)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"eda1,images/eda-complete.tar,{KEY}\n", id="vendor-key-in-firmware-column"),
        pytest.param(f"{KEY},eda1,images/eda-complete.tar\n", id="vendor-key-in-host-column"),
        pytest.param(f"eda1,{KEY}\n", id="vendor-firmware-missing"),
        pytest.param(
            f"name,url,role,firmware,version,api_key\ne1,https://e1,discover,{KEY},cloud,9.9.1.1\n",
            id="headered-shifted-columns",
        ),
        pytest.param(
            f"name,url,role,firmware,api_key\ne1,https://e1,router,cloud,{KEY}\n",
            id="headered-bad-row-with-key",
        ),
    ],
)
def test_csv_errors_never_contain_the_key(tree: Path, text: str) -> None:
    """A key in a bad row, even in the wrong column, never appears in the error."""
    with pytest.raises(InventoryError) as caught:
        load(tree, text)
    assert KEY not in str(caught.value)


def test_vendor_rows_on_one_host_and_different_ports_are_two_appliances(tree: Path) -> None:
    """The port is part of the name: a lab (or the simulator) serves many on one address."""
    inventory = load(
        tree,
        f"http://127.0.0.1:9001/,{KEY},images/eda-9.9.1.100.tar\n"
        f"http://127.0.0.1:9002/,{KEY},images/eda-9.9.1.100.tar\n",
    )
    assert [a.name for a in inventory.appliances] == ["127.0.0.1:9001", "127.0.0.1:9002"]


def test_vendor_rows_with_ipv6_hosts_get_names_unique_per_host_and_port(tree: Path) -> None:
    """IPv6 hosts, bare or bracketed with a port, load with names that keep them apart."""
    image = "images/eda-9.9.1.100.tar"
    inventory = load(
        tree,
        f"[::1]:8443,{KEY},{image}\n"
        f"[::1]:8444,{KEY},{image}\n"
        f"::1,{KEY},{image}\n"
        f"::1:8443,{KEY},{image}\n"
        f"https://[FD00::7]:8443/,{KEY},{image}\n",
    )
    assert [(a.name, a.url) for a in inventory.appliances] == [
        ("::1.8443", "https://[::1]:8443"),
        ("::1.8444", "https://[::1]:8444"),
        ("::1", "https://[::1]"),
        ("::1:8443", "https://[::1:8443]"),
        ("fd00::7.8443", "https://[fd00::7]:8443"),
    ]


def test_a_vendor_host_that_gives_no_usable_name_says_to_name_it_in_yaml(tree: Path) -> None:
    """A host whose name would be unusable (an IPv6 zone) is blamed on the host, not a name."""
    with pytest.raises(InventoryError) as caught:
        load(tree, f"[fe80::1%25eth0],{KEY},images/eda-9.9.1.100.tar\n")
    assert caught.value.row == 1
    assert caught.value.message.startswith("host (field 1) gives no usable appliance name")
    assert "use a YAML inventory to name it" in caught.value.message


@pytest.mark.parametrize(
    "separator",
    [
        pytest.param("\u2028", id="line-separator"),
        pytest.param("\u2029", id="paragraph-separator"),
        pytest.param("\x85", id="next-line"),
        pytest.param("\x0b", id="vertical-tab"),
        pytest.param("\x0c", id="form-feed"),
        pytest.param("\x1e", id="record-separator"),
    ],
)
def test_only_newlines_end_a_csv_row(tree: Path, separator: str) -> None:
    """A Unicode line separator inside a row neither splits it nor shifts the line numbers."""
    image = "images/eda-9.9.1.100.tar"
    inventory = load(
        tree, f"eda1{separator},{KEY},{image}\r\neda2,{KEY},{image}\reda3,{KEY},{image}\n"
    )
    assert [a.name for a in inventory.appliances] == ["eda1", "eda2", "eda3"]
    with pytest.raises(InventoryError) as caught:
        load(tree, f"eda1{separator},{KEY},{image}\neda2,{KEY}\n")
    assert caught.value.row == 2


def test_a_nul_in_a_csv_row_is_named(tree: Path) -> None:
    """A NUL character is named as such, not blamed on the quotes."""
    with pytest.raises(InventoryError) as caught:
        load(tree, f"eda1\x00,{KEY},images/eda-9.9.1.100.tar\n")
    assert caught.value.row == 1
    assert caught.value.message.startswith("the row holds a NUL character (U+0000); delete it")


HEX_KEY = "deadbeef0123456789abcdef01234567"  # a hex key that is also a valid variable name


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        pytest.param(f"{HEX_KEY},https://e1,discover,,,cloud,9.9.1.1,K", "name", id="name"),
        pytest.param(f"e1,https://e1,discover,,,cloud,9.9.1.1,{HEX_KEY}", "api_key_env", id="env"),
    ],
)
def test_a_headered_row_with_a_key_in_the_wrong_column_is_refused_unseen(
    tree: Path, row: str, fragment: str
) -> None:
    """A key typed as a name or a variable is refused, naming the line and not the key."""
    with pytest.raises(InventoryError) as caught:
        load(tree, HEADER + row + "\n", env={"K": "k"})
    assert caught.value.row == 2
    assert fragment in caught.value.message
    assert "looks like an API key" in caught.value.message
    assert HEX_KEY not in str(caught.value)

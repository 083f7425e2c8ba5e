"""The pins file beside an inventory: read, written, applied to the appliances it names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from orchestrator.core.errors import InventoryError
from orchestrator.core.tls import TlsCheck
from orchestrator.inventory import load_inventory
from orchestrator.inventory.pins import Pin, pins_path, read_pins, write_pins

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"KEY": "fake-key-for-tests"}
A = "sha256:" + "a" * 64
B = "sha256:" + "0123456789abcdef" * 4
INVENTORY = """\
defaults: {api_key_env: KEY}
firmware:
  discover: {cloud_version: 9.9.1.100}
  trace: {cloud_version: 9.9.1.100}
appliances:
  - {name: eda1, url: https://eda1.example.net, role: discover}
  - {name: eda2, url: https://eda2.example.net, role: discover, verify_tls: false}
  - {name: eta1, url: https://eta1.example.net, role: trace, verify_tls: false}
  - {name: sim1, url: http://127.0.0.1:8001, role: discover}
"""


def inventory(tmp_path: Path, pins: str | None = None) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(INVENTORY)
    if pins is not None:
        pins_path(path).write_text(pins)
    return path


def test_the_pins_file_is_beside_the_inventory(tmp_path: Path) -> None:
    """fleet.yaml's pins are in fleet.pins.yaml; systems.csv's in systems.pins.yaml."""
    assert pins_path(tmp_path / "fleet.yaml") == tmp_path / "fleet.pins.yaml"
    assert pins_path(tmp_path / "systems.csv") == tmp_path / "systems.pins.yaml"


def test_written_pins_read_back_with_their_comments(tmp_path: Path) -> None:
    """What trust writes reads back: names (even ones YAML would misread), pins and comments."""
    path = tmp_path / "fleet.pins.yaml"
    pins = [
        Pin("eda1", A, ("eda1  https://eda1.example.net", "  subject: CN=eda1")),
        Pin("::1", B),
        Pin("yes", B, ("a name YAML would read as true",)),
    ]
    write_pins(path, pins, inventory="fleet.yaml")
    text = path.read_text()
    assert text.startswith("# TLS certificate pins for fleet.yaml, written by `orchestrator trust`")
    assert "# eda1  https://eda1.example.net\n#   subject: CN=eda1\neda1: " + A in text
    assert read_pins(path) == {pin.name.casefold(): pin for pin in pins}
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_pins_apply_to_the_appliances_they_name(tmp_path: Path) -> None:
    """A pinned appliance carries its pin and is checked by it; the others by their CA."""
    path = inventory(tmp_path, f"EDA1: {A}\n")  # names compare case-insensitively
    loaded = load_inventory(path, env=ENV)
    checks = {a.name: (a.tls_check, a.pin) for a in loaded.appliances}
    assert checks["eda1"] == (TlsCheck.PIN, A)
    assert checks["eda2"] == (TlsCheck.NONE, None)
    assert checks["sim1"] == (TlsCheck.HTTP, None)


def test_openssl_fingerprints_are_accepted(tmp_path: Path) -> None:
    """The colon-separated upper-case form openssl prints is read as the same pin."""
    pasted = "SHA256:" + ":".join(
        f"{byte:02X}" for byte in bytes.fromhex(B.removeprefix("sha256:"))
    )
    path = inventory(tmp_path, f"eda1: {pasted}\n")
    assert load_inventory(path, env=ENV).by_name("eda1").pin == B


def test_warnings_for_pins_that_change_nothing_or_override_verify_tls(tmp_path: Path) -> None:
    """A pin beats verify_tls: false (which should go), is unused on http, or names no one."""
    path = inventory(tmp_path, f"eta1: {A}\nsim1: {A}\ngone1: {B}\n")
    loaded = load_inventory(path, env=ENV)
    assert loaded.by_name("eta1").tls_check is TlsCheck.PIN
    assert loaded.warnings == (
        (
            "TLS verification disabled for eda2; prefer ca_bundle, or pin its certificate with "
            "`orchestrator trust`"
        ),
        "eta1 is verified by its pin; remove its verify_tls: false",
        "sim1 is pinned but speaks http://: the pin is not used",
        "fleet.pins.yaml pins gone1, which the inventory does not list; delete that line",
    )


@pytest.mark.parametrize(
    ("pins", "row", "words"),
    [
        pytest.param("eda1: sha256:1234\n", 1, "the pin of eda1 is not sha256:", id="short"),
        pytest.param("eda1: md5:" + "a" * 32 + "\n", 1, "not sha256:", id="md5"),
        pytest.param(f"# c\n\neda1 {A}\n", 3, "not a pin: ", id="no-colon"),
        pytest.param(
            f"eda1: {A}\nEda1: {B}\n", 2, "Eda1 is pinned twice (also line 1)", id="twice"
        ),
        pytest.param(f"1234: {A}\n", 1, "must be text; quote it: '1234'", id="number-name"),
        pytest.param(f"  eda1: {A}\n", 1, "not a pin: ", id="indented"),
        pytest.param("eda1: [a, b]\n", 1, "the pin of eda1 is not", id="list"),
    ],
)
def test_a_bad_pins_file_is_one_error_naming_the_file_and_line(
    tmp_path: Path, pins: str, row: int, words: str
) -> None:
    """A line that is not `name: sha256:HEX` stops the load, naming the pins file and line."""
    path = inventory(tmp_path, pins)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, env=ENV)
    assert caught.value.file == str(pins_path(path))
    assert caught.value.row == row
    assert words in caught.value.message


def test_an_unreadable_pins_file_is_an_error(tmp_path: Path) -> None:
    """A pins file that is a directory is refused with the reason, not ignored."""
    path = inventory(tmp_path)
    pins_path(path).mkdir()
    with pytest.raises(InventoryError, match=r"fleet\.pins\.yaml: cannot read the pins file"):
        load_inventory(path, env=ENV)


def test_no_pins_file_means_no_pins(tmp_path: Path) -> None:
    """Without a pins file, nothing is pinned and nothing is said."""
    loaded = load_inventory(inventory(tmp_path), env=ENV)
    assert all(a.pin is None for a in loaded.appliances)
    assert not any("pinned" in warning or "pins" in warning for warning in loaded.warnings)


def test_a_pins_file_that_cannot_be_replaced_is_an_error_not_silence(tmp_path: Path) -> None:
    """`trust` must not say it pinned when the file was not written (here: a folder in the way)."""
    target = tmp_path / "fleet.pins.yaml"
    target.mkdir()
    pin = Pin(name="eca1", fingerprint="sha256:" + "ab" * 32)
    with pytest.raises(InventoryError, match="cannot write the pins file"):
        write_pins(target, [pin], inventory="fleet.yaml")
    assert [p.name for p in tmp_path.iterdir()] == ["fleet.pins.yaml"]  # no temporary left

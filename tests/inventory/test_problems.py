"""One pass over an inventory reports every error it finds, up to a cap, one line each."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from orchestrator.core.errors import InventoryError
from orchestrator.inventory import load_inventory
from orchestrator.inventory.problems import MOST_LISTED

if TYPE_CHECKING:
    from pathlib import Path

HEAD = """\
defaults:
  api_key_file: keys/default.key
firmware:
  command: {cloud_version: 9.9.1.100}
  discover: {url: https://repo.example.net/eda-9.9.1.100.tar, version: 9.9.1.100}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with the default key file beside where the inventory will be written."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "default.key").write_text("default-key\n")
    return tmp_path


def errors_of(tree: Path, text: str, name: str = "inv.yaml") -> InventoryError:
    path = tree / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, env={})
    return caught.value


def places(error: InventoryError) -> list[str]:
    """`inv.yaml:appliances[1].role` for each error listed."""
    return [line.split(": ", 1)[0].rsplit("/", 1)[-1] for line in error.lines()]


def test_every_bad_appliance_is_reported_in_one_pass(tree: Path) -> None:
    """Errors in three appliances are three lines, each naming its place; good ones none."""
    error = errors_of(
        tree,
        HEAD
        + "appliances:\n"
        + "  - {name: eca1, url: https://eca1.example.net, role: command}\n"
        + "  - {name: eda1, url: https://eda1.example.net, role: sensor}\n"
        + "  - {name: eda2, url: https://eda2.example.net, role: discover}\n"
        + "  - {name: eca1, url: https://eca9.example.net, role: command}\n"
        + "  - {name: eda3, url: eda3.example.net, role: discover}\n",
    )
    assert places(error) == [
        "inv.yaml:appliances[1].role",
        "inv.yaml:appliances[3].name",
        "inv.yaml:appliances[4].url",
    ]
    assert "unknown role 'sensor' for eda1" in error.lines()[0]
    assert "duplicate name eca1 (also appliances[0])" in error.lines()[1]
    assert str(error).endswith("(and 2 more errors)")
    assert "\n" not in str(error)


def test_several_errors_of_one_appliance_are_each_reported(tree: Path) -> None:
    """A bad URL and a bad name on one appliance are two lines, not the first alone."""
    error = errors_of(tree, HEAD + "appliances:\n  - {name: 'x y', url: ftp//bad, role: command}\n")
    assert places(error) == [
        "inv.yaml:appliances[0].url",
        "inv.yaml:appliances[0].name",
    ]


def test_an_error_every_appliance_shares_is_reported_once(tree: Path) -> None:
    """A bad key source in defaults is one line, not one per appliance that uses it."""
    text = HEAD.replace("keys/default.key", "keys/missing.key") + "appliances:\n"
    text += "".join(
        f"  - {{name: eda{n}, url: https://eda{n}.e, role: discover}}\n" for n in (1, 2)
    )
    error = errors_of(tree, text)
    assert len(error.lines()) == 1
    assert places(error) == ["inv.yaml:defaults.api_key_file"]


def test_a_role_s_bad_firmware_is_reported_once_not_per_appliance(tree: Path) -> None:
    """A broken firmware.discover is one error; its appliances are not each blamed for it."""
    text = HEAD.replace("url: https://repo.example.net/eda-9.9.1.100.tar", "url: nowhere")
    text += "appliances:\n"
    text += "".join(
        f"  - {{name: eda{n}, url: https://eda{n}.e, role: discover}}\n" for n in (1, 2)
    )
    error = errors_of(tree, text)
    assert places(error) == ["inv.yaml:firmware.discover.url"]


def test_a_mistyped_role_does_not_also_blame_its_cluster(tree: Path) -> None:
    """`role: explorer` with a cluster is one error (the role), not a second about the cluster."""
    line = "{name: exa1, url: https://exa1.e, role: explorer, cluster: exa, node: data}"
    error = errors_of(tree, HEAD + f"appliances:\n  - {line}\n")
    assert len(error.lines()) == 1
    assert "unknown role 'explorer'" in error.lines()[0]


def test_errors_past_the_cap_are_counted_not_listed(tree: Path) -> None:
    """Thirty bad appliances list the first twenty, then say how many more there are."""
    rows = "".join(f"  - {{name: e{n}, url: https://e{n}.e, role: sensor}}\n" for n in range(30))
    error = errors_of(tree, HEAD + "appliances:\n" + rows)
    lines = error.lines()
    assert len(lines) == MOST_LISTED + 1 == 21
    assert lines[-1].endswith("inv.yaml: 10 more not listed; fix these and run again")
    assert str(error).endswith("(and 29 more errors)")


def test_csv_rows_are_each_reported_with_their_line(tree: Path) -> None:
    """In a headered CSV every bad row is its own `file:LINE` error."""
    text = (
        "name,url,role,firmware,version,api_key_file\n"
        "eca1,https://eca1.e,command,cloud,9.9.1.100,keys/default.key\n"
        "eda1,https://eda1.e,sensor,cloud,9.9.1.100,keys/default.key\n"
        "eda2,https://eda2.e,discover,cloud,9.9.1.100,keys/nope.key\n"
    )
    error = errors_of(tree, text, name="inv.csv")
    assert places(error) == ["inv.csv:3", "inv.csv:4"]


def test_no_key_appears_in_any_of_the_errors(tree: Path) -> None:
    """Inline keys are masked in every error listed, not only the first."""
    secret = "0123456789abcdefghijKLMNOPQRSTuv"
    rows = "".join(
        f"  - {{name: e{n}, url: https://e{n}.e, role: {secret}, api_key: {secret}}}\n"
        for n in range(3)
    )
    error = errors_of(tree, HEAD + "appliances:\n" + rows)
    assert len(error.lines()) == 3
    assert secret not in "\n".join(error.lines())
    assert secret not in str(error)

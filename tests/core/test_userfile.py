"""Files the user names are read only when they are regular, readable and of a sane size."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator import workflow
from orchestrator.core.config import Settings, resolve_settings
from orchestrator.core.errors import ConfigError, InventoryError, OrchestratorError, PlanError
from orchestrator.core.userfile import write_atomically
from orchestrator.inventory import load_inventory
from orchestrator.plan.file import load_plan

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

INVENTORY = """\
defaults: {api_key_file: keys/default.key, ca_bundle: certs/ca.pem}
firmware:
  command: {file: images/eca-9.9.1.100.tar, version: 9.9.1.100}
appliances:
  - {name: eca1, url: https://eca1.example.net, role: command}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """An inventory with a key file, a CA bundle and an image, all regular files."""
    for folder, name, text in (
        ("images", "eca-9.9.1.100.tar", "EXTRAHOP-FIRMWARE\n"),
        ("keys", "default.key", "default-key\n"),
        ("certs", "ca.pem", "fake CA\n"),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(text)
    (tmp_path / "inv.yaml").write_text(INVENTORY)
    return tmp_path


def promptly(call: Callable[[], object]) -> BaseException:
    """What `call` raised, failing the test if it blocks (as reading a FIFO would)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test to check
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "blocked reading a file that is not a regular file"
    assert raised, "nothing was refused"
    return raised[0]


def fifo_instead_of(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("name", "row", "what"),
    [
        pytest.param("keys/default.key", "defaults.api_key_file", "key file", id="key-file"),
        pytest.param("certs/ca.pem", "defaults.ca_bundle", "CA bundle", id="ca-bundle"),
        pytest.param(
            "images/eca-9.9.1.100.tar", "firmware.command.file", "firmware file", id="image"
        ),
    ],
)
def test_a_fifo_named_by_the_inventory_is_refused_at_once(
    tree: Path, name: str, row: str, what: str
) -> None:
    """A FIFO as a key file, CA bundle or image is one error naming it, not a hang."""
    fifo_instead_of(tree / name)
    error = promptly(lambda: load_inventory(tree / "inv.yaml", env={}))
    assert isinstance(error, InventoryError)
    assert error.row == row
    assert what in error.message
    assert "is not a regular file" in error.message
    assert "a FIFO" in error.message


def test_a_fifo_as_the_inventory_is_refused_at_once(tree: Path) -> None:
    """The inventory itself may not be a FIFO either."""
    fifo_instead_of(tree / "inv.yaml")
    error = promptly(lambda: load_inventory(tree / "inv.yaml", env={}))
    assert isinstance(error, InventoryError)
    assert "is not a regular file but a FIFO" in str(error)


def test_a_fifo_as_the_settings_file_is_refused_at_once(tmp_path: Path) -> None:
    """--config naming a FIFO is one ConfigError naming the file."""
    os.mkfifo(tmp_path / "settings.yaml")
    error = promptly(lambda: resolve_settings({}, {}, tmp_path / "settings.yaml"))
    assert isinstance(error, ConfigError)
    assert str(error).startswith(f"{tmp_path / 'settings.yaml'}: ")
    assert "is not a regular file" in str(error)


def test_a_fifo_as_the_plan_file_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO given to `apply --plan` is one PlanError naming the file."""
    os.mkfifo(tmp_path / "plan.json")
    error = promptly(lambda: load_plan(tmp_path / "plan.json"))
    assert isinstance(error, PlanError)
    assert str(error).startswith(f"{tmp_path / 'plan.json'}: not a plan file (")
    assert "is not a regular file" in str(error)


def test_a_key_file_much_larger_than_a_key_is_refused(tree: Path) -> None:
    """A 10 MB key file fails validation instead of reaching the appliance as a header."""
    (tree / "keys" / "default.key").write_bytes(b"k" * 10_000_000)
    with pytest.raises(InventoryError) as caught:
        load_inventory(tree / "inv.yaml", env={})
    assert caught.value.row == "defaults.api_key_file"
    assert "holds more than an API key" in caught.value.message


def test_a_key_file_of_a_few_hundred_bytes_is_still_read(tree: Path) -> None:
    """Long keys (and a trailing newline) stay well under the size limit."""
    (tree / "keys" / "default.key").write_text("k" * 512 + "\n")
    inventory = load_inventory(tree / "inv.yaml", env={})
    assert inventory.appliances[0].api_key == SecretStr("k" * 512)


def test_an_unreadable_image_fails_validation(tree: Path) -> None:
    """A firmware image this user cannot read is refused by validate, naming the row."""
    image = tree / "images" / "eca-9.9.1.100.tar"
    image.chmod(0)
    if os.access(image, os.R_OK):
        pytest.skip("this user (root) reads a file whatever its mode")
    with pytest.raises(InventoryError) as caught:
        load_inventory(tree / "inv.yaml", env={})
    assert caught.value.row == "firmware.command.file"
    assert "cannot read firmware file" in caught.value.message
    assert "Permission denied" in caught.value.message


def test_a_directory_is_still_named_as_one(tree: Path) -> None:
    """A directory given as a CA bundle is refused saying it is a directory."""
    (tree / "certs" / "ca.pem").unlink()
    (tree / "certs" / "ca.pem").mkdir()
    with pytest.raises(OrchestratorError, match=r"is not a regular file \(a directory\)"):
        load_inventory(tree / "inv.yaml", env={})


def gone(image: Path) -> None:
    image.unlink()


def unreadable(image: Path) -> None:
    image.chmod(0)
    if os.access(image, os.R_OK):
        pytest.skip("this user (root) reads a file whatever its mode")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(gone, "No such file or directory", id="deleted"),
        pytest.param(fifo_instead_of, "not a regular file but a FIFO", id="fifo"),
        pytest.param(unreadable, "Permission denied", id="unreadable"),
    ],
)
def test_an_image_spoilt_after_validation_fails_the_plan_in_one_line(
    tree: Path, change: Callable[[Path], None], reason: str
) -> None:
    """An image deleted, swapped or made unreadable before `plan` is one PlanError naming it."""
    inventory = load_inventory(tree / "inv.yaml", env={})
    image = tree / "images" / "eca-9.9.1.100.tar"
    change(image)
    plan = workflow.make_plan(inventory, Settings(), offline=True)
    error = promptly(lambda: asyncio.run(plan))
    assert isinstance(error, PlanError)
    assert str(image) in str(error)
    assert reason in str(error)
    assert "\n" not in str(error)


def test_text_given_in_pieces_is_written_whole_and_private(tmp_path: Path) -> None:
    """A large report written piece by piece reads back as the joined text, mode 0600."""
    pieces = [f"line {n} ünïcode\n" for n in range(200_000)]  # several blocks of a MiB
    path = tmp_path / "out" / "report.json"
    write_atomically(path, iter(pieces))
    assert path.read_text(encoding="utf-8") == "".join(pieces)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary left

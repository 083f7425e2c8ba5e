"""`orchestrator discover CONSOLE_URL --out fleet.yaml`: the fleet a console knows, as an inventory.

Exit codes: 0 written; 1 the console could not be read (unreachable, certificate refused,
key refused); 2 bad input (flags, key, the file to merge into). Nothing is written unless
the console answered. What was written is the command's result (standard output); notes
on what to complete go to standard error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli.exitcodes import EXIT_OK
from orchestrator.core.models import Role

if TYPE_CHECKING:
    from orchestrator.cli.main import App
    from orchestrator.workflow.discover import Result

__all__ = ["add_discover", "discover"]

_KEY = "EXTRAHOP_API_KEY"


def add_discover(sub: Any, command: Any) -> None:  # noqa: ANN401 - argparse's private action
    """The `discover` sub-command and its flags; `command` makes a sub-command parser."""
    p = command(sub, "discover", "write an inventory of the fleet a Command appliance knows")
    p.add_argument(
        "console",
        metavar="CONSOLE_URL",
        help="the Command appliance, e.g. https://eca1.example.net",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the YAML inventory to write (refused if it exists) [default: the --merge file]",
    )
    p.add_argument(
        "--merge",
        type=Path,
        metavar="EXISTING.yaml",
        help="add the appliances this inventory lacks, keeping everything written in it "
        "[default: write a new file]",
    )
    key = p.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key-env",
        metavar="VARIABLE",
        help=f"the variable holding the console's API key [default: {_KEY}]",
    )
    key.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="a file holding the console's API key [default: the --api-key-env variable]",
    )
    p.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="PATH",
        help="the CA that signed the console's certificate; written as the inventory's "
        "ca_bundle [default: this machine's CAs]",
    )
    p.add_argument(
        "--pin",
        metavar="sha256:HEX",
        help="trust exactly this certificate of the console (self-signed); written to the "
        "pins file beside the inventory [default: verify by CA]",
    )
    p.add_argument(
        "--version",
        dest="target_version",
        metavar="VERSION",
        help="write firmware: {cloud_version: VERSION} for every role [default: a FILL IN note]",
    )


def discover(app: App) -> int:
    """Read the console's appliances and write (or merge) the inventory."""
    import asyncio  # noqa: PLC0415 - not loaded by the parser that imports this module

    from orchestrator.workflow.discover import Request  # noqa: PLC0415 - aiohttp, only here
    from orchestrator.workflow.discover import discover as run  # noqa: PLC0415

    args = app.args
    request = Request(
        console_url=args.console,
        out=args.out,
        merge=args.merge,
        key_env=args.api_key_env,
        key_file=args.api_key_file,
        ca_bundle=args.ca_bundle,
        pin=args.pin,
        version=args.target_version,
    )
    result = asyncio.run(run(request, app.settings, os.environ))
    for line in summary(result):
        app.out.print(line, markup=False, highlight=False)
    for note in notes(result):
        app.voice.warning(note, event="discover.noted")
    return EXIT_OK


def summary(result: Result) -> list[str]:
    """What was written, and what to do next."""
    if result.merged:
        kept = len(result.entries) - len(result.added)
        lines = [f"{result.path}: merged: {len(result.added)} added, {kept} already there"]
        if result.added:
            lines.append(f"  added: {', '.join(result.added)}")
        return lines + _to_do(result)
    counts: dict[str, int] = {}
    for entry in result.entries:
        counts[entry.role.value] = counts.get(entry.role.value, 0) + 1
    detail = ", ".join(f"{n} {role}" for role, n in counts.items())
    return [f"{result.path}: written, {len(result.entries)} appliances ({detail})", *_to_do(result)]


def _to_do(result: Result) -> list[str]:
    added = set(result.added)
    explore = [e.name for e in result.entries if e.role is Role.EXPLORE and e.name in added]
    lines = []
    if explore:
        lines.append(f"  fill in: the cluster and node of {', '.join(explore)}")
    if not result.version_given and not result.merged:
        lines.append("  fill in: the firmware of each role (or run discover with --version)")
    if result.added:
        path = result.path
        lines.append("  then export each api_key_env variable it names, and run:")
        lines.append(f"  orchestrator validate {path} && orchestrator trust {path}")
        lines.append(f"  orchestrator plan {path}")
    return lines


def notes(result: Result) -> list[str]:
    """One warning per appliance that needs a look."""
    lines = [
        f"{e.name}: the console cannot reach it ({e.status}); check it before planning"
        for e in result.entries
        if not e.online
    ]
    lines += list(result.left_out)
    lines += [
        f"{name}: in {result.path} but not listed by the console; kept as written"
        for name in result.unlisted
    ]
    return lines

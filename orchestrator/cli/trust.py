"""`orchestrator trust INVENTORY`: show each appliance's certificate, ask, pin what is accepted.

Exit codes: 0 every https appliance is pinned to the certificate it presents; 1 one could not
be read, or its certificate changed and was not re-pinned; 2 bad input, or no terminal to
confirm on and no --yes; 4 the operator said no (nothing changed). The certificates are the
command's result (standard output); questions, warnings and errors go to standard error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.cli.exitcodes import EXIT_BAD_INPUT, EXIT_DECLINED, EXIT_FAILED, EXIT_OK
from orchestrator.inventory import load_inventory
from orchestrator.workflow.trust import Sighting, Standing, record_pins, survey

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.cli.main import App

__all__ = ["trust"]

_STANDING = {
    Standing.NEW: "not pinned yet",
    Standing.SAME: "pinned: this certificate",
}


def trust(app: App, path: Path) -> int:
    """Read every appliance's certificate, show it, and pin the ones the operator accepts."""
    inventory = load_inventory(path)
    app.warn(inventory)
    sightings = asyncio.run(survey(inventory, app.settings))
    now = dt.datetime.now(dt.UTC)
    for sighting in sightings:
        app.out.print("\n".join([*describe(sighting, now), ""]), markup=False, highlight=False)
    new = [s for s in sightings if s.standing is Standing.NEW]
    changed = [s for s in sightings if s.standing is Standing.CHANGED]
    answer = _confirm_new(app, new) if new else True
    if answer is not True:
        return EXIT_BAD_INPUT if answer is None else EXIT_DECLINED
    replaced = [s for s in changed if _confirm_replace(app, s)]
    if new or replaced:
        written = record_pins(inventory, [*new, *replaced], now=now)
        count = len(new) + len(replaced)
        app.out.print(
            f"pinned {count} appliance(s) in {written}: review it, and keep it beside the "
            "inventory (commit both)",
            markup=False,
        )
    elif not changed:
        app.out.print("nothing new to pin", markup=False)
    return _verdict(app, sightings, replaced)


def describe(sighting: Sighting, now: dt.datetime) -> list[str]:
    """The lines `trust` shows for one appliance."""
    appliance = sighting.appliance
    lines = [f"{appliance.name}  {appliance.url}"]
    if sighting.standing is Standing.PLAIN:
        return [*lines, "    http://: no TLS, nothing to pin"]
    if sighting.presented is None:
        return [*lines, f"    cannot read its certificate: {sighting.error}"]
    cert, problem = sighting.presented.certificate, sighting.presented.ca_problem
    issuer = f"{cert.issuer} (self-signed)" if cert.self_signed else cert.issuer
    lines += [
        f"    {cert.fingerprint}",
        f"    subject  {cert.subject}",
        f"    issuer   {issuer}",
        f"    valid    {cert.validity(now)}",
        f"    names    {', '.join(cert.names) or '(none)'}",
        f"    CA check {'passes' if problem is None else f'fails: {problem}'}",
    ]
    if sighting.standing is Standing.CHANGED:
        lines.append(f"    CHANGED since it was pinned (pinned {appliance.pin})")
    else:
        lines.append(f"    {_STANDING[sighting.standing]}")
    return lines


def _confirm_new(app: App, new: list[Sighting]) -> bool | None:
    names = ", ".join(s.appliance.name for s in new)
    return app.ask(
        f"Pin the certificate(s) of {names} as shown above? Compare the fingerprints with "
        "each appliance's own first",
        yes=app.args.yes,
        unattended="check the fingerprints shown, then run trust with --yes",
    )


def _confirm_replace(app: App, sighting: Sighting) -> bool:
    name = sighting.appliance.name
    app.voice.warning(
        f"the certificate of {name} CHANGED since it was pinned: someone may be "
        "impersonating it, or its certificate was replaced",
        event="trust.certificate_changed",
    )
    answer = app.ask(
        f"Replace the pin of {name}? Only if you know why its certificate changed",
        yes=app.args.yes and app.args.replace,
        unattended=f"once you know why it changed, re-pin {name} with trust --yes --replace",
    )
    return answer is True


def _verdict(app: App, sightings: list[Sighting], replaced: list[Sighting]) -> int:
    """Say what is left to do; the exit code."""
    failed = False
    for sighting in sightings:
        name = sighting.appliance.name
        if sighting.standing is Standing.FAILED:
            failed = True
            app.voice.error(f"{name}: not pinned: {sighting.error}", event="trust.failed")
        elif sighting.standing is Standing.CHANGED and sighting not in replaced:
            failed = True
            app.voice.error(
                f"{name}: still pinned to its old certificate: runs refuse it until it is "
                "re-pinned (trust --yes --replace)",
                event="trust.refused",
            )
    return EXIT_FAILED if failed else EXIT_OK

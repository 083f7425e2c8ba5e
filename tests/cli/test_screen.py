"""What an operator sees: the live view on a real terminal, every redraw read like a screen.

A 40-appliance run on a pseudo-terminal of 80x24 and of 160x45; the bytes the terminal got are
replayed into a terminal emulator (pyte) chunk by chunk, and every screen is checked: the
footer is on it, whole, exactly once; a warning logged during the run sits on a line of its
own, never inside the live region.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyte
import pytest
from simproc import Sim, Terminal

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

FOOTER = "finished, running"


def big_fleet() -> dict[str, Any]:
    """1 Command, 20 Discover, two Explore clusters of 5, 9 Trace: 40 appliances."""
    apps: list[dict[str, Any]] = [{"name": "eca1", "role": "command"}]
    apps += [{"name": f"eda{i:02d}", "role": "discover"} for i in range(1, 21)]
    for cluster in ("exa", "exb"):
        for node, count in (("manager", 2), ("data", 3)):
            apps += [
                {
                    "name": f"{cluster}-{node[0]}{i}",
                    "role": "explore",
                    "cluster": cluster,
                    "node": node,
                }
                for i in range(1, count + 1)
            ]
    apps += [{"name": f"eta{i}", "role": "trace"} for i in range(1, 10)]
    for spec in apps:
        spec["version"] = "9.8.0.100"
        spec["api_key"] = f"secret-key-{spec['name']}-0123456789"
        if spec["name"] in {"eda07", "eta3"}:  # its first upload is cut: a retry is logged
            spec["faults"] = {"drop_upload_at": 0.5}
    return {
        "time_scale": 0.002,
        "target_version": "9.9.1.100",
        "image_size": 1024 * 1024,
        "available_versions": ["9.9.1.100"],
        "defaults": {
            "upload_throughput": 2000,
            "job_steps": 4,
            "job_duration": 600,
            "restart_downtime": 240,
        },
        "clusters": {"exa": {"ingest_enabled": True}, "exb": {"ingest_enabled": True}},
        "appliances": apps,
    }


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Sim]:
    """The 40-appliance fleet in its own process."""
    sim = Sim(tmp_path, big_fleet())
    yield sim
    sim.stop()


REDRAW = b"\r\x1b[2K"  # rich's live region starts every redraw by going back over itself


def screens(term: Terminal, columns: int, rows: int) -> Iterator[list[str]]:
    """The terminal's screen as each redraw of the live region is complete."""
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    pieces = b"".join(term.chunks).split(REDRAW)
    stream.feed(pieces[0])
    for piece in pieces[1:]:
        yield list(screen.display)  # the frame before this redraw, complete
        stream.feed(REDRAW + piece)
    yield list(screen.display)


@pytest.mark.parametrize(("columns", "rows"), [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_the_live_view_fits_the_terminal_and_never_tears(
    fleet: Sim, columns: int, rows: int
) -> None:
    """At every redraw of a 40-appliance run the footer is on screen, once and whole.

    A warning logged meanwhile stands on its own line above the live region.
    """
    env = {
        "ORCHESTRATOR_CONCURRENCY": "8",
        "ORCHESTRATOR_UPGRADE_DURATION": "1.2",
        "ORCHESTRATOR_REBOOT_DURATION": "0.5",
    }
    term = Terminal(
        "apply",
        str(fleet.inventory),
        "--yes",
        cwd=fleet.dir,
        columns=columns,
        rows=rows,
        env=env,
    )
    assert term.wait(timeout=240) == 0, term.text()[-3000:]
    drawn = [
        ([line for line in shown if FOOTER in line], shown)
        for shown in screens(term, columns, rows)
    ]
    with_footer = [index for index, (footers, _) in enumerate(drawn) if footers]
    assert len(with_footer) > 10, "the live view was hardly drawn"
    for footers, shown in drawn[with_footer[0] : with_footer[-1] + 1]:
        # From the first redraw to the last, the footer is always on screen, exactly once.
        assert len(footers) == 1, "\n".join(shown)
        assert re.search(r"/40 finished, running (nothing|[a-z-]+ \d)", footers[0]), footers[0]
        for line in shown:
            if "request.retried" in line:
                assert line.startswith("20"), line  # a whole log line, from its timestamp
    retries = [line for line in term.text().splitlines() if "request.retried" in line]
    assert retries, "no warning was logged during the run"
    assert "40 done — exit 0" in term.text()

"""How an error is shown: one line, or a heading and a line per problem; its text stays one line."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from orchestrator.cli.errortext import error_lines, say_error
from orchestrator.cli.grammar import UsageError
from orchestrator.cli.voice import Voice
from orchestrator.core.errors import (
    ConfigError,
    DriftError,
    InventoryError,
    OrchestratorError,
    PlanError,
)

DRIFTS = [
    "inventory fleet.yaml changed since the plan (sha256 3f2a… -> 9b1c…)",
    "eda1 now runs 9.8.1.0; the plan saw 9.8.0.100",
    "image images/eda.tar changed: sha256 abc… -> def…",
]


def test_each_drift_is_a_line_of_its_own() -> None:
    """A drift refusal is a heading, then one line per drift; str() is still one line."""
    error = DriftError(DRIFTS)
    assert error_lines(error) == [
        "error: the plan no longer matches:",
        *(f"  - {drift}" for drift in DRIFTS),
    ]
    assert str(error) == "the plan no longer matches: " + "; ".join(DRIFTS)


def test_a_plan_file_that_differs_lists_each_difference_then_the_fix() -> None:
    """An edited plan file: the heading, a line per difference, then what to do."""
    error = PlanError(
        "the plan file does not match the plan the inventory and the fleet give now "
        "(was it edited?)",
        items=["eda1: action skip in the file, upload now", "its waves are not the vendor's order"],
        fix="plan again and review the new plan",
    )
    lines = error_lines(error)
    assert lines[0].startswith("error: the plan file does not match")
    assert lines[0].endswith("(was it edited?):")
    assert lines[1:] == [
        "  - eda1: action skip in the file, upload now",
        "  - its waves are not the vendor's order",
        "plan again and review the new plan",
    ]
    assert "\n" not in str(error)
    assert str(error).endswith(
        "its waves are not the vendor's order; plan again and review the new plan"
    )


def test_every_inventory_error_is_an_error_line() -> None:
    """Several inventory errors print as one `error: file:row: message` line each."""
    also = [
        InventoryError(
            "unknown role 'x' for eda2; use one of …", file="f.yaml", row="appliances[2].role"
        )
    ]
    error = InventoryError("missing url", file="f.yaml", row="appliances[0].url", also=also)
    assert error_lines(error) == [
        "error: f.yaml:appliances[0].url: missing url",
        "error: f.yaml:appliances[2].role: unknown role 'x' for eda2; use one of …",
    ]
    assert str(error) == "f.yaml:appliances[0].url: missing url (and 1 more error)"


@pytest.mark.parametrize(
    ("error", "lines"),
    [
        pytest.param(
            ConfigError("--concurrency: too big"), ["error: --concurrency: too big"], id="one"
        ),
        pytest.param(
            PlanError("f.json: not a plan file\n(bad)"),
            ["error: f.json: not a plan file (bad)"],
            id="flat",
        ),
        pytest.param(
            UsageError("orchestrator plan: unrecognized arguments: -x", command="plan"),
            ["error: orchestrator plan: unrecognized arguments: -x (see `orchestrator help plan`)"],
            id="usage",
        ),
    ],
)
def test_other_errors_stay_one_line(error: OrchestratorError, lines: list[str]) -> None:
    """Any other error is one line (a usage error adds where its help is)."""
    assert error_lines(error) == lines


def test_on_a_terminal_each_line_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """For people, a drift refusal is its heading and a line per drift on standard error."""
    say_error(Voice("console"), DriftError(DRIFTS[:2]), event="error.drift_error")
    assert capsys.readouterr().err.splitlines() == [
        "error: the plan no longer matches:",
        f"  - {DRIFTS[0]}",
        f"  - {DRIFTS[1]}",
    ]


def test_in_json_an_error_is_one_event_listing_its_problems() -> None:
    """For machines, several problems are one error event: the one-line text, and the list."""
    also = [InventoryError("bad role", file="f.yaml", row="appliances[1].role")]
    error = InventoryError("missing url", file="f.yaml", row="appliances[0].url", also=also)
    with capture_logs() as logs:
        say_error(Voice("json"), error, event="error.inventory_error")
    assert logs == [
        {
            "event": "error.inventory_error",
            "log_level": "error",
            "message": "error: f.yaml:appliances[0].url: missing url (and 1 more error)",
            "problems": [
                "f.yaml:appliances[0].url: missing url",
                "f.yaml:appliances[1].role: bad role",
            ],
        }
    ]

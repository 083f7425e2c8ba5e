"""Rows laid out directly print exactly what rich's Table prints when nothing wraps."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from orchestrator.report.fixedrows import fixed_rows

COLUMNS = ("  Appliance", "Role", "Version", "Action")
ROWS = [
    (("+ eda1", "discover", "9.8.0.100 → 9.9.1.100", "upload eda.tar sha256 8ff5b5e8cc88"), ""),
    (("! exa1-m", "explore/manager", "9.8.0.100", "refused"), "red"),
    (("= eta10", "trace", "9.9.1.100", "already current"), ""),
]
WIDTHS = [11, 15, 21, 36]


def _printed(renderable: object, width: int) -> str:
    stream = io.StringIO()
    Console(file=stream, width=width, color_system=None).print(renderable)
    return stream.getvalue()


def _rich_table() -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column, width in zip(COLUMNS, WIDTHS, strict=True):
        table.add_column(column, overflow="fold", width=width)
    for cells, style in ROWS:
        table.add_row(*cells, style=style)
    return table


@pytest.mark.parametrize("width", [91, 120, 200])
def test_rows_that_fit_print_as_rich_prints_them(width: int) -> None:
    """Same characters, same padding, same trailing space as Table(box=None, padding=(0, 1))."""
    fixed = fixed_rows(COLUMNS, ROWS, WIDTHS, width)
    assert fixed is not None
    assert _printed(fixed, width) == _printed(_rich_table(), width)


def test_a_cell_wider_than_its_column_leaves_the_layout_to_rich() -> None:
    """Anything that would wrap (a long refusal, a narrow terminal) is not laid out here."""
    too_wide = [(("+ eda1", "discover", "9.8.0.100", "x" * 37), "")]
    assert fixed_rows(COLUMNS, too_wide, WIDTHS, 120) is None
    assert fixed_rows(COLUMNS, ROWS, WIDTHS, 90) is None  # the columns alone do not fit

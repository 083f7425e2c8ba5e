"""A table whose every cell fits its column, laid out directly instead of by rich's Table.

rich measures and wraps every cell (about a millisecond a row): for a plan of 10,000
appliances that was more CPU than upgrading them. When nothing needs wrapping the layout is
plain padding, and this renders exactly what `Table(box=None, padding=(0, 1),
show_edge=False)` would: each cell padded to its column, one space either side, the header
in the table header's style. Otherwise `fixed_rows` returns None and the caller keeps rich.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from rich.console import Console, ConsoleOptions

__all__ = ["FixedRows", "fixed_rows"]


@dataclass(frozen=True)
class FixedRows:
    """Pre-laid-out lines: the header (in the table header's style), then the rows."""

    header: str
    rows: tuple[tuple[str, str], ...]  # (line, style)

    def __rich_console__(self, console: Console, _options: ConsoleOptions) -> Iterator[Segment]:
        """Each line as one segment: nothing left to measure or wrap."""
        yield Segment(self.header, console.get_style("table.header"))
        yield Segment.line()
        for line, style in self.rows:
            yield Segment(line, console.get_style(style) if style else None)
            yield Segment.line()


def fixed_rows(
    columns: Sequence[str],
    rows: Sequence[tuple[Sequence[str], str]],
    widths: Sequence[int],
    width: int,
) -> FixedRows | None:
    """`rows` ((cells, style) each) under `columns` at `widths`; None if any would wrap."""
    if sum(widths) + 2 * len(widths) > width:
        return None
    lines = []
    for cells, style in ((columns, ""), *rows):
        line = _line(cells, widths)
        if line is None:
            return None
        lines.append((line, style))
    return FixedRows(header=lines[0][0], rows=tuple(lines[1:]))


def _line(cells: Sequence[str], widths: Sequence[int]) -> str | None:
    """` cell1  cell2 ... cellN `, each padded to its width; None if a cell is too wide."""
    padded = []
    for cell, column in zip(cells, widths, strict=True):
        room = column - cell_len(cell)
        if room < 0 or "\n" in cell:
            return None
        padded.append(cell + " " * room)
    return " " + "  ".join(padded) + " "

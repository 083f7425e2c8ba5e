"""The errors one pass over an inventory finds: every one, up to a cap, as one InventoryError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from orchestrator.core.errors import InventoryError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MOST_LISTED", "Problems"]

MOST_LISTED = 20  # errors listed at once; past it an inventory needs fixing, not more reading

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Problems:
    """Collects InventoryErrors, each once (an error in `defaults` is met by every appliance)."""

    found: list[InventoryError] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add(self, error: InventoryError) -> None:
        """Record `error`, unless the same one was already recorded."""
        if error.line() not in self._seen:
            self._seen.add(error.line())
            self.found.append(error)

    def attempt(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """`check(...)`, or None with its InventoryError recorded."""
        try:
            return check(*args, **kwargs)
        except InventoryError as error:
            self.add(error)
            return None

    def combined(self) -> InventoryError | None:
        """One InventoryError listing what was found (at most MOST_LISTED), or None."""
        if not self.found:
            return None
        first, *rest = self.found
        listed = rest[: MOST_LISTED - 1]
        return InventoryError(
            first.message,
            file=first.file,
            row=first.row,
            also=listed,
            unlisted=len(rest) - len(listed),
        )

"""How long a run's appliances take against their estimates: the median of the ratios so far."""

from __future__ import annotations

import bisect

__all__ = ["Pace"]


class Pace:
    """The median, over the appliances that ended, of the time each took over its estimate.

    1 until one has ended. Kept sorted as they come: a run adds one per appliance.
    """

    def __init__(self) -> None:
        self._ratios: list[float] = []
        self.factor = 1.0

    def ended(self, took: float, estimate: float) -> None:
        """One more appliance took `took` seconds for an estimate of `estimate` (> 0)."""
        bisect.insort(self._ratios, took / estimate)
        middle = len(self._ratios) // 2
        if len(self._ratios) % 2:
            self.factor = self._ratios[middle]
        else:
            self.factor = (self._ratios[middle - 1] + self._ratios[middle]) / 2

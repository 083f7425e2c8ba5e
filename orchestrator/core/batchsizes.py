"""Batch sizes as `--batches 1,5,25%` gives them, and how they split a stage (pure)."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BatchSizes"]

_SIZE = re.compile(r"^\s*(\d+)\s*(%?)\s*$")
_WHOLE = 100


class BatchSizes(BaseModel):
    """Sizes of the batches within each stage; the last size repeats.

    Each size is a count of appliances, or a share (`25%`) of the stage's appliances to
    upgrade, rounded down and at least one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sizes: tuple[str, ...] = Field(min_length=1)  # each "N" or "P%", as written

    @classmethod
    def parse(cls, text: str) -> BatchSizes:
        """Parse `1,5,25%`; ValueError saying what to write instead."""
        parts = [part.strip() for part in text.split(",")]
        sizes = []
        for part in parts:
            match = _SIZE.match(part)
            if not match:
                what = f"{part!r} is not" if part else "an empty size is not"
                raise ValueError(f"{what} a count or a percentage; write sizes such as 1,5,25%")
            number, percent = int(match.group(1)), match.group(2)
            if number < 1 or (percent and number > _WHOLE):
                raise ValueError(f"{part!r}: a batch holds 1 or more appliances, at most 100%")
            sizes.append(f"{number}{percent}")
        return cls(sizes=tuple(sizes))

    def split(self, count: int) -> list[int]:
        """The sizes of the batches `count` appliances fall into, in order."""
        batches: list[int] = []
        left = count
        while left > 0:
            size = self._size(len(batches), count)
            batches.append(min(size, left))
            left -= batches[-1]
        return batches

    def _size(self, index: int, count: int) -> int:
        text = self.sizes[min(index, len(self.sizes) - 1)]
        if text.endswith("%"):
            return max(1, math.floor(count * int(text[:-1]) / _WHOLE))
        return int(text)

    def __str__(self) -> str:
        return ",".join(self.sizes)

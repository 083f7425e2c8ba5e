"""Gates (`--pause-after stage|batch`): where the run stops starting work and waits for a person.

A gate stands before each stage (or each batch) but the first with work; it opens only when
what came before ended without failure, and only if what follows has work left. Its answer
comes through the run's `GatePort` (the state database, a prompt, a test): `continue` goes
on, `stop` cancels the rest (`resume` waits at the same gate again), `window` (the window
closed while waiting) lets the window rule defer the rest.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import FINAL_OUTCOMES, GateRecord, Outcome
from orchestrator.engine.ports import GateAnswered, GateOpened, GateRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orchestrator.engine.context import RunContext
    from orchestrator.engine.runstate import Track
    from orchestrator.plan import Wave, WaveKind

__all__ = ["Gates", "gate_name"]


def gate_name(wave: Wave, index: int, pause_after: str | None) -> str:
    """What waits behind a gate: a stage (`discover`), or a batch (`discover batch 2`)."""
    if index == 0 and (pause_after == "stage" or len(wave.batch_names()) == 1):
        return str(wave.kind)
    return f"{wave.kind} batch {index + 1}"


class Gates:
    """The run's gates: which stand where, waiting at them, and what each answer was."""

    def __init__(self, context: RunContext) -> None:
        plan = context.plan
        self.context = context
        self.pause_after = plan.pause_after
        if self.pause_after is not None and context.gate is None:
            raise ConfigError("this plan pauses at gates, but nothing can release them")
        # Every batch with work, in the order the run takes them: a gate stands before each.
        self.order = [
            (wave, index, names)
            for wave in plan.waves
            for index, names in enumerate(wave.batch_names())
        ]
        self.records: list[GateRecord] = []

    async def before(
        self, wave: Wave, index: int, tracks: Mapping[str, Track]
    ) -> tuple[Outcome, str] | None:
        """Wait at the gate before batch `index` of `wave`, if one stands there.

        None: go on (released, the window closed, or no gate); else why the rest is cancelled.
        """
        position = self._position(wave.kind, index)
        if position is None or not self._stands(position, tracks):
            return None
        request = GateRequest(
            run_id=self.context.run_id,
            gate=gate_name(wave, index, self.pause_after),
            finished=tuple((name, tracks[name].outcome) for name in self._before(position)),
        )
        self.context.observer.notify(GateOpened(request))
        record = await self._wait(request)
        if record is None:  # Ctrl-C while waiting: the gate stays open for `resume`
            return Outcome.CANCELLED, f"run interrupted at the gate before {request.gate}"
        self.records.append(record)
        self.context.observer.notify(GateAnswered(record))
        if record.answer == "stop":
            self.context.stop.set()
            who = f" by {record.by}" if record.by else ""
            return Outcome.CANCELLED, f"stopped at the gate before {record.gate}{who}"
        return None

    async def _wait(self, request: GateRequest) -> GateRecord | None:
        """The gate's answer; None if the run is stopped (Ctrl-C) while it waits."""
        port = self.context.gate
        assert port is not None
        answer = asyncio.ensure_future(
            port.wait(request, deadline=self.context.settings.window_end)
        )
        stopped = asyncio.ensure_future(self.context.stop.wait())
        try:
            await asyncio.wait({answer, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (answer, stopped):
                task.cancel()
            await asyncio.gather(answer, stopped, return_exceptions=True)
        if answer.cancelled():  # the stop came first
            return None
        return answer.result()

    def _before(self, position: int) -> list[str]:
        """What just finished: the batch before, or the whole stage before a stage's gate."""
        last, _, names = self.order[position - 1]
        if self.pause_after != "stage":
            return list(names)
        return [name for wave, _, batch in self.order[:position] if wave is last for name in batch]

    def _position(self, kind: WaveKind, index: int) -> int | None:
        for position, (wave, at, _) in enumerate(self.order):
            if wave.kind is kind and at == index:
                return position
        return None

    def _stands(self, position: int, tracks: Mapping[str, Track]) -> bool:
        """A gate here, work left behind it, and the run not already stopping."""
        _, index, names = self.order[position]
        if position == 0 or self.context.stop.is_set():
            return False
        if self.pause_after == "stage" and index > 0:
            return False
        return self.pause_after is not None and any(
            tracks[name].outcome not in FINAL_OUTCOMES for name in names
        )

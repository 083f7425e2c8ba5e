"""The per-appliance procedure is one table, and everything derived from it agrees with it."""

from __future__ import annotations

import pytest

from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.core.procedure import ANNOUNCING, KEPT_ON_RESUME, PHASE_OF, PROCEDURE, Phase


@pytest.mark.parametrize("state", sorted(set(Outcome) - FINAL_OUTCOMES), ids=str)
def test_every_state_that_is_not_final_maps_to_exactly_one_phase(state: Outcome) -> None:
    """A resumed appliance always has a phase to pick up at: no state is forgotten."""
    rows = [spec for spec in PROCEDURE if spec.state is state]
    assert len(rows) == 1
    assert PHASE_OF[state] is rows[0].resume_at
    assert isinstance(PHASE_OF[state], Phase)


def test_final_outcomes_have_no_phase_and_only_done_skipped_failed_are_kept() -> None:
    """Final outcomes end the procedure; blocked, deferred and cancelled are tried again."""
    assert not FINAL_OUTCOMES & PHASE_OF.keys()
    assert {Outcome.DONE, Outcome.SKIPPED, Outcome.FAILED} == KEPT_ON_RESUME


def test_only_the_states_before_a_change_are_announced() -> None:
    """Uploading and upgrading are journalled (synced) before the request that changes it."""
    assert {Outcome.UPLOADING, Outcome.UPGRADING} == ANNOUNCING


def test_phases_follow_the_order_of_the_work() -> None:
    """The table's phases never go back: a later state never resumes earlier."""
    phases = [spec.resume_at for spec in PROCEDURE if spec.resume_at is not None]
    assert phases == sorted(phases)

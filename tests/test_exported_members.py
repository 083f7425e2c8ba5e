"""The package's public API is small, explicit and importable from the top."""

import orchestrator


def test_public_api_is_exactly_the_documented_names() -> None:
    """`orchestrator.__all__` lists the public entry points, sorted, and each exists."""
    assert orchestrator.__all__ == sorted(orchestrator.__all__)
    assert set(orchestrator.__all__) == {
        "ApplianceClient",
        "OrchestratorError",
        "Settings",
        "build_plan",
        "load_inventory",
        "run_plan",
    }
    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None

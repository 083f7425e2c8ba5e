"""The exception tree, its drawing and docs/errors.md stay in step."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from orchestrator.core import errors

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
CLASSES = sorted(
    (obj for obj in vars(errors).values() if inspect.isclass(obj) and issubclass(obj, Exception)),
    key=lambda cls: cls.__name__,
)


def _drawing(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "OrchestratorError")
    end = next(i for i in range(start, len(lines)) if lines[i].strip() in {"", "```"})
    return [line.strip() for line in lines[start:end]]


def _drawn_names(text: str) -> set[str]:
    return {word for line in _drawing(text) for word in line.split() if word.isidentifier()}


def test_every_error_is_exported_and_rooted() -> None:
    """Every exception class in errors.py is exported and derives from OrchestratorError."""
    assert sorted(errors.__all__) == errors.__all__
    for cls in CLASSES:
        assert cls.__name__ in errors.__all__
        assert issubclass(cls, errors.OrchestratorError)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_documented(cls: type[Exception]) -> None:
    """Each error is drawn in errors.py's tree and explained to operators in docs/errors.md."""
    assert cls.__name__ in _drawn_names(errors.__doc__ or "")
    table = DOCS.read_text(encoding="utf-8").split("## What each one means")[1]
    assert f"`{cls.__name__}`" in table


def test_docs_drawing_is_the_docstring_drawing() -> None:
    """docs/errors.md shows exactly the tree drawn in errors.py."""
    docs = DOCS.read_text(encoding="utf-8")
    assert _drawing(docs) == _drawing(errors.__doc__ or "")

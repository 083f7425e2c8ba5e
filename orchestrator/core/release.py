"""The release of this tool: the one place it is written (pyproject.toml reads it from here)."""

RELEASE = "0.1.0"

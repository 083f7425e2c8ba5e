"""`python -m orchestrator` runs the command line."""

from orchestrator.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())

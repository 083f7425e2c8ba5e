"""The command line: arguments, the terminal, prompts, the live view, exit codes."""

"""The command line's exit codes, in a module of their own so light commands import nothing else.

0 everything upgraded or already current; 1 an appliance failed or was blocked; 2 bad input or
configuration (nothing changed); 3 incomplete (`resume` continues); 4 declined at a prompt.
"""

__all__ = ["EXIT_BAD_INPUT", "EXIT_DECLINED", "EXIT_FAILED", "EXIT_INCOMPLETE", "EXIT_OK"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_DECLINED = 4  # the operator said no at a prompt: nothing was changed

"""A Ctrl-C that lands where Python would print and drop it still stops the command."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

# The program a child runs: the import system's module-lock callback stands for any place whose
# exceptions Python drops (a weak reference's callback); the interrupt lands there, as a Ctrl-C
# does now and then while the command line loads its libraries.
LANDS_IN_A_CALLBACK = textwrap.dedent(
    """
    import sys, time, weakref
    if sys.argv[1] == "installed":
        from orchestrator.cli import interrupts
        interrupts.install()

    class Lock: pass

    def callback(_ref):
        raise KeyboardInterrupt

    lock = Lock()
    ref = weakref.ref(lock, callback)
    del lock
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        time.sleep(0.01)
    print("carried on")
    """
)


def run_child(mode: str) -> subprocess.CompletedProcess[str]:
    """Run the program above in a fresh interpreter, with or without the interrupt handling."""
    return subprocess.run(
        [sys.executable, "-c", LANDS_IN_A_CALLBACK, mode],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_an_interrupt_dropped_in_a_callback_is_delivered_again() -> None:
    """The command stops as for any Ctrl-C, with no "Exception ignored" traceback."""
    done = run_child("installed")
    assert "carried on" not in done.stdout
    assert done.returncode == -signal.SIGINT, done.stderr
    assert "Exception ignored" not in done.stderr


def test_without_it_python_prints_the_interrupt_and_carries_on() -> None:
    """What the handling is for: plain Python shows a traceback and ignores the Ctrl-C."""
    done = run_child("plain")
    assert "carried on" in done.stdout
    assert "Exception ignored" in done.stderr

"""Test helper: `python -m orchestrator ARGS` as a real process forked from the warm test worker.

A test worker has already imported the whole program; a fresh interpreter would import it again
(about 0.6 s of CPU each time, several hundred times a suite). So a command runs in a child
*forked* from the worker: a real process with its own pid, file descriptors, working directory,
environment and signals, that SIGKILL, SIGHUP, a pseudo-terminal and exit codes treat exactly as
an exec'd one. The child first puts back what a fresh interpreter would have (default signal
handlers, no inherited descriptors, no exit hooks or log handlers of the worker, Python's own
warning filters, no running event loop), then runs `orchestrator.cli.entry.main`.

What only a fresh interpreter can show (what a command imports, how long it takes to start)
is tested with `sys.executable` directly (tests/cli/test_startup.py). Setting
`ORCHESTRATOR_TEST_EXEC=1` runs every command through a fresh interpreter instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import faulthandler
import gc
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orchestrator

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

EXEC = os.environ.get("ORCHESTRATOR_TEST_EXEC") == "1"
_MAIN = str(Path(orchestrator.__file__).with_name("__main__.py"))  # sys.argv[0] under `-m`

# The handlers a fresh interpreter starts with (SIGPIPE ignored, as CPython does at start-up).
_DEFAULT_HANDLERS: dict[signal.Signals, Any] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
    signal.SIGHUP: signal.SIG_DFL,
    signal.SIGQUIT: signal.SIG_DFL,
    signal.SIGCHLD: signal.SIG_DFL,
    signal.SIGALRM: signal.SIG_DFL,
    signal.SIGUSR1: signal.SIG_DFL,
    signal.SIGUSR2: signal.SIG_DFL,
    signal.SIGPIPE: signal.SIG_IGN,
}


def argv(args: Sequence[str]) -> list[str]:
    """The command line that runs `orchestrator ARGS` in a fresh interpreter."""
    return [sys.executable, "-m", "orchestrator", *args]


def _close_inherited() -> None:
    """Close every descriptor but 0, 1 and 2, as exec with close_fds would."""
    for entry in Path("/proc/self/fd").iterdir():
        fd = int(entry.name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, closed already
                os.close(fd)


def _fresh_interpreter(args: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
    """Undo what the test worker set up that a fresh `python -m orchestrator` would not have."""
    gc.freeze()  # the worker's objects are never collected here (they may own reused fds)
    faulthandler.disable()
    atexit._clear()
    signal.set_wakeup_fd(-1)
    for signum, handler in _DEFAULT_HANDLERS.items():
        signal.signal(signum, handler)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop_policy(None)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    _forget_configuration()
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    _close_inherited()
    if cwd is not None:
        os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    interactive = os.isatty(1)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), line_buffering=interactive
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.argv = [_MAIN, *args]


def _forget_configuration() -> None:
    """Forget what earlier tests configured in the worker: structlog, cached lookups."""
    if "structlog" in sys.modules:
        import structlog  # noqa: PLC0415 - only when the worker loaded it

        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    for name, module in list(sys.modules.items()):
        if name.startswith("orchestrator.") and module is not None:
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def _exit_code(code: object) -> int:
    """What a fresh interpreter exits with for `raise SystemExit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def become(args: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> None:
    """In a freshly forked child: run `orchestrator ARGS` and exit as that process would."""
    code = 1
    interrupted = False
    try:
        _fresh_interpreter(args, cwd, env)
        from orchestrator.cli.entry import main  # noqa: PLC0415 - the worker has it loaded

        code = _exit_code(main())
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:  # noqa: BLE001 - an uncaught error ends the process, as Python does
        traceback.print_exc()
        code = 1
    finally:
        try:
            threading._shutdown()  # type: ignore[attr-defined]
            atexit._run_exitfuncs()
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001, S110 - a broken pipe at exit ends it all the same
            pass
        if interrupted:  # as CPython: an uncaught Ctrl-C ends the process by SIGINT
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(code)


# Where Popen passes each of `_execute_child`'s positional arguments (CPython 3.11 to 3.13).
_CWD, _ENV, _NEW_SESSION = 5, 6, 21
_P2CREAD, _C2PWRITE, _ERRWRITE = 10, 13, 15  # the child's ends of stdin, stdout, stderr
_PIPES = slice(10, 16)  # p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite
_File = int | IO[str] | None


class Orchestrator(subprocess.Popen[str]):
    """`subprocess.Popen` of `orchestrator ARGS` whose child is forked, not exec'd."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None,
        stdin: _File,
        stdout: _File,
        stderr: _File,
    ) -> None:
        self._orchestrator_args = list(args)
        super().__init__(
            argv(args), cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, text=True
        )

    def _execute_child(self, *popen: Any) -> None:  # noqa: ANN401 - Popen passes 23 positionally
        """Fork a child that becomes `orchestrator ARGS`, wired as Popen wired the pipes."""
        cwd, env = popen[_CWD], popen[_ENV]
        pipes = popen[_PIPES]
        ends = ((0, popen[_P2CREAD]), (1, popen[_C2PWRITE]), (2, popen[_ERRWRITE]))
        full_env = dict(os.environ if env is None else env)
        directory = None if cwd is None else os.fspath(cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                if popen[_NEW_SESSION]:
                    os.setsid()
                for target, fd in ends:
                    if fd not in (-1, target):
                        os.dup2(fd, target)
            except BaseException:  # noqa: BLE001 - nothing must return into the worker's code
                os._exit(127)
            become(self._orchestrator_args, directory, full_env)
        self.pid = pid
        self._child_created = True
        self._close_pipe_fds(*pipes)  # type: ignore[attr-defined]


def popen(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: _File = None,
    stdout: _File = None,
    stderr: _File = None,
    fresh: bool = False,
) -> subprocess.Popen[str]:
    """Start `orchestrator ARGS`: forked from this worker, or exec'd in a fresh interpreter.

    `fresh`: always exec'd (for what only start-up shows: what loads, and when), as every
    command is with ORCHESTRATOR_TEST_EXEC=1.
    """
    if EXEC or fresh:
        return subprocess.Popen(
            argv(args), cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr, text=True
        )
    return Orchestrator(args, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr)


def run(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run` of `orchestrator ARGS` without a terminal, capturing what it prints."""
    pipe = subprocess.PIPE
    with popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def fork_pty_child(args: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
    """In the child of `os.forkpty`: run `orchestrator ARGS` on the terminal (never returns)."""
    if EXEC:
        try:
            os.chdir(cwd)
            os.execve(sys.executable, argv(args), dict(env))  # noqa: S606 - our own CLI
        finally:
            os._exit(127)
    become(args, cwd, env)

"""Test helpers: the CLI and `orchestrator simulate` run as real subprocesses."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from typing import TYPE_CHECKING, Any

import warmfork
import yaml

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FAST = {
    "ORCHESTRATOR_POLL_INTERVAL": "0.03",
    "ORCHESTRATOR_POLL_INTERVAL_MAX": "0.1",
    "ORCHESTRATOR_REQUESTS_PER_SECOND": "100",
    "ORCHESTRATOR_JOB_DEADLINE": "20",
    "ORCHESTRATOR_REBOOT_DEADLINE": "20",
    "ORCHESTRATOR_RETRY_TIMEOUT": "10",
    "ORCHESTRATOR_UPGRADE_DURATION": "0.6",
    "ORCHESTRATOR_REBOOT_DURATION": "0.3",
}


# Ports for simulated appliances: below the kernel's range for ports it picks itself (for a
# listener asking for any port, or a connection's own end), so that while an appliance restarts
# (its port closed for a moment) no other test's fleet or connection can take its port and
# answer in its place (a 401 from another fleet's key). Each test worker starts at its own
# place (from its process id) and counts up; a port found in use is skipped.
_PORTS = range(10_000, 32_000)
_start = _PORTS.start + os.getpid() * 211 % len(_PORTS)
_next_port: Iterator[int] = itertools.cycle(
    [*range(_start, _PORTS.stop), *range(_PORTS.start, _start)]
)


def _free_port() -> int:
    """The next port of this worker's sequence that nothing is bound to."""
    for port in _next_port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable: the sequence is endless")


def own_ports(scenario: dict[str, Any]) -> dict[str, Any]:
    """The scenario with a port (see `_PORTS`) for every appliance that names none."""
    appliances = [
        spec if spec.get("port") else {**spec, "port": _free_port()}
        for spec in scenario["appliances"]
    ]
    return {**scenario, "appliances": appliances}


def orchestrator(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m orchestrator ARGS` without a terminal and capture what it prints."""
    return warmfork.run(
        args,
        cwd=cwd,
        env={**os.environ, **FAST, **(env or {})},
        timeout=timeout,
    )


class Sim:
    """`orchestrator simulate` running in its own process, with its inventory and event log."""

    def __init__(self, tmp_path: Path, scenario: dict[str, Any], *, tls: bool = False) -> None:
        self.dir = tmp_path
        self.scenario = tmp_path / "scenario.yaml"
        self.scenario.write_text(yaml.safe_dump(own_ports(scenario)))
        self.inventory = tmp_path / "fleet.yaml"
        self.event_log = tmp_path / "events.jsonl"
        self.keys = [a["api_key"] for a in scenario["appliances"]]
        self.proc = warmfork.popen(
            [
                "simulate",
                str(self.scenario),
                "--write-inventory",
                str(self.inventory),
                "--event-log",
                str(self.event_log),
                *(["--tls"] if tls else []),
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not self.inventory.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not start: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.05)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The simulator's events so far, optionally of one kind."""
        lines = self.event_log.read_text().splitlines() if self.event_log.exists() else []
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if kind is None or e["kind"] == kind]

    def stop(self) -> None:
        """Stop the simulator as Ctrl-C would."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def start_orchestrator(
    *args: str, cwd: Path, env: dict[str, str] | None = None, fresh: bool = False
) -> subprocess.Popen[str]:
    """Start `python -m orchestrator ARGS` in the background, without a terminal.

    `fresh`: in a new interpreter, not forked from this warm one (see tests/warmfork.py).
    """
    return warmfork.popen(
        args,
        fresh=fresh,
        cwd=cwd,
        env={**os.environ, **FAST, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def in_terminal(
    *args: str,
    answer: str,
    cwd: Path,
    columns: int = 80,
    timeout: float = 60,
    prompt: str = "[y/N]",
) -> tuple[int, str]:
    """Run `python -m orchestrator ARGS` on a pseudo-terminal and answer its prompt.

    Returns the exit code and everything it showed (stdout and stderr together).
    """
    main, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = warmfork.popen(
        args,
        cwd=cwd,
        env={**os.environ, **FAST, "TERM": "xterm-256color"},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        answered = False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and prompt.encode() in shown:
                os.write(main, answer.encode() + b"\n")
                answered = True
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, shown.decode(errors="replace").replace("\r\n", "\n")


class Terminal:
    """`python -m orchestrator ARGS` on a pseudo-terminal of its own, as in a terminal window.

    The child is a session leader whose controlling terminal is the pty: closing the window
    (`hang_up`) makes the kernel send it SIGHUP, as when a laptop's SSH session drops. What it
    shows is read continuously (a full pty would block it) into `shown`.
    """

    def __init__(
        self,
        *args: str,
        cwd: Path,
        columns: int = 80,
        rows: int = 24,
        env: dict[str, str] | None = None,
    ) -> None:
        pid, fd = os.forkpty()
        if pid == 0:  # the child: becomes the command at once
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            except BaseException:  # noqa: BLE001 - nothing must return into the worker's code
                os._exit(127)
            full_env = {**os.environ, **FAST, "TERM": "xterm-256color", **(env or {})}
            warmfork.fork_pty_child(args, str(cwd), full_env)
        self.pid, self.fd = pid, fd
        self.shown = b""
        self.chunks: list[bytes] = []  # as the terminal received them, redraw by redraw
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.code: int | None = None

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            self.chunks.append(chunk)
            self.shown += chunk

    def text(self) -> str:
        """Everything shown so far."""
        return self.shown.decode(errors="replace").replace("\r\n", "\n")

    def type(self, keys: str) -> None:
        """Type `keys` at the terminal."""
        os.write(self.fd, keys.encode())

    def wait_for_text(self, needle: str, timeout: float = 60) -> None:
        """Block until `needle` has been shown."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"never shown: {needle!r}\n{self.text()[-2000:]}"
            time.sleep(0.02)

    def hang_up(self) -> None:
        """Close the terminal window: the child gets SIGHUP and its writes fail."""
        self._stop.set()
        self._reader.join()
        os.close(self.fd)

    def wait(self, timeout: float = 120) -> int:
        """The child's exit code (128 + N if killed by signal N)."""
        deadline = time.monotonic() + timeout
        while self.code is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.code = os.waitstatus_to_exitcode(status)
                if self.code < 0:
                    self.code = 128 - self.code
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"still running after {timeout}s")
            time.sleep(0.05)
        if not self._stop.is_set():
            self._stop.set()
            self._reader.join()
            os.close(self.fd)
        return self.code


def error_message(result: subprocess.CompletedProcess[str]) -> str:
    """The one error a command reported on stderr: its JSON event's message, or its line."""
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("level") == "error":
                return str(event["message"])
        elif line.startswith("error:"):
            return line
    raise AssertionError(f"no error reported: {result.stderr!r}")

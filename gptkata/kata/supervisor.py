"""The supervision of one test child: its record pipe, its processor time, its limits,
and the end of its whole process group (used by gptkata.kata.runner, which judges
what the record says).

Limits are processor time of the child and everything it started, measured from
/proc, so a busy machine never changes a verdict: a test may use its own limit plus
`CPU_GRACE` (the child's own timer stops it at its limit: gptkata.kata.limits), the
time outside tests `QUIET_CPU`, and, when the caller sets `kata_cpu`, a kata's tests
together that many seconds. Wall-clock limits, `WALL_FACTOR` times longer, only catch
a child that waits forever.
"""

from __future__ import annotations

import json
import os
import resource
import select as selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from gptkata.kata import isolation, recorder
from gptkata.kata.results import kata_of

CPU_GRACE = 10.0  # processor seconds past a test's own limit before the child is killed
QUIET_CPU = 60.0  # processor seconds outside a test (start-up, collection, the summary)
WALL_FACTOR = 10  # a wall-clock backstop: this many times each processor-time limit
FINISH_LIMIT = 15.0  # seconds from the completion record to the child's exit
POLL = 0.1  # seconds between looks at the child (its record wakes the supervisor at once)
LONGEST_RECORD = 1 << 20  # bytes: a longer line is not the recorder's
CPU_EVERY = 1.0  # seconds between measurements of the child's processor time


class Records:
    """The parent's end of the record pipe: complete lines, each checked against the
    key and the sequence; `forged` says what was wrong with the first bad one."""

    def __init__(self, fd: int, key: bytes):
        self.fd, self.key, self.buffer = fd, key, bytearray()
        self.records: list[dict] = []
        self.forged: str | None = None
        self.closed = False

    def read(self, timeout: float) -> list[dict]:
        """The records that arrived within `timeout` seconds."""
        if self.closed or not selectors.select([self.fd], [], [], timeout)[0]:
            return []
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
        self.buffer += chunk
        if b"\n" not in chunk:
            if len(self.buffer) > LONGEST_RECORD:
                self.forged = "a record longer than any the test recorder writes reached the runner"
            return []
        *lines, rest = self.buffer.split(b"\n")
        self.buffer = bytearray(rest)
        new = []
        for line in lines:
            record = self._checked(line)
            if record is None:
                break
            self.records.append(record)
            new.append(record)
        return new

    def _checked(self, line: bytes) -> dict | None:
        if self.forged:
            return None
        try:
            signed = json.loads(line)
            body = signed["body"]
            genuine = recorder.sign(self.key, body) == signed["mac"]
            record = json.loads(body)
        except (ValueError, TypeError, KeyError):
            genuine, record = False, {}
        if not genuine or record.pop("seq", None) != len(self.records) + 1:
            self.forged = "a record that the test recorder did not write reached the runner"
            return None
        return record


MORE_PROCESSES = 512  # processes (threads count too) a test child may add to its user's


def limit_processes(more: int = MORE_PROCESSES) -> None:
    """In a child about to run kata code: let its user have at most `more` processes
    beyond those it has now (RLIMIT_NPROC counts the user's, threads included), so a
    fork runaway stops there. The kernel does not apply the limit to root: a root
    user's runaway is stopped by the process group's end (and, in grading, by the
    sandbox's own limit)."""
    uid = os.geteuid()
    if uid == 0:
        return
    mine = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                mine += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    wanted = mine + more
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (wanted, hard))


def kill(child: subprocess.Popen) -> None:
    """End the child and everything in its process group."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()


def interrupt(child: subprocess.Popen, patience: float = 5.0) -> None:
    """The parent is stopped (Ctrl-C or a SIGTERM): pass it on to the child's group,
    give it a moment to print what it has, then kill the group."""
    try:
        os.killpg(child.pid, signal.SIGINT)
        child.wait(timeout=patience)
    except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
        pass
    kill(child)


class _Terminated(KeyboardInterrupt):
    """The parent got SIGTERM (or SIGHUP): stop as after a Ctrl-C."""


def pass_on_termination(child: subprocess.Popen) -> dict:
    """Make SIGTERM and SIGHUP stop the child first, then the parent; returns the
    handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum, frame):
        raise _Terminated()

    return {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}


@dataclass
class _Clock:
    """The limits of what the child is doing now, in processor and wall seconds."""

    cpu: float
    wall: float
    cpu_since: float = 0.0
    wall_since: float = field(default_factory=time.monotonic)

    def restart(self, cpu: float, wall: float, used: float) -> None:
        self.cpu, self.wall, self.cpu_since, self.wall_since = cpu, wall, used, time.monotonic()

    def over(self, used: float) -> bool:
        return used - self.cpu_since > self.cpu or time.monotonic() - self.wall_since > self.wall


class Watch:
    """The supervision of one child: its records, its processor time, its limits."""

    def __init__(self, child: subprocess.Popen, records: Records, kata_cpu: float | None):
        self.child, self.records, self.kata_cpu = child, records, kata_cpu
        self.used, self.measured = 0.0, 0.0
        self.step = _Clock(QUIET_CPU, QUIET_CPU * WALL_FACTOR)
        self.kata: tuple[str | None, _Clock | None] = (None, None)
        self.timed_out, self.in_test = False, False
        self.started = time.monotonic()

    def wall(self) -> float:
        return time.monotonic() - self.started

    def measure(self) -> float:
        if time.monotonic() - self.measured >= CPU_EVERY:
            self.used = isolation.tree_cpu_seconds(self.child.pid)
            self.measured = time.monotonic()
        return self.used

    def take(self, record: dict) -> None:
        """Move the limits along with what the child reports."""
        used = self.measure()
        self.in_test = "running" in record
        if "running" in record:
            cpu = (record.get("cpu") or QUIET_CPU) + CPU_GRACE
            self.step.restart(cpu, (record.get("wall") or cpu) * WALL_FACTOR, used)
            kata = kata_of(record["running"])
            if self.kata_cpu and kata != self.kata[0]:
                wall = self.kata_cpu * WALL_FACTOR
                self.kata = (kata, _Clock(self.kata_cpu, wall, used, time.monotonic()))
        elif "complete" in record:
            self.step.restart(QUIET_CPU, FINISH_LIMIT, used)
        else:
            self.step.restart(QUIET_CPU, QUIET_CPU * WALL_FACTOR, used)

    def why_killed(self) -> str | None:
        """Why the child must be stopped now, or None."""
        if self.records.forged:
            return self.records.forged
        used = self.measure()
        kata, clock = self.kata
        if clock is not None and clock.over(used):
            self.timed_out = True
            return (
                f"the tests of {kata} used more than {self.kata_cpu:g} s of processor time"
                " together (the kata's limit)"
            )
        if self.step.over(used):
            if self.in_test:
                return (
                    f"was still running after {self.step.cpu:g} s of processor time or"
                    f" {self.step.wall:g} s in all (it did not stop at its time limit)"
                )
            return "did not end (or made no progress) in time"
        return None

    def follow(self) -> str | None:
        """Wait for the child, killing it when it must stop; returns why it was killed,
        or None when it ended by itself."""
        while True:
            if self.records.closed:  # nothing more to read: wait on the child itself
                try:
                    self.child.wait(timeout=POLL)
                except subprocess.TimeoutExpired:
                    pass
            for record in self.records.read(POLL):
                self.take(record)
            why = self.why_killed()
            if why:
                kill(self.child)
                return why
            if self.child.poll() is not None:
                while not self.records.closed and self.records.read(0.5):
                    pass  # what is left in the pipe
                return self.records.forged


def start(command, env, key, sink, sandbox, root) -> tuple[subprocess.Popen, Records]:
    """Start the child in a process group of its own, with the record pipe and the key."""
    read_end, write_end = os.pipe()
    key_read, key_write = os.pipe()
    os.write(key_write, key)
    os.close(key_write)
    if hasattr(sandbox, "start"):  # a warm sandbox (gptkata.kata.slot) starts its own child
        try:
            return sandbox.start(command, env, (write_end, key_read), sink), Records(read_end, key)
        finally:
            os.close(write_end)
            os.close(key_read)
    env = dict(env, **{recorder.RECORD_FD: str(write_end), recorder.KEY_FD: str(key_read)})
    streams = dict(stdout=sink, stderr=subprocess.STDOUT) if sink else {}
    if sandbox is not None:
        command, env = sandbox.command(command, env), None
    try:
        child = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            pass_fds=(write_end, key_read),
            stdin=subprocess.DEVNULL if sandbox else None,
            process_group=0,
            preexec_fn=None if sandbox else limit_processes,
            **streams,
        )
    finally:
        os.close(write_end)
        os.close(key_read)
    return child, Records(read_end, key)

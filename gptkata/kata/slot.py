"""A warm grading sandbox: one per grading job, reused for every submission it grades.

Starting a sandbox is cheap; starting Python in it and importing torch, pytest and
hypothesis is not (some 2.5 s of processor time, more than a typical submission's
tests). So each job keeps one bubblewrap sandbox (gptkata.kata.isolation) with a
warm process inside (gptkata.kata.zygote), and every run of a submission's tests is a
fresh child of that process:

  fill(exercises, solutions)   the zygote ends every process of the sandbox but
                               itself and removes every file the last run left in
                               /grade, /tmp and /dev/mqueue (and its IPC objects);
                               the grader checks from outside that only the
                               sandbox's own processes are left, then puts this
                               submission's files in the read-only exercises/ and
                               the references in solutions/
  start(command, ...)          one child runs pytest with this run's environment,
                               record pipe and key (gptkata.kata.supervisor)

Anything wrong with the sandbox (the zygote gone, a clean-up refused, a process left
over) ends it, and the next run starts a fresh one.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gptkata.kata import isolation, zygote

START_SECONDS = 180.0  # wall seconds for a fresh sandbox to import what the tests need
CLEAN_SECONDS = 60.0
STUCK_SECONDS = 10.0  # wall seconds for the zygote to report a killed child's end


class Broken(RuntimeError):
    """The sandbox did not answer as it should; it has been ended."""


class Child:
    """One run's child inside a slot, seen as subprocess.Popen is: its process group is
    `pid` (outside the sandbox), its exit status comes from the zygote."""

    def __init__(self, slot: Slot, pid: int):
        self.slot, self.pid = slot, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.slot.receive(self, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; without `timeout` (after a kill), a zygote that does not tell
        within STUCK_SECONDS (stopped by the run, say) ends with its sandbox."""
        deadline = time.monotonic() + (STUCK_SECONDS if timeout is None else timeout)
        while self.returncode is None:
            left = deadline - time.monotonic()
            if left <= 0 and timeout is None:
                self.slot.close()
                self.returncode = -signal.SIGKILL
            elif left <= 0:
                raise subprocess.TimeoutExpired("the sandboxed test process", timeout)
            else:
                self.slot.receive(self, left)
        return self.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Slot:
    """One job's warm sandbox. `binds` are the edition's read-only parts (host path ->
    path under /grade); exercises/ and solutions/ are the slot's own, refilled for
    every run."""

    def __init__(self, folder: Path, binds: dict[Path, str], memory_mb: int):
        self.folder, self.memory_mb = folder, memory_mb
        self.scratch = folder / "grade"
        self.exercises, self.solutions = folder / "exercises", folder / "solutions"
        self.binds = {**binds, self.exercises: "exercises", self.solutions: "solutions"}
        self.process: subprocess.Popen | None = None
        self.channel: socket.socket | None = None
        self.family: set[int] = set()

    def fill(self, exercises: Path, solutions: Path) -> None:
        """Make the sandbox ready for a run of the files in `exercises`, built on the
        references in `solutions`."""
        if self.process is not None:
            try:
                self._ask({"clean": True}, CLEAN_SECONDS)
                if _descendants(self.process.pid) != self.family:
                    raise Broken("a process of the last run outlived the clean-up")
            except Broken:
                self.close()
        for mine, theirs in ((self.exercises, exercises), (self.solutions, solutions)):
            mine.mkdir(parents=True, exist_ok=True)
            for old in mine.iterdir():
                old.unlink()
            for new in theirs.glob("*.py"):
                shutil.copyfile(new, mine / new.name)
        if self.process is None:
            self._open()

    def start(self, command: list[str], env: dict[str, str], fds: tuple, sink) -> Child:
        """Run `command` (python -m pytest ...) in a fresh child of the zygote, with
        `env`, the record and key descriptors `fds`, and its output to `sink`."""
        opened = None if sink else os.open(os.devnull, os.O_WRONLY)
        go_read, go_write = os.pipe()
        try:
            request = json.dumps({"run": command[3:], "env": env}).encode()
            output = sink.fileno() if sink else opened
            socket.send_fds(self.channel, [request], [output, *fds, go_read])
            started = self._answer(START_SECONDS)["started"]
            child = Child(self, _outer_pid(self.process.pid, started))
            os.write(go_write, b"!")  # found from outside: now it may run
            return child
        finally:
            for fd in (go_read, go_write, opened):
                if fd is not None:
                    os.close(fd)

    def receive(self, child: Child, timeout: float | None) -> None:
        """Wait up to `timeout` seconds for the zygote's word that `child` ended."""
        if not select.select([self.channel], [], [], timeout)[0]:
            return
        message = self.channel.recv(zygote.LONGEST_MESSAGE)
        if not message:  # the zygote is gone, and the sandbox with it
            child.returncode = -signal.SIGKILL
            self.close()
            return
        child.returncode = os.waitstatus_to_exitcode(json.loads(message)["exit"])

    def close(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.channel.close()
        self.process = self.channel = None

    def _open(self) -> None:
        if self.scratch.exists():  # what an ended sandbox's runs left there goes too
            shutil.rmtree(self.scratch, onerror=_writable_then_again)
        self.scratch.mkdir(parents=True)
        sandbox = isolation.Sandbox(self.scratch, self.binds, self.memory_mb)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(isolation.environment(), **{zygote.SOCKET_FD: str(theirs.fileno())})
        command = sandbox.command([sys.executable, "-m", "gptkata.kata.zygote"], env)
        with open(self.folder / "zygote.log", "ab") as log:
            self.process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        theirs.close()
        self.channel = ours
        self._answer(START_SECONDS)  # {"ready": ...}: warm
        self.family = _descendants(self.process.pid)

    def _ask(self, request: dict, seconds: float) -> dict:
        self.channel.sendall(json.dumps(request).encode())
        return self._answer(seconds)

    def _answer(self, seconds: float) -> dict:
        if self.channel is None or not select.select([self.channel], [], [], seconds)[0]:
            raise Broken(f"the grading sandbox did not answer within {seconds:g} s")
        message = self.channel.recv(zygote.LONGEST_MESSAGE)
        if not message:
            log = (self.folder / "zygote.log").read_text(errors="replace")[-300:]
            raise Broken(f"the grading sandbox ended: {' '.join(log.split())}")
        return json.loads(message)


def _writable_then_again(function, path: str, _) -> None:
    """shutil.rmtree's second try at a path whose folder a run made unwritable."""
    os.chmod(os.path.dirname(path), 0o700)
    function(path)


def _descendants(root: int) -> set[int]:
    """The processes below `root`, from /proc (outside the sandbox's namespace)."""
    children: dict[int, list[int]] = {}
    for pid, fields in isolation.processes().items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _outer_pid(root: int, inside: int) -> int:
    """The pid outside the sandbox of the process below `root` that is `inside` in the
    sandbox's own process namespace (the last number of its NSpid line)."""
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                line = next((x for x in f if x.startswith("NSpid:")), "")
        except OSError:
            continue
        if line.split()[-1:] == [str(inside)]:
            return pid
    raise Broken(f"the sandbox's test process {inside} could not be found from outside")

"""Inside the test process: the record of a session, for the supervisor outside.

The runner (gptkata.kata.runner) starts pytest with two inherited pipe descriptors
named in the environment by number, never by path:

  GPTKATA_RECORD_FD   where every record goes, one JSON line each, the moment it happens
  GPTKATA_KEY_FD      a secret key, read once here before any kata code is imported,
                      then closed: each record carries its sequence number and an
                      HMAC of both under that key, so a line that kata code writes to
                      the descriptor is told apart from the recorder's own

The records:

  {"tests": [nodeid, ...]}                      the tests that will run, in order
  {"running": nodeid, "cpu": s, "wall": s}      a test starts, with its limits
  {"result": {...}}                             how it ended (gptkata.kata.results.Result)
  {"exit": code, "where": "file:line"}          someone called os._exit
  {"tampered": what, "kata": name}              the harness changed while a kata ran
  {"complete": exitstatus, "collected": n}      the session ended normally: the last line

GPTKATA_GUARD says how the recorder guards the verdict:

  fingerprint   (make test, progress, watch) a fingerprint of the harness - the tests
                and their helpers, pytest's runner, its plugin manager, every
                registered plugin and hook implementation - is compared after every
                test (the modules at the end of each kata). A change ends the
                process: the kata is *tampered*.
  integrity     (grading in a sandbox) also: the references are in the fingerprint,
                and kata code may not look at frames, walk the garbage collector's
                objects, trace, or use ctypes (gptkata.kata.sandbox.guard_integrity)
  all           (grading without a sandbox) also the in-process guards of files and
                processes GPTKATA_MEMORY_MB caps the address space once the libraries are
loaded.
"""

from __future__ import annotations

import faulthandler
import hashlib
import hmac
import json
import os
import sys
from dataclasses import asdict

from gptkata import paths
from gptkata.kata.results import Result, kata_of

RECORD_FD, KEY_FD = "GPTKATA_RECORD_FD", "GPTKATA_KEY_FD"
GUARD, MEMORY, CRASH = "GPTKATA_GUARD", "GPTKATA_MEMORY_MB", "GPTKATA_CRASH"
KEY_BYTES = 32
_HARNESS = ("gptkata", "tests", "solutions", "pyproject.toml", "data", "exercises")


def sign(key: bytes, body: str) -> str:
    """The HMAC of one record's body: what the supervisor checks each line against."""
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def from_environment():
    """The recorder the runner asked for, or None when pytest was started by hand."""
    if RECORD_FD not in os.environ:
        return None
    fd = int(os.environ.pop(RECORD_FD))
    key_fd = int(os.environ.pop(KEY_FD))
    key = os.read(key_fd, KEY_BYTES)
    os.close(key_fd)
    guard = os.environ.pop(GUARD, "")
    memory = os.environ.pop(MEMORY, "")
    return Recorder(fd, key, guard, int(memory) if memory else None)


def _writer(fd: int, key: bytes):
    """write(record): sign and send one record; the key lives only in this closure."""
    sequence, me = [0], os.getpid()

    def write(record: dict) -> None:
        if os.getpid() != me:  # a forked copy of the test process: not the session's record
            return
        sequence[0] += 1
        body = json.dumps(dict(record, seq=sequence[0]), sort_keys=True)
        data = (json.dumps({"body": body, "mac": sign(key, body)}) + "\n").encode("utf-8")
        while data:  # a signal (the time limits' timers) can cut a write short
            data = data[os.write(fd, data) :]

    return write


class Recorder:
    """The pytest plugin that keeps the record (registered by gptkata.kata.pytest_plugin)."""

    def __init__(self, fd: int, key: bytes, guard: str = "", memory_mb: int | None = None):
        self._send = _writer(fd, key)
        self.guard, self.memory_mb = guard, memory_mb
        self.kata, self.before, self.config = None, None, None
        self.exitstatus: int | None = None
        self._watch_exit()

    def write(self, **record) -> None:
        self._send(record)

    def result(self, result: Result) -> None:
        self.write(result=asdict(result))

    def _watch_exit(self) -> None:
        """Log who calls os._exit, and where, before the process goes."""
        real_exit = os._exit
        write = self.write

        def logged_exit(code=0):
            try:
                caller = sys._getframe(1)  # none when called from C (an atexit handler)
                where = f"{paths.shown(caller.f_code.co_filename)}:{caller.f_lineno}"
            except ValueError:
                where = "an exit handler"
            try:
                write(exit=code, where=where)
            finally:
                real_exit(code)

        os._exit = logged_exit
        self._real_exit = real_exit

    def pytest_configure(self, config):
        self.config = config

    def pytest_sessionstart(self, session):
        # after pytest's own faulthandler set-up, which writes to the terminal
        crash = os.environ.get(CRASH)
        if crash:
            faulthandler.enable(file=open(crash, "w", encoding="utf-8"))  # noqa: SIM115

    def pytest_collection_finish(self, session):
        self.write(tests=[item.nodeid for item in session.items])
        if self.memory_mb:
            from gptkata.kata import sandbox

            sandbox.limit_resources(self.memory_mb)
        if self.guard:
            from gptkata.kata import sandbox

            if self.guard != "fingerprint":
                _load_references()
            self.before = sandbox.Fingerprint(self._watched(), self.config.pluginmanager)
            if self.guard != "fingerprint":
                sandbox.guard_integrity(_kata_folders())
        if self.guard == "all":  # no sandbox: the in-process guards of files and processes
            sandbox.install_guards(paths.ROOT, tuple(paths.ROOT / p for p in _HARNESS))

    def pytest_runtest_protocol(self, item, nextitem):
        from gptkata.kata import limits

        kata = kata_of(item.nodeid)
        if kata != self.kata:
            self._check(modules=True)
            self.kata = kata
        cpu = limits.seconds_for(item)
        self.write(running=item.nodeid, cpu=cpu, wall=limits.wall_limit(item))

    def pytest_runtest_logfinish(self, nodeid, location):
        self._check(modules=False)

    def pytest_sessionfinish(self, session, exitstatus):
        self._check(modules=True)
        self.exitstatus = int(exitstatus)
        self.write(complete=self.exitstatus, collected=session.testscollected)

    def finish(self) -> None:
        """Called last of all (gptkata.kata.pytest_plugin's unconfigure): end the process
        here, with pytest's own status. Everything is reported by now, and an interpreter
        that loaded torch takes about a second of processor time to tear itself down."""
        if self.exitstatus is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            self._real_exit(self.exitstatus)

    def _watched(self) -> tuple:
        """The plugins the record passes through: this one, and the collector that feeds it."""
        collector = self.config.pluginmanager.get_plugin("gptkata-collector")
        return (self, collector) if collector is not None else (self,)

    def _check(self, modules: bool) -> None:
        """Compare the fingerprint with the one taken before the first test: after every
        test the plugins and the recorder's own parts, at the end of each kata the
        modules too. A change ends the process at once (nothing after it can be trusted)."""
        if self.before is None:
            return

        changed = self.before.changes(self._watched(), self.config.pluginmanager, modules)
        if changed:
            self.write(tampered=", ".join(changed[:3]), kata=self.kata)
            self._real_exit(3)


def _load_references() -> None:
    """Import the references the edition has before any kata code runs, so that their
    functions are in the fingerprint."""
    from gptkata.kata import manifest, select

    for kata in manifest.KATAS:
        if select.provided(kata.name, "solutions"):
            try:
                select.load("solutions", kata.name)
            except select.KataBroken:
                pass


def _kata_folders() -> tuple[str, ...]:
    from gptkata.kata import select

    return (str(select.impl_folder().resolve()), str(paths.EXERCISES.resolve()))

"""The kata tests run in a child process that learner code cannot fake or hang.

`make test` and `make progress` never run pytest in their own process. `run` starts
`python -m pytest` as a child and, through GPTKATA_LOG, has the child keep a log
(one JSON object a line, each written the moment it happens):

  {"tests": [nodeid, ...]}               the tests that will run, in order
  {"running": nodeid, "wall": seconds}   a test is about to start, and its limit
  {"result": {...}}                      how it ended (gptkata.kata.results.Result)
  {"exit": code, "where": "file:line"}   someone called os._exit
  {"complete": exitstatus, "collected": n}   the session ended normally: the last line

A run counts only with its completion record. A child that ends without one was
killed from inside: `sys.exit` at the wrong moment, `os._exit`, a segfault (the
Python frames at the crash are written to <log>.crash by faulthandler). It is
reported as the test that was running - its kata is broken, with the cause - and
never as a pass. While a test runs, the child must finish it within its wall-clock
limit plus `GRACE`; outside a test (start-up, collection, the summary) within
`QUIET_LIMIT` of the last log line. A child that does not is killed and reported the
same way. The child stays in the terminal's process group, so a Ctrl-C reaches it
as it does pytest run by hand; a SIGTERM or SIGHUP to the parent is passed on. `Run.passed` is true only when the
session completed with exit status 0 and every collected test ran and passed (a
skipped test does not count).

The child's output goes to the terminal as it comes (`make test`) or into a file that
`Run.output` returns (`make progress`). The parent imports neither torch nor pytest:
the extra cost of the child is one Python start-up.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gptkata import paths
from gptkata.kata.results import BROKEN, PASSED, Result, as_sentence, kata_of

QUIET_LIMIT = 120.0  # seconds without a log line outside a test (start-up on a busy machine)
GRACE = 10.0  # seconds past a test's own wall-clock limit before the child is killed
FINISH_LIMIT = 15.0  # seconds from the completion record to the child's exit
POLL = 0.02  # seconds between looks at the child


# ---- in the child: the log -------------------------------------------------------------


class Recorder:
    """Writes the log of a test session (the pytest plugin registers it when
    GPTKATA_LOG is set). Every line is flushed at once, so it survives os._exit."""

    def __init__(self, path: str):
        self.path = path
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the session
        self._watch_exit()

    def write(self, **record) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def result(self, result: Result) -> None:
        self.write(result=asdict(result))

    def _watch_exit(self) -> None:
        """Log who calls os._exit, and where, before the process goes."""
        real_exit = os._exit

        def logged_exit(code=0):
            try:
                caller = sys._getframe(1)  # none when called from C (an atexit handler)
                where = f"{_shown(caller.f_code.co_filename)}:{caller.f_lineno}"
            except ValueError:
                where = "an exit handler"
            try:
                self.write(exit=code, where=where)
            finally:
                real_exit(code)

        os._exit = logged_exit

    def pytest_sessionstart(self, session):
        # after pytest's own faulthandler set-up, which writes to the terminal
        self.crash = open(self.path + ".crash", "w", encoding="utf-8")  # noqa: SIM115
        faulthandler.enable(file=self.crash)

    def pytest_collection_finish(self, session):
        self.write(tests=[item.nodeid for item in session.items])

    def pytest_runtest_protocol(self, item, nextitem):
        from gptkata.kata import limits

        self.write(running=item.nodeid, wall=limits.wall_limit(item))

    def pytest_sessionfinish(self, session, exitstatus):
        self.write(complete=int(exitstatus), collected=session.testscollected)


def _shown(filename: str) -> str:
    try:
        return Path(filename).resolve().relative_to(paths.ROOT).as_posix()
    except ValueError:
        return filename


# ---- in the parent: running and judging ------------------------------------------------


@dataclass
class Run:
    """What one run of the tests left behind."""

    results: list[Result] = field(default_factory=list)
    complete: bool = False  # the session ended normally (its completion record is there)
    exitstatus: int | None = None  # pytest's, from the completion record
    collected: int = 0
    returncode: int | None = None  # the child's own exit code
    stopped: str | None = None  # one line: why the child stopped early (crash, exit, hang)
    stopped_in: str | None = None  # the nodeid of the test that was running then, if any
    output: str = ""  # the child's output, when it was captured

    @property
    def passed(self) -> bool:
        """Every collected test really ran and passed."""
        return (
            self.complete
            and self.exitstatus == 0
            and self.returncode == 0
            and self.collected > 0
            and sum(r.outcome == PASSED for r in self.results) == self.collected
        )

    @property
    def not_passed(self) -> list[Result]:
        return [r for r in self.results if r.outcome != PASSED]


def _pytest_command(targets: list[str], args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", *targets, *args]


def _read_log(path: Path) -> list[dict]:
    records = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return records
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a line cut short by a crash
            break
    return records


def _kill(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()


def _interrupt(child: subprocess.Popen, patience: float = 5.0) -> None:
    """The parent is stopped (Ctrl-C, which the child gets from the terminal too, or a
    SIGTERM, passed on): give the child a moment to print what it has, then kill it."""
    try:
        child.wait(timeout=patience)
    except subprocess.TimeoutExpired:
        _kill(child)


class _Terminated(KeyboardInterrupt):
    """The parent got SIGTERM (or SIGHUP): stop as after a Ctrl-C."""


def _pass_on_termination(child: subprocess.Popen) -> dict:
    """Make SIGTERM and SIGHUP stop the child first, then the parent; returns the
    handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum, frame):
        child.send_signal(signum)
        raise _Terminated()

    return {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}


def corpus_problem() -> str | None:
    """One line when the installed corpus has changed (a missing one is left to the
    tests that need it, so a fresh clone can still start on the first katas)."""
    from gptkata import data

    if not data.corpus_path().is_file():
        return None
    try:
        data.verify()
    except data.CorpusError as error:
        return str(error)
    return None


def report_lines(outcome: Run) -> list[str]:
    """What `make test` adds after pytest's own output when the run does not count."""
    if outcome.stopped:
        where = f" during {outcome.stopped_in}" if outcome.stopped_in else ""
        kata = kata_of(outcome.stopped_in or "")
        verdict = f"Kata {kata} counts as broken" if kata else "Nothing counts as passed"
        return [
            "",
            f"The tests stopped early: {outcome.stopped}{where}. {verdict}, and the tests"
            " after it did not run.",
        ]
    if outcome.complete and outcome.exitstatus == 0 and not outcome.passed:
        skipped = len(outcome.not_passed)
        return [
            "",
            f"{skipped} of {outcome.collected} tests did not run to the end (skipped):"
            " a kata counts only when every test runs and passes.",
        ]
    return []


def _watch(child: subprocess.Popen, log: Path) -> str | None:
    """Wait for `child`, killing it when it stops making progress; returns why it was
    killed, or None when it ended by itself."""
    size, seen, deadline, running = -1, 0, time.monotonic() + QUIET_LIMIT, None
    while True:
        try:
            child.wait(timeout=POLL)
            return None
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        current = log.stat().st_size if log.exists() else 0
        if current != size:
            size = current
            records = _read_log(log)
            for record in records[seen:]:
                if "running" in record:
                    running = record
                elif "result" in record or "complete" in record:
                    running = None
            seen = len(records)
            wall = (running or {}).get("wall")
            if records and "complete" in records[-1]:
                deadline = now + FINISH_LIMIT
            else:
                deadline = now + (wall + GRACE if wall else QUIET_LIMIT)
        if now > deadline:
            _kill(child)
            if running:
                return f"was still running after {(running.get('wall') or 0) + GRACE:g} s (it did not stop at its time limit)"
            return "did not end (or made no progress) in time"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _crash_site(crash: Path) -> str | None:
    """The innermost kata or test line in a faulthandler dump, as 'file:line'."""
    try:
        text = crash.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for match in re.finditer(r'File "([^"]+)", line (\d+)', text):
        shown = _shown(match.group(1))
        if shown.startswith(("exercises/", "solutions/", "tests/")):
            return f"{shown}:{match.group(2)}"  # faulthandler lists the innermost first
    return None


def _why_stopped(returncode: int, records: list[dict], crash: Path, killed: str | None) -> str:
    """One line: how the child ended without its completion record."""
    exits = [r for r in records if "exit" in r]
    if killed:
        return f"the test process {killed} and was stopped"
    if exits:
        return f"{exits[-1]['where']} called os._exit({exits[-1]['exit']})"
    if returncode < 0:
        site = _crash_site(crash)
        return f"the test process was killed by {_signal_name(-returncode)}" + (
            f" at {site}" if site else ""
        )
    return f"the test process exited with code {returncode} before the tests finished"


def run(
    targets: list[str],
    args: list[str] = (),
    impl: str = "exercises",
    chain: str = "reference",
    capture: bool = False,
    report: Path | None = None,
) -> Run:
    """Run pytest on `targets` in a child process (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="gptkata-run-") as folder:
        log, output = Path(folder) / "log.jsonl", Path(folder) / "output.txt"
        env = dict(os.environ, GPTKATA_IMPL=impl, GPTKATA_CHAIN=chain, GPTKATA_LOG=str(log))
        if report is not None:
            env["GPTKATA_REPORT"] = str(report)
        with open(output, "w", encoding="utf-8") as sink:
            streams = dict(stdout=sink, stderr=subprocess.STDOUT) if capture else {}
            child = subprocess.Popen(
                _pytest_command(list(targets), list(args)),
                cwd=paths.ROOT,
                env=env,
                **streams,
            )
            previous = _pass_on_termination(child)
            try:
                killed = _watch(child, log)
            except BaseException:  # Ctrl-C (or anything else) here: the child goes too
                _interrupt(child)
                raise
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
        records = _read_log(log)
        outcome = Run(output=output.read_text(encoding="utf-8", errors="replace"))
        outcome.returncode = child.returncode
        outcome.results = [Result(**r["result"]) for r in records if "result" in r]
        completion = next((r for r in reversed(records) if "complete" in r), None)
        if completion is not None and killed is None:
            outcome.complete = True
            outcome.exitstatus = completion["complete"]
            outcome.collected = completion["collected"]
        running = _unfinished(records)
        if outcome.complete and child.returncode != outcome.exitstatus:
            outcome.stopped = (
                f"the test process exited with code {child.returncode} after the tests"
                f" finished (pytest's own status was {outcome.exitstatus})"
            )
        if not outcome.complete or running:
            cause = (
                _why_stopped(child.returncode, records, Path(str(log) + ".crash"), killed)
                if not outcome.complete
                else "the test was interrupted (KeyboardInterrupt)"
            )
            outcome.stopped, outcome.stopped_in = cause, running
            if running:
                outcome.results.append(broken_result(running, cause))
                outcome.results += _not_run(records, running, {r.nodeid for r in outcome.results})
        return outcome


def _unfinished(records: list[dict]) -> str | None:
    """The nodeid of a test that started but has no result."""
    running = None
    for record in records:
        if "running" in record:
            running = record["running"]
        elif "result" in record and record["result"]["nodeid"] == running:
            running = None
    return running


def _not_run(records: list[dict], stopped_in: str, done: set[str]) -> list[Result]:
    """The tests of the kata of `stopped_in` that never ran: none of them passed."""
    kata = kata_of(stopped_in)
    collected = next((r["tests"] for r in records if "tests" in r), [])
    return [
        Result(nodeid, kata, "failed", "not run: the tests stopped in an earlier test")
        for nodeid in collected
        if nodeid not in done and kata_of(nodeid) == kata
    ]


def broken_result(nodeid: str, cause: str) -> Result:
    """The result of a test during which the test process died: its kata is broken."""
    test = as_sentence(nodeid.rsplit("::", 1)[-1].split("[", 1)[0])
    message = f"the tests stopped early: {cause} (during: {test})"
    return Result(nodeid, kata_of(nodeid), BROKEN, message, details=message)

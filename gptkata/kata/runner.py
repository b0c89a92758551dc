"""The one way the tools run kata tests: a supervised child that learner code cannot
fake, hang or outlive.

`make test`, `make progress` and `make grade` never run pytest in their own process.
`run` starts `python -m pytest` as a child in a process group of its own (for
`make grade`, inside a bubblewrap sandbox: gptkata.kata.isolation) and reads the
child's record (gptkata.kata.recorder) from a pipe: each line signed with a key that
only the recorder was given, in sequence. A line that is not - written by kata code
that found the descriptor - ends the run as *tampered*.

A run counts only with its completion record. A child that ends without one was
killed from inside: `sys.exit` at the wrong moment, `os._exit`, a segfault (the
Python frames at the crash are written to a crash file by faulthandler). It is
reported as the test that was running - its kata is broken, with the cause - and
never as a pass.

Limits are processor time of the child and everything it started, so a busy machine
never changes a verdict (gptkata.kata.supervisor). Whenever the run ends - passed, failed, stopped, or interrupted
with Ctrl-C - the child's whole process group is killed: nothing it started lives on.
`Run.passed` is true only when the session completed with exit status 0 and every
collected test ran and passed (a skipped test does not count).

The child's output goes to the terminal as it comes (`make test`) or into a file that
`Run.output` returns (`make progress`, grading). The parent imports neither torch nor
pytest: the extra cost of the child is one Python start-up.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gptkata import paths
from gptkata.kata import isolation, recorder, supervisor
from gptkata.kata.results import BROKEN, PASSED, Result, as_sentence, kata_of

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
    tampered: str | None = None  # what kata code changed or forged, when it did
    timed_out: bool = False  # a kata's tests together ran past `kata_cpu`
    collected_tests: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the child's and its descendants' processor time
    wall_seconds: float = 0.0
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
        shown = paths.shown(match.group(1))
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
        memory = (
            " (out of memory? the kernel's out-of-memory killer sends SIGKILL)"
            if -returncode == signal.SIGKILL
            else ""
        )
        return (
            f"the test process was killed by {_signal_name(-returncode)}"
            + (f" at {site}" if site else "")
            + memory
        )
    return f"the test process exited with code {returncode} before the tests finished"


def run(
    targets: list[str],
    args: list[str] = (),
    impl: str = "exercises",
    chain: str = "reference",
    capture: bool = False,
    report: Path | None = None,
    sandbox: isolation.Sandbox | None = None,
    kata_cpu: float | None = None,
    root: Path | None = None,
    guarded: bool = False,
) -> Run:
    """Run pytest on `targets` in a supervised child (see the module's docstring), in
    `root` (default: this repository). With `sandbox`, the child runs inside it, with
    the verdict's guards on (GPTKATA_GUARD=integrity) and `sandbox.memory_mb` of
    memory; `guarded` without a sandbox turns on every in-process guard instead
    (gptkata.kata.sandbox: ISOLATION=none)."""
    with tempfile.TemporaryDirectory(prefix="gptkata-run-") as folder:
        output = Path(folder) / "output.txt"
        env = _environment(impl, chain, report, sandbox, Path(folder) / "crash.txt")
        if guarded and sandbox is None:
            env.update({recorder.GUARD: "all", recorder.MEMORY: "2048"})
        key = secrets.token_bytes(recorder.KEY_BYTES)
        command = _pytest_command(list(targets), list(args))
        with open(output, "w", encoding="utf-8") as sink:
            child, records = supervisor.start(
                command, env, key, sink if capture else None, sandbox, root or paths.ROOT
            )
            watch = supervisor.Watch(child, records, kata_cpu)
            previous = supervisor.pass_on_termination(child)
            try:
                killed = watch.follow()
            except BaseException:  # Ctrl-C (or anything else) here: the child goes too
                supervisor.interrupt(child)
                raise
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
                supervisor.kill(child)  # whatever it started goes with it
                os.close(records.fd)
        crash = sandbox.scratch / "tmp" / "crash.txt" if sandbox else Path(env[recorder.CRASH])
        outcome = _judge(records, child.returncode, killed, crash)
        outcome.timed_out = watch.timed_out
        outcome.cpu_seconds, outcome.wall_seconds = watch.used, watch.wall()
        outcome.output = output.read_text(encoding="utf-8", errors="replace")
        return outcome


def _environment(impl, chain, report, sandbox, crash: Path) -> dict[str, str]:
    """The child's environment: the caller's own, or in a sandbox only what it needs."""
    chosen = dict(GPTKATA_IMPL=impl, GPTKATA_CHAIN=chain)
    if sandbox is None:
        env = dict(
            os.environ, **chosen, **{recorder.CRASH: str(crash), recorder.GUARD: "fingerprint"}
        )
        if report is not None:
            env["GPTKATA_REPORT"] = str(report)
        return env
    return dict(
        chosen,
        **isolation.environment(),
        **{
            recorder.CRASH: "/tmp/crash.txt",
            recorder.GUARD: "integrity",
            recorder.MEMORY: str(sandbox.memory_mb),
        },
    )


def _judge(records: supervisor.Records, returncode: int, killed: str | None, crash: Path) -> Run:
    """What the records say happened, given how the child ended."""
    log = records.records
    outcome = Run(returncode=returncode, tampered=records.forged)
    outcome.results = [Result(**r["result"]) for r in log if "result" in r]
    outcome.collected_tests = next((r["tests"] for r in log if "tests" in r), [])
    tampered = next((r for r in log if "tampered" in r), None)
    if tampered:
        outcome.tampered = f"the harness was changed while its tests ran: {tampered['tampered']}"
    completion = next((r for r in reversed(log) if "complete" in r), None)
    if completion is not None and killed is None and not outcome.tampered:
        outcome.complete = True
        outcome.exitstatus = completion["complete"]
        outcome.collected = completion["collected"]
    if outcome.tampered:
        _tampered(outcome, log)
        return outcome
    running = _unfinished(log)
    if outcome.complete and returncode != outcome.exitstatus:
        outcome.stopped = (
            f"the test process exited with code {returncode} after the tests"
            f" finished (pytest's own status was {outcome.exitstatus})"
        )
    if not outcome.complete or running:
        cause = (
            _why_stopped(returncode, log, crash, killed)
            if not outcome.complete
            else "the test was interrupted (KeyboardInterrupt)"
        )
        outcome.stopped, outcome.stopped_in = cause, running
        if running:
            outcome.results.append(broken_result(running, cause))
            outcome.results += _not_run(log, running, {r.nodeid for r in outcome.results})
    return outcome


def _tampered(outcome: Run, log: list[dict]) -> None:
    """The kata that was running when the harness changed, or a forged record came,
    counts as broken, every test of it: nothing it reported can be trusted."""
    started = [r["running"] for r in log if "running" in r]
    if not started:
        outcome.stopped = outcome.tampered
        return
    kata = kata_of(started[-1])
    first = next(n for n in started if kata_of(n) == kata)
    message = f"tampered: {outcome.tampered}"
    outcome.stopped, outcome.stopped_in = message, first
    outcome.results = [r for r in outcome.results if r.kata != kata]
    tests = outcome.collected_tests or started
    outcome.results += [
        Result(n, kata, BROKEN, message, details=message) for n in tests if kata_of(n) == kata
    ]


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

"""How the kata suite reports: one short line per problem, then the next step.

Loaded for every run (pyproject's addopts). It changes only how results are shown:

* A test that hits a stub ("not implemented yet: <kata>.<function>") is counted as
  TODO, not as a failure with a traceback; the summary lists each stubbed function
  once, with its file and line.
* A kata file that does not import, and a missing corpus, fail with one line that
  says what to do.
* A `Mismatch` (raised by the tests' expectation helpers) is shown as its message:
  the call, what came back, what was expected and why - no stack of test internals.
  When a property test (hypothesis) fails, the smallest failing example it found
  follows in one plain line.
* An exception raised inside the learner's own code is shown as its type and message
  and the learner's line that raised it, without the frames of torch or the tests.
* The run ends with the next step; a first run on a fresh clone ends with a short
  welcome that says where to start.
* With GPTKATA_REPORT=path, every result is also written there as JSON (see
  gptkata.kata.results), for the progress view, watch and the maintainer checks.
* A test past its time limit is one line saying where it was stopped
  (gptkata.kata.limits); `sys.exit` in the code under test is its kata broken. With
  the runner's record pipe (gptkata.kata.recorder) each test is logged as it starts and ends.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import asdict
from pathlib import Path

import pytest

from gptkata import paths
from gptkata.data import CorpusError
from gptkata.kata import blame, limits, manifest, select, stubs
from gptkata.kata.next_step import summary_lines
from gptkata.kata.recorder import Recorder, from_environment
from gptkata.kata.results import (
    BROKEN,
    TODO,
    Result,
    kata_of,
)

# Failing-example notes hypothesis attaches to the exception, e.g.
# "Falsifying example: test_x(\n    text='0',\n)" (older) or "Failing test case: ..." (newer).
_EXAMPLE_NOTE = re.compile(
    r"^(?:Falsifying|Failing) (?:explicit )?(?:example|test case):\s*\w+\((.*)\)\s*$", re.DOTALL
)


class Mismatch(AssertionError):
    """A failed expectation whose message is complete: shown as it is, without a traceback."""


def smallest_example(error: BaseException) -> str | None:
    """ "text='0e'" from hypothesis's note on `error`, on one line; None without one."""
    for note in getattr(error, "__notes__", ()):
        match = _EXAMPLE_NOTE.match(note.strip())
        if match:
            # drop hypothesis's comments ("# or any other generated value")
            lines = [re.sub(r",\s+#.*$", ",", line).strip() for line in match.group(1).splitlines()]
            return " ".join(line for line in lines if line and not line.startswith("#")).rstrip(",")
    return None


def one_line(text: str, limit: int = 160) -> str:
    """The lines of `text` joined into one (runs of spaces made single), at most
    `limit` characters long."""
    line = "; ".join(" ".join(part.split()) for part in text.strip().splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _named_function(kata_name: str | None, call: str) -> str | None:
    """The kata function that `call` (e.g. "encode('Hola', stoi)") is about: the one
    named earliest in it. A method is also named by its class and its name as a word
    ("w after step 1 of AdamW(...)" is about AdamW.step)."""
    if kata_name not in {k.name for k in manifest.KATAS}:
        return None
    found = []
    for qualified in stubs.stubbed_functions(manifest.get(kata_name)):
        *owner, name = qualified.split(".")[1:]
        match = re.search(rf"\b{re.escape(name)}\(", call)
        if match:
            found.append((match.start(), 0, qualified))
        elif owner and not name.startswith("_"):
            of_class = re.search(rf"\b{re.escape(owner[-1])}\b", call)
            if of_class and re.search(rf"\b{re.escape(name)}\b", call):
                found.append((of_class.start(), 1, qualified))
    return min(found)[2] if found else None


def _describe(item, error: BaseException) -> dict | None:
    """What the plugin knows about a failure: outcome, one-line message, details,
    stub, where and function. None for failures it leaves to pytest."""
    kata_name = kata_of(item.nodeid)
    test_file, line, _ = item.location
    checked_at = f"  (checked at {test_file}:{line + 1})"
    grouped = getattr(error, "exceptions", None)  # an exception group
    if isinstance(grouped, tuple) and grouped:
        # hypothesis found several different failures: the first one is enough to act on
        described = _describe(item, grouped[0])
        if described is not None:
            count = len(grouped)
            described["details"] += (
                f"\n  (hypothesis found {count} different failures; this is the first)"
            )
        return described
    if isinstance(error, NotImplementedError) and str(error).startswith(stubs.PREFIX):
        stub = str(error)[len(stubs.PREFIX) :]
        where = blame.at(traceback.extract_tb(error.__traceback__)[-1])
        text = f"{error} ({where})"
        owner = stub.split(".", 1)[0]
        if kata_name and owner != kata_name:  # CHAIN=mine: an earlier kata is unfinished
            text = f"{kata_name} waits for {owner}: {text}"
        return dict(outcome=TODO, stub=stub, where=where, function=stub, message=text, details=text)
    if isinstance(error, select.KataBroken):
        text = str(error)
        if kata_name and error.kata and error.kata != kata_name:  # the earliest cause, once
            text = f"{kata_name} waits for {error.kata}: {error.cause or error}"
        return dict(outcome=BROKEN, message=text, details=text)
    if isinstance(error, CorpusError):
        return dict(message=str(error), details=str(error))
    if isinstance(error, limits.TimeLimit):
        return dict(
            message=error.message, details=error.message, where=error.where, function=error.function
        )
    if isinstance(error, SystemExit):
        return _describe_exit(error)
    example = smallest_example(error)
    example_line = f"  smallest failing example: {example}" if example else ""
    if isinstance(error, Mismatch):
        text = str(error)
        details = "\n".join(filter(None, [text, example_line, checked_at]))
        function = _named_function(kata_name, text.splitlines()[0] if text else "")
        return dict(message=one_line(text), details=details, function=function)
    return _describe_exception(item, error, kata_name, example_line, checked_at)


def _describe_exit(error: SystemExit) -> dict:
    """Learner code called sys.exit (or raised SystemExit) during a test: the kata is
    broken, whatever the exit code - an exit must never read as a pass."""
    frames = blame.frames_in(error, paths.ROOT / select.impl_name()) or blame.frames_in(
        error, paths.EXERCISES
    )
    where = f" at {blame.at(frames[-1])}" if frames else ""
    function = next(filter(None, map(blame.qualified, reversed(frames))), None)
    text = f"the code under test exits: sys.exit({error.code!r}){where}"
    return dict(
        outcome=BROKEN, message=text, details=text, where=where[4:] or None, function=function
    )


def _refused(item, error, given) -> tuple[str, str, str, str | None]:
    """The headline, place and advice of a ValueError from a kata's given input check,
    and the place of the learner's own call that passed the refused value, if any."""
    caller, _, maker = given
    headline = one_line(f"{type(error).__name__}: {error}")
    headline += f" (the given input check of {caller} refused what it was passed)"
    place = f"in given code, called by {caller}"
    if maker is not None:  # the learner's own code made the call: blame it
        blamed = blame.at(maker)
        advice = (
            f"  the check is given and correct: your {maker.name} passed it, at"
            f" {blamed}:  {(maker.line or '').strip()}"
        )
        return headline, place, advice, blamed
    test = (blame.frames_in(error, Path(item.path).parent) or [None])[-1]
    line = (test.line or "").strip().rstrip(",") if test else ""
    source = f" at {blame.at(test)}:  {line}" if test else ""
    advice = (
        f"  the check is given and correct: look at what the test passed to {caller}"
        f"{source} (one of your functions may have made it)"
    )
    return headline, place, advice, None


def _describe_exception(item, error, kata_name, example_line, checked_at) -> dict | None:
    """Any other exception: the learner's line that raised it, or else the test's line
    that got something it could not use; never the frames of torch or of pytest. A
    plain assert in a test is better shown by pytest itself, and so is anything outside
    the kata tests."""
    mine = blame.frames_in(error, paths.ROOT / select.impl_name())
    if kata_name is None or (isinstance(error, AssertionError) and not mine):
        return None
    frame = (mine or blame.frames_in(error, Path(item.path).parent) or [None])[-1]
    if frame is None:
        return None
    where = blame.at(frame)
    code = (frame.line or "").strip()
    if mine:  # the learner's function, even when the line is inside a comprehension
        function = next(filter(None, map(blame.qualified, reversed(mine))), None)
    else:
        function = _named_function(kata_name, code)
    name = function.split(".", 1)[1] if function else frame.name
    headline = one_line(f"{type(error).__name__}: {error}")
    reference = blame.reference_frame(error) if mine else None
    if reference is not None:  # the reference raised it, on what the learner's code passed
        headline = one_line(
            f"{type(error).__name__} from the reference {reference.name} "
            f"({blame.at(reference)}), called by your {name}: {error}"
        )
    place = f"in {name}" if mine else "in the test"
    advice = f"  what {name} must do: its docstring, or make show KATA={kata_name}"
    given = blame.given_check(mine, kata_name) if isinstance(error, ValueError) else None
    blamed = None
    if given is not None:  # the exercise's own input check refused what it was passed
        function = given[1]
        headline, place, advice, blamed = _refused(item, error, given)
    lines = [
        headline,
        f"  raised at {where}, {place}:  {code}",
        example_line,
        advice if function and kata_name else "",
        checked_at,
    ]
    return dict(
        message=f"{headline} ({where})",
        details="\n".join(filter(None, lines)),
        where=(blamed or where) if mine else None,
        function=function,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    """The report of a failure this plugin explains, made before pytest would render
    the traceback that the one-line message replaces (it parses the source of every
    frame: most of a failing kata's time) and before hypothesis would work out a patch
    that adds the failing example to the test file (which is not the learner's to
    edit); None leaves the report to pytest."""
    item.__dict__.pop("_hypothesis_failing_examples", None)
    error = call.excinfo.value if call.excinfo else None
    skipped = pytest.skip.Exception
    if error is None or isinstance(error, skipped):
        return None
    if isinstance(error, BaseExceptionGroup) and error.split(skipped)[1] is None:
        return None
    described = _describe(item, error)
    if described is None:
        return None
    report = pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        described["details"],
        call.when,
        [(f"Captured {key} {when}", text) for when, key, text in item._report_sections],
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )
    report.gptkata = described
    return report


def pytest_report_teststatus(report, config):
    outcome = getattr(report, "gptkata", {}).get("outcome")
    if outcome in (TODO, BROKEN) and report.when in ("setup", "call"):
        # a stub prints no letter: a fresh clone's hundreds of them would fill the screen
        # before the welcome; the summary lists the current kata's stubs instead. A
        # fixture that stops at an earlier kata's stub (CHAIN=mine) is no pytest error.
        return (TODO, "", "TODO") if outcome == TODO else (BROKEN, "B", "BROKEN")
    return None


class _Collector:
    def __init__(self, recorder: Recorder | None = None):
        self.results: list[Result] = []
        self.recorder = recorder

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            described = dict(getattr(report, "gptkata", {}))
            if not report.passed:
                text = str(report.longrepr or "")
                described.setdefault("message", text.strip().splitlines()[0] if text else "")
                described.setdefault("details", text)
            described.setdefault("outcome", report.outcome)
            described.setdefault("bad_input", "bad_input" in report.keywords)
            described.setdefault("message", "")
            described.setdefault("seconds", round(report.duration, 4))
            self.results.append(Result(report.nodeid, kata_of(report.nodeid), **described))
            if self.recorder:
                self.recorder.result(self.results[-1])

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        # around pytest's own summary, so the next step comes after its list of
        # failures: the last thing said before the counts
        try:
            return (yield)
        finally:
            for line in summary_lines(self.results) + note_lines(config):
                terminalreporter.write_line(line)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session, exitstatus):
        target = os.environ.get("GPTKATA_REPORT")
        if target:
            Path(target).write_text(json.dumps([asdict(r) for r in self.results], indent=1))


def pytest_configure(config):
    recorder = from_environment()  # when gptkata.kata.runner started this run
    if recorder:
        config.pluginmanager.register(recorder, "gptkata-recorder")
    config.pluginmanager.register(limits.Guard(), "gptkata-limits")
    config.pluginmanager.register(_Collector(recorder), "gptkata-collector")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """The run's last line always ends with a line break, so what prints next (make's
    own error line) starts on a line of its own; then the recorder ends the process."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)  # pytest's TerminalWriter of that reporter
    if writer is not None and writer.width_of_current_line:
        writer.line()
    recorder = config.pluginmanager.get_plugin("gptkata-recorder")
    if recorder is not None:
        recorder.finish()


def pytest_collection_modifyitems(session, config, items):
    """A folder of kata modules (GPTKATA_IMPL=<folder>) runs only the katas it has;
    the others are named once, as not provided."""
    impl = select.impl_name()
    if impl in select.PACKAGES:
        return
    absent = [k for k in manifest.KATAS if not select.provided(k.name, impl)]
    names = {k.name for k in absent}
    left_out = [item for item in items if kata_of(item.nodeid) in names]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if kata_of(item.nodeid) not in names]
        ran = {kata_of(item.nodeid) for item in left_out}
        config.stash[_NOT_PROVIDED] = [k.name for k in absent if k.name in ran]


_NOT_PROVIDED = pytest.StashKey[list]()


def note_lines(config) -> list[str]:
    """Said once at the end: the katas a folder does not provide, and where a kata
    built on the learner's own earlier work because its reference is absent."""
    lines = [f"Note: {note}." for note in select.NOTES]
    absent = config.stash.get(_NOT_PROVIDED, [])
    if absent:
        lines.append(
            f"Not provided in {select.impl_name()} (no module file there): {', '.join(absent)}"
        )
    return [""] + lines if lines else []

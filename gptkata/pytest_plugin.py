"""How the kata suite reports: one short line per problem, then the next step.

Loaded for every run (pyproject's addopts). It changes only how results are shown:

* A test that hits a stub ("not implemented yet: <kata>.<function>") is counted as
  TODO, not as a failure with a traceback; the summary lists each stubbed function
  once, with its file and line.
* A kata file that does not import, and a missing corpus, fail with one line that
  says what to do.
* A `Mismatch` (raised by the tests' expectation helpers) is shown as its message:
  the call, what came back, what was expected - no stack of test internals.
* With GPTKATA_REPORT=path, every result is also written there as JSON, for the
  progress view and the maintainer checks.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from gptkata import manifest, paths, select, stubs
from gptkata.data import CorpusError

TODO, BROKEN = "todo", "broken"
_TEST_FILE = re.compile(r"tests/katas/test_(\w+)\.py")


class Mismatch(AssertionError):
    """A failed expectation whose message is complete: shown as it is, without a traceback."""


@dataclass
class Result:
    nodeid: str
    kata: str | None  # the kata whose test file this is
    outcome: str  # passed | failed | skipped | todo | broken
    message: str  # one line; empty when passed
    stub: str | None = None  # 'kata.function' of the stub that was hit
    where: str | None = None  # file:line of that stub


def kata_of(nodeid: str) -> str | None:
    match = _TEST_FILE.search(nodeid.replace("\\", "/"))
    return match.group(1) if match else None


def _where(excinfo) -> str:
    frame = traceback.extract_tb(excinfo.tb)[-1]
    try:
        name = os.path.relpath(frame.filename, paths.ROOT)
    except ValueError:
        name = frame.filename
    return f"{name}:{frame.lineno}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is None or not report.failed:
        return report
    error = call.excinfo.value
    if isinstance(error, NotImplementedError) and str(error).startswith(stubs.PREFIX):
        stub = str(error)[len(stubs.PREFIX) :]
        report.gptkata = (TODO, stub, _where(call.excinfo))
        report.longrepr = f"{error} ({_where(call.excinfo)})"
    elif isinstance(error, select.KataBroken):
        report.gptkata = (BROKEN, None, None)
        report.longrepr = str(error)
    elif isinstance(error, CorpusError):
        report.longrepr = str(error)
    elif isinstance(error, Mismatch):
        test_file, line, _ = item.location
        report.longrepr = f"{error}\n  (checked at {test_file}:{line + 1})"
    return report


def pytest_report_teststatus(report, config):
    tag = getattr(report, "gptkata", None)
    if tag and report.when == "call":
        return (TODO, "T", "TODO") if tag[0] == TODO else (BROKEN, "B", "BROKEN")
    return None


class _Collector:
    def __init__(self):
        self.results: list[Result] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            tag = getattr(report, "gptkata", None)
            if tag:
                outcome, stub, where = tag
            else:
                outcome, stub, where = report.outcome, None, None
            message = "" if report.passed else _first_line(str(report.longrepr or ""))
            self.results.append(
                Result(report.nodeid, kata_of(report.nodeid), outcome, message, stub, where)
            )

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        write = terminalreporter.write_line
        for line in summary_lines(self.results):
            write(line)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session, exitstatus):
        target = os.environ.get("GPTKATA_REPORT")
        if target:
            Path(target).write_text(json.dumps([asdict(r) for r in self.results], indent=1))


def pytest_configure(config):
    config.pluginmanager.register(_Collector(), "gptkata-collector")


def summary_lines(results: list[Result]) -> list[str]:
    """The end of a run: every function still stubbed in the katas that ran, one line
    each (with how many tests wait on it), then the one next step."""
    hits: dict[str, int] = {}
    for r in results:
        if r.outcome == TODO and r.stub:
            hits[r.stub] = hits.get(r.stub, 0) + 1
    ran = {r.kata for r in results}
    package = paths.ROOT / select.impl_name()
    todo = [
        (stub, f"{package.name}/{kata.module}.py:{line}")
        for kata in manifest.KATAS
        if kata.name in ran
        for stub, line in stubs.remaining(package / f"{kata.module}.py")
    ]
    lines = []
    if todo:
        lines.append("")
        lines.append(
            "Not implemented yet (one line per function; replace its `raise NotImplementedError`):"
        )
        width = max(len(stub) for stub, _ in todo)
        for stub, where in todo:
            count = hits.get(stub, 0)
            waiting = {0: "", 1: "1 test stops here"}.get(count, f"{count} tests stop here")
            lines.append(f"  {stub:<{width}}  {where:<28} {waiting}".rstrip())
    lines.extend(next_step_lines(results))
    return lines


def next_step_lines(results: list[Result]) -> list[str]:
    """At most ten lines saying what to do now."""
    by_kata: dict[str, list[Result]] = {}
    for r in results:
        if r.kata:
            by_kata.setdefault(r.kata, []).append(r)
    pending = [
        k for k in manifest.KATAS if any(r.outcome != "passed" for r in by_kata.get(k.name, []))
    ]
    if not pending:
        return []
    kata = pending[0]
    mine = by_kata[kata.name]
    fresh = all(r.outcome == TODO for rs in by_kata.values() for r in rs)
    first = next(r for r in mine if r.outcome != "passed")
    done = sum(r.outcome == "passed" for r in mine)
    lines = [""]
    if fresh and kata.number == 1:
        lines += [
            "Welcome to GPT Kata! Every kata is still a stub: that is where you start.",
            f"First: open exercises/{kata.module}.py and read its docstring (kata 1, {kata.title}).",
            "Replace each `raise NotImplementedError(...)` with your code, then run only this kata:",
            f"    make test KATA={kata.name}",
            f"Stuck? make hint KATA={kata.name}    Where am I? make progress",
        ]
    else:
        lines += [
            f"Next: kata {kata.number}, {kata.name} ({done} of {len(mine)} tests pass) - edit exercises/{kata.module}.py",
            f"  {first.message or first.nodeid}",
            f"  run it alone: make test KATA={kata.name}    a hint: make hint KATA={kata.name}",
        ]
    return lines

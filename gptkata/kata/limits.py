"""Time limits: a test that computes forever is stopped and reported in one line.

Every kata test may compute for a few seconds of processor time (pyproject's
`timeout`, 5 by default; a kata raises its own with `time_limit` in katas.toml, a
test with pytest-timeout's marker, `@pytest.mark.timeout(30)`). pytest-timeout reads
those settings; this module only replaces how the limit is enforced and reported:

* The limit counts processor time (a SIGPROF timer), not wall-clock time: a machine
  busy with other work makes a test slower, never "time out". An endless loop burns
  processor time and is caught after exactly its limit.
* Code that waits instead of computing (sleep, a lock, input) is caught by a
  wall-clock timer (SIGALRM) at `WALL_FACTOR` times the limit.
* Both raise `TimeLimit` in the code that was running, and report where it was:
  "timed out after 5 s in tokenizer.build_vocab at exercises/tokenizer.py:63" -
  no stack dump. TimeLimit is a BaseException, so a learner's `except Exception`
  cannot swallow it, and hypothesis does not try to shrink it (which would rerun
  the endless example again and again). The timers repeat until the test ends, so
  even a bare `except:` inside the loop only delays it.
* The timers fire only while a test's setup, call or teardown runs; the moment
  between a test and its report never sees them.

Code that blocks signals altogether is not stopped here: the runner
(gptkata.kata.runner) kills a test process that stops making progress.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from pathlib import Path

import pytest

from gptkata import paths
from gptkata.kata import manifest, select
from gptkata.kata.results import kata_of

WALL_FACTOR = 6  # the wall-clock limit, as a multiple of the processor-time limit
OTHER_TESTS = 120.0  # processor seconds for the maintainers' tests (tooling, lab): a backstop
REPEAT_SECONDS = 1.0  # after the first alarm, again every second until the test ends

_active = False  # True while a test phase runs: the only time the alarms may fire


class TimeLimit(BaseException):
    """A test ran past its time limit; `message` says where it was stopped."""

    def __init__(self, message: str, function: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message, self.function, self.where = message, function, where


def _learner_frame(frame):
    """The innermost frame running kata code (exercises/, solutions/ or the folder
    under test), else the
    innermost frame of the repository (a test), else `frame` itself."""
    kata_folders = {paths.EXERCISES.resolve(), paths.SOLUTIONS.resolve()}
    try:
        kata_folders.add(select.impl_folder().resolve())  # IMPL=<folder>
    except ValueError:
        pass
    ours = None
    walk = frame
    while walk is not None:
        file = Path(walk.f_code.co_filename)
        if file.is_absolute() and file.resolve().parent in kata_folders:
            return walk, True
        if ours is None and file.is_absolute() and file.resolve().is_relative_to(paths.ROOT):
            ours = walk
        walk = walk.f_back
    return (ours or frame), False


def stopped_at(frame, seconds: float, waiting: bool) -> TimeLimit:
    """The TimeLimit for a test stopped in `frame` after `seconds`."""
    found, in_kata = _learner_frame(frame)
    file = Path(found.f_code.co_filename)
    shown = paths.shown(file)
    if Path(shown).is_absolute():  # outside the repository: its name is enough
        shown = file.name
    where = f"{shown}:{found.f_lineno}"
    name = found.f_code.co_name
    function = f"{file.stem}.{name}" if in_kata else None
    what = (
        function
        if function and name != "<module>"
        else (f"{file.stem} (while importing it)" if in_kata else f"{name}")
    )
    how = "waiting (sleeping or blocked, not computing)" if waiting else ""
    seconds_text = f"{seconds:g} s"
    message = f"timed out after {seconds_text} {how + ' ' if how else ''}in {what} at {where}"
    return TimeLimit(message, function if name != "<module>" else None, where)


def _in_gc_callback(frame) -> bool:
    """The alarm interrupted a garbage-collector callback, where an exception is only
    printed as "ignored": better to wait for the next alarm."""
    return any(getattr(callback, "__code__", None) is frame.f_code for callback in gc.callbacks)


def set_timer(item, settings) -> bool | None:
    """pytest-timeout's hook: arm both timers for `item`. Leaves other methods
    ("thread") and other threads to pytest-timeout.

    After the first alarm, both repeat (every `REPEAT_SECONDS`, or the limit if it is
    longer) until the test ends, in case the learner's code caught it; every repeat
    raises the first report again, so the line names where the test was stopped, not
    where the clean-up after it happened to be."""
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None
    limit = float(settings.timeout)
    wall = limit * WALL_FACTOR
    first: list[TimeLimit] = []

    def alarm(seconds: float, waiting: bool):
        def handler(signum, frame):
            if not _active or _in_gc_callback(frame):
                return
            if not first:
                first.append(stopped_at(frame, seconds, waiting))
            raise TimeLimit(first[0].message, first[0].function, first[0].where)

        return handler

    def cancel():
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        # ignored, not the default: a late SIGPROF would otherwise end the process
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)

    item.cancel_timeout = cancel
    repeat = max(REPEAT_SECONDS, limit)
    signal.signal(signal.SIGPROF, alarm(limit, waiting=False))
    signal.signal(signal.SIGALRM, alarm(wall, waiting=True))
    signal.setitimer(signal.ITIMER_PROF, limit, repeat)
    signal.setitimer(signal.ITIMER_REAL, wall, repeat)
    return True


def ignore_lost_alarms() -> None:
    """A TimeLimit raised where Python can only print it as "Exception ignored" (a
    `__del__`, a weakref callback) is not a problem of its own: the repeated alarm
    stops the test a moment later. Keep it out of pytest's unraisable-exception
    report, which the suite turns into an error."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if not isinstance(unraisable.exc_value, TimeLimit):
            previous(unraisable)

    sys.unraisablehook = hook


def seconds_for(item) -> float | None:
    """The processor seconds `item` may use (None: no limit), as pytest-timeout
    settles it: the test's marker, else --timeout, else pyproject's `timeout`."""
    import pytest_timeout

    seconds = pytest_timeout._get_item_settings(item).timeout
    return float(seconds) if seconds else None


def wall_limit(item) -> float | None:
    """The wall-clock seconds `item` may take (None: no limit)."""
    seconds = seconds_for(item)
    return seconds * WALL_FACTOR if seconds else None


def kata_limits(items) -> None:
    """Give each kata test without a marker of its own its kata's `time_limit` from
    the manifest (else the default), times `hypothesis_scale` for property tests.
    Other tests (tooling, lab, doctests) run whole commands in subprocesses and get
    `OTHER_TESTS`, only so that nothing can hang for ever."""
    scale = hypothesis_scale()
    limits = {k.name: k.time_limit for k in manifest.KATAS}
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        default = seconds_for(item)
        kata = kata_of(item.nodeid)
        seconds = (limits.get(kata) or default) if kata else OTHER_TESTS
        if seconds and getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            seconds *= scale
        if seconds and seconds != default:
            item.add_marker(pytest.mark.timeout(seconds))


def hypothesis_scale() -> float:
    """How many times more examples the current hypothesis profile runs than the
    learner's `fast` one (make check's `thorough`: 150 / 12): a property test's limit
    grows with it, so the limit means the same thing under both."""
    try:
        from hypothesis import settings

        return max(1.0, settings.default.max_examples / settings.get_profile("fast").max_examples)
    except Exception:  # no `fast` profile registered: nothing to compare with
        return 1.0


def _inside():
    """Let the alarms fire while one phase of a test (setup, call, teardown) runs."""
    global _active
    _active = True
    try:
        return (yield)
    finally:
        _active = False


class Guard:
    """The pytest side: pytest-timeout's timer hook, and the switch that lets the
    alarms fire only inside a test's phases."""

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        ignore_lost_alarms()  # after pytest's own hook is in place

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        kata_limits(items)

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_set_timer(self, item, settings):
        return set_timer(item, settings)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item):
        return (yield from _inside())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item):
        return (yield from _inside())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item):
        return (yield from _inside())

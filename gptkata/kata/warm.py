"""One warm process, a fresh child for every check: feedback in well under a second.

Starting Python and importing torch, pytest and hypothesis takes longer than most
kata tests do. `warm_up` imports them once (with the test helpers, the reference
solutions, and the part of torch that the first optimizer pulls in); `check` then
runs a kata's tests in a child made with os.fork. The child starts with all of that
already in memory, but never with the learner's module: the parent does not import
exercises/, so each check imports the file as it is on disk now. A kata whose tests
took long last time is split between two children, one per core (`split`).

The child is the only process that runs learner code, so nothing it does reaches the
watcher:

  a crash (a segfault, os._exit, sys.exit)   the child is gone without its report:
                                             `CheckFailed` says how it ended
  an endless loop                            at the time limit faulthandler writes
                                             the child's stack (which names the
                                             learner's line), and the child is killed
  a save while a check runs                  `interrupted()` is asked every few
                                             milliseconds: the child is killed and
                                             the check starts over

POSIX only (os.fork): `make watch` runs there; `make test` and `make progress`
start a new Python instead.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import os
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, recorder, supervisor
from gptkata.kata.results import Result

LIMIT_SECONDS = 60.0  # a kata's whole check; GPTKATA_CHECK_SECONDS overrides it
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<name>\S+)')


class CheckFailed(Exception):
    """A check that ended without its results: killed at the time limit, crashed,
    or exited early. The message is one line that says what happened and where."""


class Interrupted(Exception):
    """A check stopped because the learner saved again while it ran."""


def limit() -> float:
    try:
        return float(os.environ.get("GPTKATA_CHECK_SECONDS", LIMIT_SECONDS))
    except ValueError:
        return LIMIT_SECONDS


def warm_up() -> None:
    """Import once what every check needs, so that no child imports it again."""
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import torch

    torch.set_num_threads(1)  # as the tests run; no thread pool to lose in a fork
    import _pytest.config
    import hypothesis.extra.pytestplugin  # noqa: F401
    import pytest_timeout  # noqa: F401

    for plugin in _pytest.config.default_plugins:  # what pytest.main would import
        importlib.import_module(f"_pytest.{plugin}")

    from gptkata.kata import select

    if str(paths.ROOT) not in sys.path:  # the tests package, as pytest finds it
        sys.path.insert(0, str(paths.ROOT))
    import tests.conftest  # noqa: F401
    import tests.expect  # noqa: F401
    import tests.strategies  # noqa: F401

    for kata in manifest.KATAS:  # the reference: what CHAIN=reference builds on
        try:
            select.load("solutions", kata.name)
        except select.KataBroken:
            pass
    _prepare_corpus()
    # the first optimizer makes torch import torch._dynamo (0.75 s): once, here
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    # Everything imported so far lives as long as the watcher: gc.freeze keeps the
    # collector from walking it again in every child (pytest collects twice at its
    # end, 50 ms over torch's objects), and keeps the pages shared after the fork.
    gc.collect()
    gc.freeze()


def _prepare_corpus() -> None:
    """The corpus as the reference tokenizer and batching prepare it (0.15 s): once,
    here, for every check whose tests would build the same (tests.conftest.WARM)."""
    import tests.conftest as conftest
    from gptkata.data import read_corpus
    from gptkata.kata import select

    try:
        text = read_corpus()
        tokenizer = select.load("solutions", "tokenizer")
        batching = select.load("solutions", "batching")
        prepared = conftest.prepare_corpus(text, tokenizer, batching)
    except Exception:  # no corpus, or no reference in this edition: each check makes its own
        return
    conftest.WARM.update(text=text, tokenizer=tokenizer, batching=batching, prepared=prepared)


class _Now:
    """A pytest plugin for the child: notes which test is running, for a hang's report."""

    def __init__(self, path: Path):
        self.path = path

    def pytest_runtest_logstart(self, nodeid, location):
        self.path.write_text(nodeid)


def _child(
    files: list[str], folder: Path, chain: str, impl: str, seconds: float, record: dict
) -> None:
    """Run pytest on `files`, its record going to the inherited descriptors named in
    `record` (gptkata.kata.recorder), and exit; never returns."""
    code = 70
    try:
        os.setpgid(0, 0)  # its own group: killed together with anything it started
        supervisor.limit_processes()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        log = os.open(folder / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.chdir(paths.ROOT)
        os.environ.pop("GPTKATA_REPORT", None)
        os.environ.update(GPTKATA_IMPL=impl, GPTKATA_CHAIN=chain, **record)
        stacks = open(folder / "stack.txt", "w")  # noqa: SIM115 - open until the exit
        faulthandler.dump_traceback_later(seconds, exit=True, file=stacks)
        import pytest

        # pytest's own faulthandler plugin cancels the pending dump at the first failure
        # (a time limit in an earlier test), so it is left out: the dump must stay armed.
        args = ["-p", "no:cacheprovider", "-p", "no:faulthandler", *files]
        code = int(pytest.main(args, plugins=[_Now(folder / "now")]))
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: B036 - whatever happens, the child must exit here
        code = 70
    finally:
        os._exit(code)


def _learner_frame(stack: str) -> str:
    """'exercises/tokenizer.py:36 in build_vocab' from faulthandler's stack dump."""
    package = str(paths.ROOT / "exercises")
    for match in _FRAME.finditer(stack):  # the most recent call comes first
        if match["file"].startswith(package + os.sep):
            file = paths.shown(match["file"])
            return f"{file}:{match['line']} in {match['name']}"
    return ""


def _stop(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def check(
    katas: tuple[manifest.Kata, ...],
    chain: str = "reference",
    impl: str = "exercises",
    seconds: float | None = None,
    interrupted: Callable[[], bool] | None = None,
) -> list[Result]:
    """Run the tests of `katas` in fresh children of this process and return their
    results, in the order of the test files. Raises CheckFailed if a child does not
    finish with a report, and Interrupted when `interrupted()` turns true while they
    run.

    Once a check has timed the tests, a kata whose tests take long is split between
    two children (`split`), one per core: the kata with a short training run in its
    tests gets its verdict in the time of the longest part instead of the sum."""
    seconds = limit() if seconds is None else seconds
    files = [str(k.test_file.relative_to(paths.ROOT)) for k in katas if k.test_file.is_file()]
    names = ", ".join(k.name for k in katas)
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="gptkata-check-") as scratch:
        runs = []  # (pid, folder, its record) of each child
        try:
            for part, args in enumerate(split(files)):
                folder = Path(scratch) / str(part)
                folder.mkdir()
                runs.append(_fork(args, folder, chain, impl, seconds))
            statuses = _wait(runs, seconds, names, interrupted)
        except BaseException:
            for pid, _, records in runs:
                _stop(pid)
                os.close(records.fd)
            raise
        results = []
        for (pid, folder, records), status in zip(runs, statuses, strict=True):
            _stop(pid)  # anything it left running goes with its group
            os.close(records.fd)
            code = os.waitstatus_to_exitcode(status) if status != -1 else None
            if records.forged:
                raise CheckFailed(f"the tests of {names} were tampered with: {records.forged}")
            if code in (0, 1, 5) and any("complete" in r for r in records.records):
                results += [Result(**r["result"]) for r in records.records if "result" in r]
                continue
            raise CheckFailed(_failure(names, folder, code, seconds))
    return _merged(results)


def _fork(args: list[str], folder: Path, chain: str, impl: str, seconds: float) -> tuple:
    """Start one child on `args` with a record pipe and its key, as the runner does."""
    key = secrets.token_bytes(recorder.KEY_BYTES)
    read_end, write_end = os.pipe()
    key_read, key_write = os.pipe()
    os.write(key_write, key)
    os.close(key_write)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        record = {recorder.RECORD_FD: str(write_end), recorder.KEY_FD: str(key_read)}
        record[recorder.GUARD] = "fingerprint"
        _child(args, folder, chain, impl, seconds, record)
    os.close(write_end)
    os.close(key_read)
    return pid, folder, supervisor.Records(read_end, key)


# Each test's last duration and place in its file, from the checks so far (nodeid ->).
_TIMES: dict[str, float] = {}
_ORDER: dict[str, int] = {}
SPLIT_SECONDS = 0.25  # tests that take longer than this together are split in two


def split(files: list[str]) -> list[list[str]]:
    """pytest's arguments for each child: all of `files` in one child, or, once their
    tests have been timed and take more than SPLIT_SECONDS together, two children of
    about equal time (the longest test first, each to the lighter one)."""
    prefixes = tuple(f"{f}::" for f in files)
    timed = sorted(
        ((t, nodeid) for nodeid, t in _TIMES.items() if nodeid.startswith(prefixes)),
        reverse=True,
    )
    if len(timed) < 2 or sum(t for t, _ in timed) <= SPLIT_SECONDS:
        return [files]
    parts: list[list[str]] = [[], []]
    load = [0.0, 0.0]
    for t, nodeid in timed:
        lighter = load.index(min(load))
        parts[lighter].append(nodeid)
        load[lighter] += t
    # each child runs the files without the other child's tests; a test not timed yet
    # runs in both, and `_merged` keeps one of its results
    return [[*files, *(f"--deselect={n}" for n in parts[1 - i])] for i in range(2)]


def remember(results: list[Result]) -> None:
    """Note the durations and the order of `results`, one run of each test in file
    order (a single child's, or a cached run's), for the next `split`."""
    for result in results:
        _ORDER.setdefault(result.nodeid, len(_ORDER))
        _TIMES[result.nodeid] = result.seconds


def _merged(results: list[Result]) -> list[Result]:
    """The children's results as one run in file order, each test once."""
    seen: dict[str, Result] = {}
    for result in results:
        seen.setdefault(result.nodeid, result)
    # a test not seen before keeps its place among the others (a stable sort)
    ordered = sorted(seen.values(), key=lambda r: _ORDER.get(r.nodeid, len(_ORDER)))
    remember(ordered)
    return ordered


def _wait(runs: list[tuple], seconds: float, names: str, interrupted) -> list[int]:
    """Wait for every child, reading its record as it comes (a full pipe would stop
    it); their wait statuses (-1 for one stopped at the deadline)."""
    deadline = time.monotonic() + seconds + 2.0  # faulthandler ends them first
    pids = [pid for pid, _, _ in runs]
    statuses: dict[int, int] = {}
    while len(statuses) < len(pids):
        for pid, _, records in runs:
            records.read(0)
            if pid in statuses:
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                statuses[pid] = status
                while not records.closed and records.read(0.2):
                    pass  # what is left in the pipe
        if len(statuses) == len(pids):
            break
        if time.monotonic() > deadline:
            for pid in pids:
                if pid not in statuses:
                    _stop(pid)
                    statuses[pid] = -1
            break
        if interrupted is not None and interrupted():
            raise Interrupted(names)
        time.sleep(0.005)
    return [statuses[pid] for pid in pids]


def _failure(names: str, folder: Path, code: int | None, seconds: float) -> str:
    """One line: how the check of `names` ended, and where it was."""
    stack = (folder / "stack.txt").read_text() if (folder / "stack.txt").is_file() else ""
    test = (folder / "now").read_text() if (folder / "now").is_file() else ""
    test = test.rsplit("::", 1)[-1]
    during = f" during {test}" if test else ""
    if stack.strip():
        where = _learner_frame(stack)
        at = f", last at {where}" if where else ""
        return (
            f"the tests of {names} did not finish within {seconds:g} s{during}{at}: "
            "an endless loop? (stopped; save a fix to rerun)"
        )
    if code is None:
        return f"the tests of {names} did not finish within {seconds:g} s{during} (stopped)"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        return f"the tests of {names} crashed{during} (signal {name}): save a fix to rerun"
    return (
        f"the tests of {names} ended early{during} (exit code {code}) before reporting: "
        "does your code call exit() or os._exit()?"
    )

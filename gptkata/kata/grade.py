"""`make grade SUBMISSIONS=<dir> [OUT=grades/] [JOBS=n] [TIMEOUT=s]`: grade a class.

Every subfolder of SUBMISSIONS is one student's copy: a whole clone, or just its
exercises/. Only the student's exercises/*.py are used; each is graded inside its own
scratch copy of the pristine harness, tests and solutions (copied once from this
repository), so nothing of a student's tests, Makefile or harness ever runs, and the
submissions themselves are only read.

How it runs: this process imports torch, pytest and hypothesis once, then forks one
child per submission (JOBS at a time). The child limits itself, installs the guards of
gptkata.kata.sandbox, and runs the kata suite with pytest; each test's result goes to a
results file line by line. The parent watches the clock: a kata whose tests run past
TIMEOUT seconds is killed and graded `timed out`, and a fresh child grades the katas
after it. The same happens after a kata that tampered with the harness, or a process
that ended on its own (os._exit, a crash): the kata is graded, the rest go on.

Per kata: done, in progress (k of n), not started, broken (the import error and its
file:line), timed out, tampered. The outputs (gptkata.kata.grade_report) land in OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gptkata import paths
from gptkata.kata import grade_report, manifest, sandbox
from gptkata.kata.results import kata_of

HARNESS = ("gptkata", "tests", "solutions", "pyproject.toml")  # the parts of a scratch copy
KEPT_OUT = ("lab", "tooling", "__pycache__", "pristine")  # never needed to grade


@dataclass
class Submission:
    """One student's work and everything learned about it while grading."""

    name: str
    exercises: Path
    left: list[str]  # the katas still to grade, in order
    tests: dict[str, list[dict]] = field(default_factory=dict)  # kata -> its test results
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # kata -> (state, why)
    starts: int = 0


@dataclass
class Child:
    submission: Submission
    pid: int
    results: Path
    kata: str
    since: float
    offset: int = 0
    started: bool = False  # its first test has begun (until then: starting up, collecting)
    ended: bool = False
    tampered: str = ""


def submissions(folder: Path, katas: list[str]) -> list[Submission]:
    """Every subfolder of `folder`: its exercises/ if it has one, else itself."""
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS={folder} is not a folder of students' copies")
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        exercises = sub / "exercises" if (sub / "exercises").is_dir() else sub
        found.append(Submission(sub.name, exercises, list(katas)))
    if not found:
        raise ValueError(f"SUBMISSIONS={folder} has no subfolders: one folder per student")
    return found


def pristine_harness(target: Path) -> Path:
    """A copy of this repository's harness, tests and solutions, with pristine stubs."""
    ignore = shutil.ignore_patterns(*KEPT_OUT)
    for name in HARNESS:
        source = paths.ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    (target / "exercises").mkdir()
    shutil.copy2(paths.EXERCISES / "__init__.py", target / "exercises" / "__init__.py")
    from gptkata.kata import stubs

    for kata in manifest.KATAS:
        (target / "exercises" / f"{kata.module}.py").write_text(stubs.stub_source(kata))
    return target


def scratch_for(submission: Submission, harness: Path, under: Path) -> Path:
    """A fresh scratch copy of the harness with the student's exercises/*.py in it."""
    submission.starts += 1
    scratch = under / f"{submission.name}-{submission.starts}"
    shutil.copytree(harness, scratch, symlinks=True)
    (scratch / "data").symlink_to(paths.DATA.resolve(), target_is_directory=True)
    for kata in manifest.KATAS:
        theirs = submission.exercises / f"{kata.module}.py"
        if theirs.is_file() and not theirs.is_symlink():
            shutil.copyfile(theirs, scratch / "exercises" / theirs.name)
    for other in submission.exercises.glob("*.py"):  # helpers a student's kata imports
        target = scratch / "exercises" / other.name
        if not target.exists() and not other.is_symlink() and other.is_file():
            shutil.copyfile(other, target)
    (scratch / "tmp").mkdir()
    return scratch


class _Reporter:
    """The grader's pytest plugin inside the child: one JSON line per event."""

    def __init__(self, out, katas: list[str]):
        self.out, self.katas, self.kata, self.before = out, katas, None, None

    def _write(self, **event) -> None:
        self.out.write(json.dumps(event) + "\n")
        self.out.flush()

    def _check(self) -> bool:
        changed = sandbox.changes(self.before, (self,))
        if changed and self.kata:
            self._write(event="tampered", kata=self.kata, what=", ".join(changed[:3]))
        return bool(changed)

    def pytest_collection_finish(self, session):
        select = sys.modules["gptkata.kata.select"]  # the scratch copy's, as the tests use it
        for name in self.katas:  # the references, loaded before any student code runs
            if select.provided(name, "solutions"):
                select.load("solutions", name)
        self.before = sandbox.fingerprint((self,))
        self.session = session

    def pytest_runtest_logstart(self, nodeid, location):
        kata = kata_of(nodeid)
        if kata != self.kata:
            if self.kata and self._check():
                os._exit(3)  # nothing after a tampering kata runs in this process
            self.kata = kata
            self._write(event="kata", kata=kata)

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            described = getattr(report, "gptkata", {})
            text = str(report.longrepr or "") if not report.passed else ""
            message = described.get("message") or (text.strip().splitlines() or [""])[0]
            outcome = described.get("outcome", report.outcome)
            test = report.nodeid.rsplit("::", 1)[-1]
            self._write(
                event="test",
                kata=kata_of(report.nodeid),
                test=test,
                status=outcome,
                message=message,
                bad_input="bad_input" in report.keywords,
            )

    def pytest_sessionfinish(self, session, exitstatus):
        if not self._check():
            self._write(event="end")


def _child(scratch: Path, katas: list[str], results: Path, memory_mb: int) -> None:
    """Inside the forked child: never returns."""
    code = 1
    try:
        out = results.open("a", encoding="utf-8")
        log = os.open(scratch / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(scratch)
        for name in list(sys.modules):  # the scratch copy's harness, not this repository's
            if name.split(".")[0] in ("gptkata", "tests", "solutions", "exercises", "gptkata_impl"):
                del sys.modules[name]
        sys.path.insert(0, str(scratch))
        sys.dont_write_bytecode = True
        os.environ.update(
            GPTKATA_IMPL="exercises",
            GPTKATA_CHAIN="reference",
            HYPOTHESIS_PROFILE="fast",
            TMPDIR=str(scratch / "tmp"),
            HOME=str(scratch / "tmp"),
        )
        os.environ.pop("GPTKATA_REPORT", None)
        tempfile.tempdir = str(scratch / "tmp")
        import pytest

        files = [f"tests/katas/test_{name}.py" for name in katas]
        protected = tuple(scratch / part for part in (*HARNESS, "data", "exercises/__init__.py"))
        sandbox.limit_resources(memory_mb)
        sandbox.install_guards(scratch, protected)
        pytest.main([*files, "-p", "no:cacheprovider", "-q"], plugins=[_Reporter(out, katas)])
        code = 0
    finally:
        os._exit(code)


def _start(sub: Submission, harness: Path, work: Path, memory_mb: int) -> Child:
    scratch = scratch_for(sub, harness, work)
    results = work / f"{sub.name}-{sub.starts}.jsonl"
    results.touch()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(scratch, sub.left, results, memory_mb)
    return Child(sub, pid, results, sub.left[0], time.monotonic())


def _read(child: Child) -> None:
    """Take in the events the child wrote since the last look."""
    with child.results.open(encoding="utf-8") as f:
        f.seek(child.offset)
        chunk = f.read()
    complete = chunk[: chunk.rfind("\n") + 1]
    child.offset += len(complete.encode("utf-8"))
    sub = child.submission
    for line in complete.splitlines():
        event = json.loads(line)
        if event["event"] == "kata":
            if event["kata"] != child.kata and child.kata in sub.left:
                sub.left.remove(child.kata)  # the kata before is complete
            child.kata, child.since, child.started = event["kata"], time.monotonic(), True
        elif event["event"] == "test" and event.get("kata"):
            sub.tests.setdefault(event["kata"], []).append(
                {k: event.get(k, False) for k in ("test", "status", "message", "bad_input")}
            )
        elif event["event"] == "tampered":
            child.tampered = event["what"]
        elif event["event"] == "end":
            child.ended = True


def _finish(child: Child, why: str) -> None:
    """After the child is gone: the kata it was in gets its verdict, unless it ended well."""
    sub = child.submission
    _read(child)
    if child.ended:
        sub.left.clear()
        return
    kata = child.kata
    if child.tampered:
        verdict = ("tampered", f"the harness was changed while its tests ran: {child.tampered}")
    elif why == "timeout":
        verdict = ("timed out", "its tests ran past the time limit and were stopped")
    else:
        verdict = ("broken", f"the process ended during its tests ({why})")
    sub.verdicts[kata] = verdict
    sub.tests.pop(kata, None)  # what its tests said before cannot be trusted
    if kata in sub.left:
        sub.left.remove(kata)


def grade(
    folder: Path,
    out: Path,
    jobs: int = 2,
    timeout: float = 60.0,
    memory_mb: int = 2048,
    katas: list[str] | None = None,
    bar: grade_report.ProgressBar | None = None,
) -> list[Submission]:
    """Grade every submission in `folder`, write the outputs to `out`; returns them."""
    if not paths.DATA.joinpath("tinyshakespeare.txt").is_file():
        raise ValueError("the corpus is not installed: run make data first")
    names = katas or [k.name for k in manifest.KATAS if k.test_file.is_file()]
    for name in names:
        manifest.get(name)
    todo = submissions(folder, names)
    queue, running = list(todo), []
    if bar:
        bar.start(len(todo))
    startup = max(timeout, 60.0)  # a child's start: the copy, pytest, collecting the tests
    # imported once here and shared by every child; torch._dynamo too, which the first
    # optimizer imports and which wraps torch.manual_seed (a change the fingerprint sees)
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torch.optim  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="gptkata-grade-") as scratch:
        work = Path(scratch)
        harness = pristine_harness(work / "harness")
        while queue or running:
            while queue and len(running) < jobs:
                sub = queue.pop(0)
                running.append(_start(sub, harness, work, memory_mb))
            time.sleep(0.05)
            for child in list(running):
                _read(child)
                waited, status = os.waitpid(child.pid, os.WNOHANG)
                why = ""
                if waited:
                    why = _exit_words(status)
                elif time.monotonic() - child.since > (timeout if child.started else startup):
                    os.kill(child.pid, signal.SIGKILL)
                    os.waitpid(child.pid, 0)
                    why = "timeout"
                if why:
                    running.remove(child)
                    _finish(child, why)
                    if child.submission.left:
                        queue.insert(0, child.submission)
                    elif bar:
                        bar.step()
    out.mkdir(parents=True, exist_ok=True)
    grade_report.write(todo, names, out)
    return todo


def _exit_words(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gptkata grade", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--submissions", required=True, type=Path, help="one subfolder per student")
    parser.add_argument("--out", default=Path("grades"), type=Path, help="where the grades go")
    parser.add_argument(
        "--jobs", default=os.cpu_count() or 1, type=int, help="submissions at a time"
    )
    parser.add_argument(
        "--timeout", default=60.0, type=float, help="seconds one kata's tests may take"
    )
    parser.add_argument("--memory-mb", default=2048, type=int, help="memory of one submission")
    parser.add_argument("--kata", action="append", help="grade only this kata (repeatable)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    bar = grade_report.ProgressBar(sys.stderr)
    try:
        graded = grade(
            args.submissions,
            args.out,
            max(1, args.jobs),
            args.timeout,
            args.memory_mb,
            args.kata,
            bar,
        )
    except ValueError as error:
        print(f"make grade: {error}", file=sys.stderr)
        return 2
    bar.close()
    print("\n".join(grade_report.table(graded, args.kata or [k.name for k in manifest.KATAS])))
    seconds = time.monotonic() - started
    print(
        f"\n{len(graded)} submissions graded in {seconds:.0f} s; see {args.out}/ "
        "(grades.csv, grades.json, junit/<student>.xml)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

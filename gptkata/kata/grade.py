"""`make grade SUBMISSIONS=<dir>`: grade a class, each submission in a sandbox.

Every subfolder of SUBMISSIONS is one student's copy: a whole clone, or just its
exercises/. Only the student's exercises/*.py are used, and the submissions are only
read. Each submission is graded exactly as its student edition runs it: its scratch
copy is the edition (`make release`'s layout, with the references named in
SOLUTIONS= and no others) with the student's exercises/ dropped in, so a student's own
`make test` in the edition gives the same state, kata for kata. With CHAIN=reference
each kata is graded on its own, built on the references of the katas before it (never
its own): partial credit that does not depend on the earlier katas.

The tests run through the one runner (gptkata.kata.runner), inside a bubblewrap
sandbox (gptkata.kata.isolation): no other student's folder, no submissions folder,
no solutions beyond the edition's, no output folder, no network, a process namespace
and process-count limit, a memory limit. Each job keeps one warm sandbox
(gptkata.kata.slot): every run is a fresh child of a process that has imported torch,
pytest and hypothesis once, and nothing a run leaves behind reaches the next. Every limit that decides a state is
processor time: per test (the kata's own limit), per kata (TIMEOUT=, processor
seconds), with wall-clock backstops many times longer. A kata whose tests end the
process (os._exit, a crash), run past its limit, or tamper with the harness is graded
broken, timed out or tampered, and a fresh run grades the katas after it.

ISOLATION=none grades without the sandbox, with the in-process guards only; the
outputs say "not isolated". Per kata: done, in progress (k of n), not started,
broken (the error and its file:line), timed out, tampered. The outputs
(gptkata.kata.grade_report) land in OUT (default grades/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gptkata import paths
from gptkata.kata import grade_report, isolation, manifest, release, roster, runner, scan, slot
from gptkata.kata.results import kata_of

BIGGEST_FILE = 1 << 20  # bytes: a student's file larger than this is left out
CHAINS = ("edition", "reference")


@dataclass
class Submission:
    """One student's work and everything learned about it while grading."""

    name: str
    exercises: Path
    tests: dict[str, list[dict]] = field(default_factory=dict)  # kata -> its test results
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # kata -> (state, why)
    flags: list[dict] = field(default_factory=list)
    starts: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


@dataclass
class Course:
    """What every submission is graded with: the edition, the limits, the sandbox."""

    edition: Path
    work: Path
    katas: list[str]
    chain: str = "edition"
    isolated: bool = True
    kata_cpu: float = 60.0
    memory_mb: int = 2048


def submissions(folder: Path) -> list[Submission]:
    """Every subfolder of `folder`: its exercises/ if it has one, else itself."""
    if not folder.is_dir():
        raise ValueError(
            f"SUBMISSIONS={folder} is not a folder of students' copies:"
            " make grade SUBMISSIONS=<folder with one subfolder per student>"
        )
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        exercises = sub / "exercises" if (sub / "exercises").is_dir() else sub
        found.append(Submission(sub.name, exercises, flags=scan.flags(exercises)))
    if not found:
        raise ValueError(f"SUBMISSIONS={folder} has no subfolders: one folder per student")
    return found


def build_edition(target: Path, solutions: list[str], katas: list[str]) -> dict[str, int]:
    """Write the student edition every submission is graded in, compile its bytecode once
    (the sandbox reads it and writes none) by collecting its tests, and return how many
    tests each of `katas` has."""
    release.release(target, solutions)
    (target / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + [f"tests/katas/test_{k}.py" for k in katas],
        cwd=target,
        env=dict(os.environ, GPTKATA_IMPL="exercises", PYTHONDONTWRITEBYTECODE=""),
        capture_output=True,
        text=True,
        timeout=600,
    )
    counts = dict.fromkeys(katas, 0)
    for line in done.stdout.splitlines():  # "tests/katas/test_x.py: 13" under -qq
        kata, _, number = line.rpartition(": ")
        if kata_of(kata) in counts and number.isdigit():
            counts[kata_of(kata)] = int(number)
    return counts


def _exercises(sub: Submission, course: Course) -> Path:
    """The edition's exercises/ with the student's own files over it, for one run."""
    sub.starts += 1
    mine = course.work / f"{sub.name}-{sub.starts}-exercises"
    shutil.copytree(course.edition / "exercises", mine)
    for theirs in sub.exercises.glob("*.py"):
        if theirs.is_file() and not theirs.is_symlink() and theirs.stat().st_size <= BIGGEST_FILE:
            shutil.copyfile(theirs, mine / theirs.name)
    return mine


def new_slot(course: Course, number: int) -> slot.Slot:
    """A warm sandbox for one job: the edition's harness and the corpus, read-only."""
    edition = course.edition
    binds = {
        edition / "gptkata": "gptkata",
        edition / "tests": "tests",
        edition / "pyproject.toml": "pyproject.toml",
        (paths.DATA / "tinyshakespeare.txt").resolve(): "data/tinyshakespeare.txt",
    }
    return slot.Slot(course.work / f"slot-{number}", binds, course.memory_mb)


def _run(sub: Submission, course: Course, katas: list[str], solutions: Path, job) -> list[str]:
    """Run the tests of `katas` once (in the job's warm sandbox, or unisolated); returns
    the katas still to grade (those after a kata that ended the process)."""
    mine = _exercises(sub, course)
    targets = [f"tests/katas/test_{k}.py" for k in katas]
    args = ["-p", "no:cacheprovider", "-q"]
    if course.isolated:
        job.fill(mine, solutions)
        outcome = runner.run(targets, args, capture=True, sandbox=job, kata_cpu=course.kata_cpu)
    else:
        outcome = _run_unisolated(targets, args, mine, course, solutions)
    shutil.rmtree(mine)
    sub.cpu_seconds += outcome.cpu_seconds
    sub.wall_seconds += outcome.wall_seconds
    for result in outcome.results:
        entry = dict(
            test=result.nodeid.rsplit("::", 1)[-1],
            status=result.outcome,
            message=result.message,
            bad_input=result.bad_input,
        )
        sub.tests.setdefault(result.kata, []).append(entry)
    if outcome.complete and not outcome.stopped:
        return []
    kata = kata_of(outcome.stopped_in or "") or katas[0]
    sub.verdicts[kata] = _verdict(outcome, sub, kata)
    sub.tests.pop(kata, None)  # what its tests said before cannot be trusted
    return katas[katas.index(kata) + 1 :]


def _verdict(outcome: runner.Run, sub: Submission, kata: str) -> tuple[str, str]:
    """The state of the kata that ended the run, and why, with the flagged lines of its
    file (an exit that skips the recorder leaves no other trace of its line)."""
    if outcome.tampered:
        return "tampered", outcome.tampered
    if outcome.timed_out:
        return "timed out", outcome.stopped or "its tests ran past the kata's limit"
    module = manifest.get(kata).module
    seen = [
        f"{f['file']}:{f['line']} {f['what']}"
        for f in sub.flags
        if f["file"].endswith(f"/{module}.py")
    ]
    look = f"; look at {', '.join(seen[:2])}" if seen else ""
    return "broken", f"{outcome.stopped or 'the test process ended early'}{look}"


def _run_unisolated(targets, args, mine: Path, course: Course, solutions: Path) -> runner.Run:
    """ISOLATION=none: the edition copied into a scratch folder, run by the runner
    with the in-process guards of gptkata.kata.sandbox only."""
    scratch = mine.with_name(mine.name.removesuffix("-exercises"))
    scratch.mkdir()
    for name in ("gptkata", "tests"):
        shutil.copytree(course.edition / name, scratch / name, symlinks=True)
    shutil.copy2(course.edition / "pyproject.toml", scratch / "pyproject.toml")
    shutil.copytree(solutions, scratch / "solutions")
    shutil.copytree(mine, scratch / "exercises")
    (scratch / "data").mkdir()
    (scratch / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    return runner.run(
        targets, args, capture=True, kata_cpu=course.kata_cpu, root=scratch, guarded=True
    )


def grade_one(sub: Submission, course: Course, job: slot.Slot | None = None) -> None:
    """Every kata of one submission, in `job` (the warm sandbox of the job grading it;
    None without isolation): in one run and its restarts (the edition), or a run per
    kata, each with the references of the katas before it (CHAIN=reference)."""
    if course.chain == "reference":
        for number, kata in enumerate(course.katas):
            _run(sub, course, [kata], _references(course, number), job)
        return
    left = list(course.katas)
    while left:
        left = _run(sub, course, left, course.edition / "solutions", job)


def _references(course: Course, number: int) -> Path:
    """A solutions folder with the references of the katas before the `number`th."""
    folder = course.work / f"references-{number}"
    if not folder.is_dir():
        folder.mkdir()
        shutil.copy2(paths.SOLUTIONS / "__init__.py", folder / "__init__.py")
        for kata in manifest.KATAS[: manifest.get(course.katas[number]).number - 1]:
            shutil.copy2(kata.solution_file, folder / f"{kata.module}.py")
    return folder


def grade(
    folder: Path,
    out: Path,
    jobs: int = 2,
    course: dict | None = None,
    solutions: list[str] = (),
    names: list[str] | None = None,
    bar: grade_report.ProgressBar | None = None,
) -> tuple[list[Submission], dict[str, int]]:
    """Grade every submission in `folder`; returns them and each kata's test count.
    `course` holds Course's settings (chain, isolated, kata_cpu, memory_mb)."""
    if not paths.DATA.joinpath("tinyshakespeare.txt").is_file():
        raise ValueError("the corpus is not installed: run make data first")
    katas = names or [k.name for k in manifest.KATAS if k.test_file.is_file()]
    for name in katas:
        manifest.get(name)
    todo = submissions(folder)
    settings = dict(course or {})
    if settings.get("isolated", True):
        isolation.check_outside(SUBMISSIONS=folder, OUT=out)
    with tempfile.TemporaryDirectory(prefix="gptkata-grade-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o755)  # the sandbox's user passes through it
        if settings.get("isolated", True):
            probe = work / "probe"
            probe.mkdir()
            isolation.probe(probe)
        totals = build_edition(work / "edition", list(solutions), katas)
        setup = Course(work / "edition", work, katas, **settings)
        if setup.chain == "reference":  # made here, before the workers share them
            for number in range(len(katas)):
                _references(setup, number)
        _grade_all(todo, setup, jobs, bar)
    return todo, totals


def _grade_all(todo: list[Submission], course: Course, jobs: int, bar) -> None:
    """JOBS threads, each grading one submission at a time (the work is in the children)."""
    queue, lock, errors = list(todo), threading.Lock(), []
    if bar:
        bar.start(len(todo))

    def worker(number: int) -> None:
        job = None
        try:
            job = new_slot(course, number) if course.isolated else None
            while True:
                with lock:
                    if not queue:
                        return
                    sub = queue.pop(0)
                grade_one(sub, course, job)
                if bar:
                    with lock:
                        bar.step()
        except BaseException as error:  # noqa: B036 - said by the main thread below
            errors.append(error)
        finally:
            if job is not None:
                job.close()  # from the thread that started it: bwrap dies with its thread

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gptkata grade", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--submissions", default="", help="one subfolder per student")
    parser.add_argument("--out", default=Path("grades"), type=Path, help="where the grades go")
    parser.add_argument("--jobs", default=os.cpu_count() or 1, type=int)
    parser.add_argument("--timeout", default=60.0, type=float, help="CPU seconds per kata")
    parser.add_argument("--memory-mb", default=2048, type=int, help="memory of one submission")
    parser.add_argument("--kata", action="append", help="grade only this kata (repeatable)")
    parser.add_argument("--chain", default="edition", choices=CHAINS)
    parser.add_argument("--solutions", default="", help="the references the edition has")
    parser.add_argument("--roster", type=Path, help="CSV: folder, student id, name, email")
    parser.add_argument("--isolation", default="bubblewrap", choices=("bubblewrap", "none"))
    args = parser.parse_args(argv)
    if not args.submissions:
        print(
            "make grade: name the class: make grade SUBMISSIONS=<folder with one subfolder"
            " per student>",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    bar = grade_report.ProgressBar(sys.stderr)
    course = dict(
        chain=args.chain,
        isolated=args.isolation != "none",
        kata_cpu=args.timeout,
        memory_mb=args.memory_mb,
    )
    try:
        listed = roster.load(args.roster) if args.roster else None
        graded, totals = grade(
            Path(args.submissions),
            args.out,
            max(1, args.jobs),
            course,
            [n for n in args.solutions.split(",") if n],
            args.kata,
            bar,
        )
    except (ValueError, isolation.Unavailable, slot.Broken) as error:
        print(f"make grade: {error}", file=sys.stderr)
        return 2
    bar.close()
    return _finish(graded, totals, args, listed, time.monotonic() - started)


def _finish(graded, totals, args, listed, seconds: float) -> int:
    """Write the outputs and say what was graded."""
    katas = args.kata or [k.name for k in manifest.KATAS if k.test_file.is_file()]
    args.out.mkdir(parents=True, exist_ok=True)
    grade_report.write(
        graded, katas, args.out, totals=totals, isolation=args.isolation, roster=listed
    )
    for problem in listed.problems([s.name for s in graded]) if listed else []:
        print(f"roster: {problem}")
    print("\n".join(grade_report.table(graded, katas, totals=totals, isolation=args.isolation)))
    print(
        f"\n{len(graded)} submissions graded in {seconds:.0f} s; see {args.out}/ "
        "(report.html, grades.csv, grades.json, junit/<student>.xml)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

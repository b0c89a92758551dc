"""How long `make grade` takes for a class: 60 made-up submissions, graded and timed,
each in its own sandbox (bubblewrap must be installed).

    python -m gptkata.kata.grade_bench [--students 60] [--jobs 2]

Each submission mixes, kata by kata, a solved file (the reference), a partial one (the
reference with one function a stub again), the pristine stub, and a broken file (a
SyntaxError at the end), chosen by a seeded generator so every run grades the same
class. Prints the wall time, the seconds per submission, the CPU and the load.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from gptkata.kata import grade, manifest, stubs

KINDS = ("solved", "partial", "stub", "broken")


def kata_file(kata: manifest.Kata, kind: str, rng: random.Random) -> str:
    solution = kata.solution_file.read_text(encoding="utf-8")
    if kind == "solved":
        return solution
    if kind == "stub":
        return stubs.stub_source(kata)
    if kind == "broken":
        return solution + "\ndef oops(:\n"
    functions = [q.split(".")[-1] for q in stubs.stubbed_functions(kata) if q.count(".") == 1]
    if not functions:  # only methods: a partial file is the stub of the whole class
        return stubs.stub_source(kata)
    function = rng.choice(functions)
    return solution + (
        f"\n\ndef {function}(*args, **kwargs):\n"
        f'    raise NotImplementedError("{stubs.PREFIX}{kata.name}.{function}")\n'
    )


def make_class(folder: Path, students: int) -> None:
    for number in range(students):
        rng = random.Random(number)
        exercises = folder / f"student{number:02d}" / "exercises"
        exercises.mkdir(parents=True)
        for kata in manifest.KATAS:
            kind = rng.choices(KINDS, weights=(5, 2, 2, 1))[0]
            (exercises / f"{kata.module}.py").write_text(kata_file(kata, kind, rng))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptkata.kata.grade_bench")
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gptkata-grade-bench-") as folder:
        make_class(Path(folder) / "class", args.students)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        graded, _ = grade.grade(Path(folder) / "class", Path(folder) / "grades", jobs=args.jobs)
        seconds = time.perf_counter() - started
    states = [verdict for sub in graded for verdict in sub.verdicts.values()]
    print(f"{len(graded)} submissions x {len(manifest.KATAS)} katas, JOBS={args.jobs}")
    print(f"wall time {seconds:.1f} s, {seconds / len(graded):.2f} s per submission")
    cpu = sum(sub.cpu_seconds for sub in graded)
    print(
        f"CPU time of the sandboxes {cpu:.1f} s, {cpu / len(graded):.2f} s per submission:"
        f" on {args.jobs} free cores about {cpu / args.jobs:.0f} s for the class"
    )
    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; load average {load_before:.1f} before,"
        f" {os.getloadavg()[0]:.1f} after"
    )
    if states:
        print(f"unexpected verdicts (timed out, tampered, ended): {len(states)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

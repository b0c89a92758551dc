"""Courses for the tests of `make train MINE=1`: copies of the repository whose
exercises are the learner's, and tiny runs of the command in them.

A course is a scratch copy (gptkata.kata.checks.scratch_copy) whose exercises/ are
the reference solutions: a learner who has solved every kata. Its results cache
(.gptkata/results/) travels with its copies, so a copy runs the tests of a kata
again only where a file changed. `mark_done` stores passing results for a kata, as
if its tests had passed: a model that its kata would catch (a bigram in disguise) is
then trained all the same, which shows that the run trains the learner's file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gptkata.kata import checks, manifest
from tests.lab.training_run import run_bounded

# A GPT small enough to train 500 steps in seconds on one thread.
TINY = (
    "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
    "--batch-size", "16", "--eval-interval", "250", "--eval-iters", "2",
    "--final-eval-iters", "10", "--eval-batch-size", "64", "--sample-chars", "24",
    "--warmup-steps", "20", "--learning-rate", "3e-3", "--threads", "1",
)  # fmt: skip
MARK_DONE = """
import sys
from gptkata.kata import cache, manifest
from gptkata.kata.results import Result
for name in sys.argv[1:]:
    kata = manifest.get(name)
    passed = [Result(f"tests/katas/test_{name}.py::test_it", name, "passed", "")]
    cache.store(kata, cache.key(kata, "reference"), passed, "reference")
"""


def solve_every_kata(root: Path) -> Path:
    """Put every kata's reference solution in place of the learner's file."""
    for kata in manifest.KATAS:
        exercise = root / "exercises" / f"{kata.module}.py"
        exercise.write_text(kata.solution_file.read_text(encoding="utf-8"), encoding="utf-8")
    return root


def solved_course(folder: Path) -> Path:
    """A copy of the repository in which every kata is solved."""
    return solve_every_kata(checks.scratch_copy(folder))


def copy_course(course: Path, folder: Path) -> Path:
    """A copy of `course` with its results cache, without its runs."""
    shutil.copytree(course, folder, symlinks=True, ignore=shutil.ignore_patterns("runs"))
    return folder


def edit(root: Path, kata_name: str, right: str, wrong: str) -> None:
    """The learner's file of the kata with `right` (which must be there) replaced by `wrong`."""
    path = root / "exercises" / f"{manifest.get(kata_name).module}.py"
    text = path.read_text(encoding="utf-8")
    assert right in text, f"{right!r} is not in {path}"
    path.write_text(text.replace(right, wrong), encoding="utf-8")


def mark_done(root: Path, *katas: str) -> None:
    """Store passing results for `katas` in the course at `root`, under their keys there."""
    command = [sys.executable, "-c", MARK_DONE, *katas]
    subprocess.run(command, cwd=root, env=learners(), check=True, capture_output=True)


def train_mine(root: Path, corpus: Path, *flags: str, model: str = "gpt", timeout: float = 300):
    """`make train MINE=1 MODEL=<model> ARGS="<TINY> <flags>"` in the course at `root`,
    on `corpus`, in a child process on a leash (tests.lab.training_run.run_bounded)."""
    argv = ("--mine", model, "--data-dir", str(corpus.parent), *TINY, *flags)
    return run_bounded("gptkata.lab.train", *argv, timeout=timeout, root=root, env=learners())


def learners() -> dict[str, str]:
    """The environment of a learner's command: none of the suite's own settings (the
    implementation or chain under test, its time limits), hypothesis's fast profile."""
    own = ("GPTKATA_", "PYTEST_TIMEOUT")
    base = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {**base, "HYPOTHESIS_PROFILE": "fast"}


def read_log(root: Path) -> dict:
    return json.loads((root / "runs" / "mine" / "log.json").read_text(encoding="utf-8"))

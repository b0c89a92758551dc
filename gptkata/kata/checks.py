"""The maintainer checks behind `make check` (besides the suite and the linter).

1. mirror: every kata in the manifest has exercises/<module>.py, solutions/<module>.py
   and tests/katas/test_<name>.py; each exercise file is exactly the stub generated
   from its solution, so both have the same signatures and docstrings; every function
   a learner writes has a docstring to learn from. And the learner writes the concept,
   nothing else: every `raise ValueError` and every weight initialisation (`nn.init`)
   of a solution lies in the part that is given in the exercise (a private function,
   or above the `# -- your code below --` marker; see gptkata.kata.stubs).
2. stubs: the kata suite, run against freshly generated stubs in a scratch copy of the
   repository, passes no concept test at all, and every test that does not pass
   stops at a stub of its own kata with the one-line "not implemented yet:
   <kata>.<function>". This proves no test passes vacuously and that any kata can be
   attempted on its own. Only tests marked `bad_input` may pass there (the given
   validation already raises their ValueError), and a test so marked must check a
   ValueError (`expect.value_error`), so the mark cannot excuse a vacuous test.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, stubs


def mirror_problems() -> list[str]:
    problems = []
    for kata in manifest.KATAS:
        for path in (kata.solution_file, kata.exercise_file, kata.test_file):
            if not path.is_file():
                problems.append(f"{kata.name}: {paths.shown(path)} is missing")
        if not (kata.solution_file.is_file() and kata.exercise_file.is_file()):
            continue
        if not kata.hints:
            problems.append(f"{kata.name}: the manifest has no hints for it")
        solution = kata.solution_file.read_text(encoding="utf-8")
        exercise = kata.exercise_file.read_text(encoding="utf-8")
        wanted, got = stubs.api(solution), stubs.api(exercise)
        for name, (signature, doc) in wanted.items():
            if not doc:
                problems.append(f"{kata.name}.{name} has no docstring in solutions/")
            if name not in got:
                problems.append(f"{kata.name}.{name} is in solutions/ but not in exercises/")
            elif got[name][0] != signature:
                problems.append(
                    f"{kata.name}.{name}: signature {got[name][0]} in exercises/, {signature} in solutions/"
                )
            elif got[name][1] != doc:
                problems.append(
                    f"{kata.name}.{name}: the docstrings of exercises/ and solutions/ differ"
                )
        for name in got.keys() - wanted.keys():
            problems.append(f"{kata.name}.{name} is in exercises/ but not in solutions/")
        problems += given_problems(kata, solution)
        if exercise != stubs.stub_text(solution, kata.name):
            problems.append(
                f"{kata.name}: exercises/{kata.module}.py is not the stub generated from "
                f"solutions/{kata.module}.py (a solved or edited exercise? this check is for "
                f"a pristine clone; maintainers regenerate it with `make reset KATA={kata.name}`)"
            )
    return problems


def _given_only(node: ast.AST) -> str | None:
    """What `node` is when it belongs to the given part of an exercise: a `raise
    ValueError(...)` or a call of a `_check...` helper (input validation), or an
    `nn.init` call (weight initialisation)."""
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id == "ValueError":
            return "raises ValueError (input validation)"
    if isinstance(node, ast.Call):
        called = ast.unparse(node.func)
        if called.rsplit(".", 1)[-1].startswith("_check"):
            return f"calls {called} (input validation)"
        if ".init." in f".{called}":
            return "initialises weights"
    return None


def given_problems(kata: manifest.Kata, solution: str) -> list[str]:
    """Validation or weight initialisation in the part of `solution` that the learner
    writes: the learner writes the concept, nothing else."""
    problems = []
    learner_parts = stubs.cuts(solution, kata.name)
    for node in ast.walk(ast.parse(solution)):
        what = _given_only(node)
        if what is None:
            continue
        for cut in learner_parts:
            if cut.start <= node.lineno <= cut.end:
                problems.append(
                    f"{kata.name}.{cut.qualname}: solutions/{kata.module}.py:{node.lineno} "
                    f"{what} in the part the learner writes; give it in the exercise: "
                    f"above `{stubs.MARKER}` or in a private `_` helper"
                )
    return problems


def marking_problems(test_file: Path) -> list[str]:
    """Tests marked `bad_input` that check no ValueError (`expect.value_error`)."""
    problems = []
    for node in ast.walk(ast.parse(test_file.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        marks = {ast.unparse(d) for d in node.decorator_list}
        if "pytest.mark.bad_input" in marks and "expect.value_error" not in ast.unparse(node):
            problems.append(
                f"{test_file.name}::{node.name} is marked bad_input but checks no ValueError "
                f"with expect.value_error"
            )
    return problems


def scratch_copy(target: Path, katas: tuple[str, ...] = ()) -> Path:
    """A copy of the repository with pristine, freshly generated exercises.

    With `katas` (names), the copy's manifest lists only those katas, in their
    order: the suite, the progress view and the other tools then see only them.
    """
    for name in ("gptkata", "solutions", "tests"):
        shutil.copytree(
            paths.ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    if katas:
        (target / manifest.MANIFEST.relative_to(paths.ROOT)).write_text(
            _manifest_of(manifest.MANIFEST.read_text(encoding="utf-8"), katas), encoding="utf-8"
        )
    shutil.copy2(paths.ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "data").symlink_to(paths.DATA.resolve(), target_is_directory=True)
    (target / "exercises").mkdir()
    shutil.copy2(paths.EXERCISES / "__init__.py", target / "exercises" / "__init__.py")
    for kata in manifest.KATAS:
        (target / "exercises" / f"{kata.module}.py").write_text(
            stubs.stub_source(kata), encoding="utf-8"
        )
    return target


def _manifest_of(text: str, katas: tuple[str, ...]) -> str:
    """The manifest `text` with only the entries of the katas named in `katas`."""
    unknown = set(katas) - {k.name for k in manifest.KATAS}
    if unknown:
        raise ValueError(f"no such katas in the manifest: {sorted(unknown)}")
    header, *entries = text.split("[[kata]]\n")
    kept = [e for e in entries if tomllib.loads("[[kata]]\n" + e)["kata"][0]["name"] in katas]
    return header + "".join("[[kata]]\n" + e for e in kept)


def run_suite(
    root: Path, report: Path, *args: str, impl: str = "exercises", chain: str = "reference"
) -> subprocess.CompletedProcess:
    """Run pytest in `root` in a subprocess, writing the JSON report (see
    gptkata.kata.results) to `report`; its output is captured, not shown."""
    env = dict(os.environ, GPTKATA_IMPL=impl, GPTKATA_REPORT=str(report), GPTKATA_CHAIN=chain)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


def stub_problems(only: list[str] | None = None) -> list[str]:
    """Problems of the suite against pristine stubs (all katas, or the named ones)."""
    katas = [manifest.get(name) for name in only] if only else list(manifest.KATAS)
    problems = []
    with tempfile.TemporaryDirectory(prefix="gptkata-stubs-") as scratch:
        root = scratch_copy(Path(scratch))
        report = root / "report.json"
        targets = [str(k.test_file.relative_to(paths.ROOT)) for k in katas]
        run = run_suite(root, report, *targets)
        if not report.is_file():
            return [
                f"the suite did not run against the stubs:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
            ]
        results = json.loads(report.read_text())
    for kata in katas:
        problems += marking_problems(kata.test_file)
    seen = {kata.name: 0 for kata in katas}
    for r in results:
        seen[r["kata"]] = seen.get(r["kata"], 0) + 1
        if r["outcome"] == "passed":
            if not r.get("bad_input"):
                problems.append(
                    f"{r['nodeid']} passes against the stubs: it tests nothing a learner "
                    f"writes (a test of the given validation is marked @pytest.mark.bad_input)"
                )
        elif r["outcome"] != "todo":
            problems.append(
                f"{r['nodeid']} fails against the stubs with something else than a stub: {r['message']}"
            )
        elif r["stub"].split(".")[0] != r["kata"]:
            problems.append(f"{r['nodeid']} stops at {r['stub']}, a stub of another kata")
        elif "\n" in r["message"] or not r["message"].startswith(stubs.PREFIX):
            problems.append(
                f"{r['nodeid']} does not fail in one 'not implemented yet' line: {r['message']!r}"
            )
    for name, count in seen.items():
        if count == 0:
            problems.append(f"kata {name} has no tests")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptkata.kata.checks", description=__doc__)
    parser.add_argument(
        "checks", nargs="*", help="authoring, mirror and/or stubs (default: all three)"
    )
    parser.add_argument("--kata", action="append", help="stubs check: only this kata")
    args = parser.parse_args(argv)
    from gptkata.kata import authoring  # the authoring rules first: fast, every kata at once

    checks = {
        "authoring": authoring.problems,
        "mirror": mirror_problems,
        "stubs": lambda: stub_problems(args.kata),
    }
    unknown = set(args.checks) - checks.keys()
    if unknown:
        parser.error(f"unknown check(s) {sorted(unknown)}; the checks are: {', '.join(checks)}")
    failed = False
    for name in args.checks or list(checks):
        problems = checks[name]()
        if problems:
            failed = True
            print(f"check {name}: {len(problems)} problem(s)")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"check {name}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

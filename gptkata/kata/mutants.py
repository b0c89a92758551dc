"""`make mutants [KATA=<name>] [JOBS=n]`: would the kata tests catch a wrong solution?

The kata tests are the product: a wrong solution that passes them teaches the wrong
thing and grades as right. Mutation testing asks the question directly. mutmut (a
maintained mutation-testing library, pinned in pyproject's `mutants` extra and
installed on first use) makes many small wrong versions of a reference solution -
`<` for `<=`, `dim=-1` for `dim=+1`, an argument dropped, a constant off by one -
and runs the kata's tests against each. A *mutant* the tests fail is *killed*; one
they pass *survived*. Each survivor is either a missing test (write it, with a message
in the style of tests/expect.py) or *equivalent*: a change no test can tell apart,
recorded with the reason in tests/katas/equivalent_mutants.toml.

How a kata is run: a scratch copy of the harness (gptkata/, tests/, solutions/,
exercises/, the corpus and pyproject.toml with the kata's `[tool.mutmut]` table), in
which mutmut mutates solutions/<module>.py alone and runs tests/katas/test_<kata>.py
with GPTKATA_IMPL=solutions. The tests reach the mutants through the select seam
exactly as they reach the reference, and the working tree is never written to. mutmut
imports torch and the tests once, then forks one child per mutant (JOBS children at
a time, 1 by default) under a processor-time limit (RLIMIT_CPU), so a mutant that
loops forever is stopped and counted as caught; `KATA_SECONDS` bounds the whole run.

Per kata it prints the mutants made, killed, equivalent and survived, and each
survivor as one line: `solutions/<module>.py:<line>  <the line>  ->  <the mutant's>`.
It exits non-zero when a kata has a survivor, when a mutant was not run, or when
an equivalent listed for a kata it ran was not made (the list is stale).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from gptkata import paths
from gptkata.kata import equivalents, manifest

KATA_SECONDS = 1800  # one kata's whole mutation run, wall clock (sampling: about 1 min)
HARNESS = ("gptkata", "tests", "solutions", "exercises")  # copied into the scratch copy
# mutmut's exit codes of a mutant's test run, as its `results` command reads them.
# Caught: a test failed (1), pytest's internal error (3), stopped at the processor-time
# limit (SIGXCPU: 24, -24, 152, 255; mutmut's own timeout: 36), crashed (-11, -9).
CAUGHT = frozenset({1, 3, 24, -24, 152, 255, 36, -11, -9})
SURVIVED = {0: "survived", 5: "no test reaches it", 33: "no test reaches it"}

# Run in the scratch copy as `python -c DRIVER <mutmut arguments>`, never as a module of
# this package: a `gptkata` imported before mutmut moves to its mutants/ folder would
# keep the scratch copy's pristine solutions/ in sight of the tests. mutmut leaves out
# every decorated function; `@torch.no_grad()` changes nothing it copies, so functions
# decorated with it alone (an optimizer's step, every generate) are mutated too.
DRIVER = """
import sys
import libcst
from mutmut.__main__ import cli
from mutmut.mutation.file_mutation import MutationVisitor

skip = MutationVisitor._skip_node_and_children

def no_grad_only(node):
    code = libcst.Module([]).code_for_node
    return isinstance(node, libcst.FunctionDef) and node.decorators and all(
        code(d.decorator) == "torch.no_grad()" for d in node.decorators)

def skip_unless_no_grad(self, node):
    return skip(self, node.with_changes(decorators=()) if no_grad_only(node) else node)

MutationVisitor._skip_node_and_children = skip_unless_no_grad
cli.main(args=sys.argv[1:], prog_name="mutmut")
"""


@dataclass(frozen=True)
class Mutant:
    """One mutant that the tests did not kill, as the report and the equivalents name it."""

    file: str  # solutions/<module>.py
    line_number: int
    line: str  # the code as it is (stripped; a change over several lines joined by spaces)
    mutant: str  # what the mutant has instead ("" when it removes the line)
    status: str = "survived"

    def shown(self) -> str:
        """'solutions/sampling.py:97  drop = x >= p  ->  drop = x > p'."""
        note = "" if self.status == "survived" else f"  ({self.status})"
        return (
            f"{self.file}:{self.line_number}  {self.line}  ->  {self.mutant or '(removed)'}{note}"
        )


@dataclass
class KataScore:
    """What one kata's mutation run found."""

    kata: str
    made: int = 0
    killed: int = 0
    equivalent: list[Mutant] = field(default_factory=list)
    survivors: list[Mutant] = field(default_factory=list)
    not_run: int = 0
    stale: list[dict] = field(default_factory=list)  # listed equivalents not made
    seconds: float = 0.0
    failure: str = ""  # one line: why the run itself did not finish

    @property
    def clean(self) -> bool:
        return not (self.survivors or self.not_run or self.stale or self.failure)

    def lines(self) -> list[str]:
        """The kata's report: one line of counts, then one per survivor and stale entry."""
        if self.failure:
            return [f"{self.kata}: {self.failure}"]
        judged = self.made - len(self.equivalent)
        score = f"{100 * self.killed // judged}%" if judged else "-"  # 100% only when all are
        head = (
            f"{self.kata}: {self.made} mutants made, {self.killed} killed, "
            f"{len(self.equivalent)} equivalent, {len(self.survivors)} survived"
            f"{f', {self.not_run} not run' if self.not_run else ''}: {score} of the "
            f"non-equivalent killed ({self.seconds:.0f} s)"
        )
        rows = [head, *(f"  survived: {m.shown()}" for m in self.survivors)]
        for entry in self.stale:
            rows.append(
                f"  stale: {equivalents.EQUIVALENTS.name} lists {entry['line']!r} -> {entry['mutant']!r}, "
                "which this run did not make or the tests now kill: remove the entry"
            )
        return rows


def one_line(file: str, before: str, after: str) -> Mutant:
    """The change between two versions of a file as one Mutant: the lines between what
    both begin with and what both end with (mutmut changes one place), stripped and
    joined by spaces, and the first one's number in `before`. A similar line elsewhere
    is never taken for it, and a call that the mutant writes on fewer lines is one
    change."""
    old, new = before.splitlines(), after.splitlines()
    shorter = min(len(old), len(new))
    start = next((i for i in range(shorter) if old[i] != new[i]), shorter)
    end = next((i for i in range(shorter - start) if old[-1 - i] != new[-1 - i]), shorter - start)
    if start == len(old) == len(new):
        raise ValueError(f"the mutant of {file} is the same as the original")
    changed = _joined(old[start : len(old) - end]), _joined(new[start : len(new) - end])
    return Mutant(file, start + 1, *changed)


def _joined(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines)


def mutmut_requirement() -> str:
    """mutmut as pyproject's `mutants` extra pins it, e.g. 'mutmut==3.8.1'."""
    with (paths.ROOT / "pyproject.toml").open("rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    return next(r for r in extras["mutants"] if r.startswith("mutmut"))


def ensure_mutmut() -> None:
    """Install the pinned mutmut into this environment when it is missing (once)."""
    requirement = mutmut_requirement()
    try:
        if metadata.version("mutmut") == requirement.split("==")[1]:
            return
    except metadata.PackageNotFoundError:
        pass
    print(f"Installing {requirement} for make mutants (once)...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + [requirement],
        check=True,
    )


def scratch_copy(kata: manifest.Kata, folder: Path) -> None:
    """The harness in `folder`, with a pyproject that points mutmut at the kata."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in HARNESS:
        shutil.copytree(paths.ROOT / name, folder / name, ignore=ignore)
    (folder / "data").mkdir()
    corpus = paths.DATA / "tinyshakespeare.txt"
    if corpus.is_file():
        shutil.copy2(corpus, folder / "data" / corpus.name)
    settings = {
        "source_paths": ["solutions/"],
        "only_mutate": [f"solutions/{kata.module}.py"],
        "pytest_add_cli_args_test_selection": [f"tests/katas/test_{kata.name}.py"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "also_copy": ["gptkata/", "exercises/", "data/"],
        "use_git_change_detection": False,
    }
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    text = (paths.ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (folder / "pyproject.toml").write_text(f"{text}\n[tool.mutmut]\n{table}\n", encoding="utf-8")


def _mutmut(folder: Path, args: list[str], seconds: float) -> subprocess.CompletedProcess:
    """mutmut with `args` in the scratch copy, its output captured; the whole process
    group is killed when it runs past `seconds`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPTKATA_", "MUTANT_"))}
    env.update(GPTKATA_IMPL="solutions", GPTKATA_CHAIN="reference", PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-c", DRIVER, *args]
    with subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # anything a mutant left behind
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(command, process.returncode, output)


def survivor(folder: Path, kata: manifest.Kata, name: str, status: str) -> Mutant:
    """The survivor `name` (e.g. 'solutions.block.xǁBlockǁ__init____mutmut_3') as one line,
    read from mutmut's copy of the solution (mutants/solutions/<module>.py), which holds
    the function as it is and each of its mutants under mangled names (found by parsing
    the copy: mutmut's own line spans of methods can point at another class's). The two
    are compared, and the change is placed in the solution by the function's `def`
    line: never taken for another function of the same name."""
    shown = f"solutions/{kata.module}.py"
    copy = folder / "mutants" / "solutions" / f"{kata.module}.py"
    key = name.rsplit(".", 1)[-1]
    base = key.rsplit("__mutmut_", 1)[0]  # 'x_top_p_filter' or 'xǁBlockǁ__init__'
    owner, _, function = base.removeprefix("x_").removeprefix("xǁ").rpartition("ǁ")
    try:
        text = copy.read_text(encoding="utf-8")
        rows, tree = text.splitlines(), ast.parse(text)
        original, mutant = [
            [row.replace(k, function) for row in _function_rows(rows, tree, k)]
            for k in (f"{base}__mutmut_orig", key)
        ]
        offset = next(i for i, row in enumerate(original) if f"def {function}(" in row)
        source = (folder / "solutions" / f"{kata.module}.py").read_text(encoding="utf-8")
        found = one_line(shown, "\n".join(original), "\n".join(mutant))
        number = def_line(source, owner, function) + found.line_number - 1 - offset
    except (OSError, KeyError, StopIteration, ValueError) as error:  # listed, so not clean
        return Mutant(shown, 0, f"({key})", f"not found in mutmut's copy: {error!r}", status)
    return Mutant(shown, number, found.line, found.mutant, status)


def _function_rows(rows: list[str], tree: ast.Module, name: str) -> list[str]:
    """The lines of the function or method called `name` (a mangled name is unique)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return rows[node.lineno - 1 : node.end_lineno]
    raise KeyError(name)


def def_line(source: str, owner: str, function: str) -> int:
    """The line of `def function` in `source`: a method of the class `owner`, or a
    function of the module when `owner` is ''."""
    body = ast.parse(source).body
    if owner:
        body = next(
            node.body for node in body if isinstance(node, ast.ClassDef) and node.name == owner
        )
    return next(
        node.lineno
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function
    )


def run_kata(kata: manifest.Kata, jobs: int, listed: list[dict]) -> KataScore:
    """Mutate the kata's solution and run its tests against every mutant."""
    score = KataScore(kata.name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"gptkata-mutants-{kata.name}-") as scratch:
        folder = Path(scratch)
        scratch_copy(kata, folder)
        try:
            done = _mutmut(folder, ["run", "--max-children", str(jobs)], KATA_SECONDS)
        except subprocess.TimeoutExpired:
            score.failure = f"stopped after {KATA_SECONDS} s (KATA_SECONDS) before mutmut finished"
            return score
        meta = folder / "mutants" / "solutions" / f"{kata.module}.py.meta"
        if done.returncode != 0 or not meta.is_file():
            last = (done.stdout.strip().splitlines() or ["no output"])[-1]
            score.failure = f"mutmut did not finish (exit {done.returncode}): {last[-300:]}"
            return score
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        _judge(score, folder, kata, codes, listed)
    score.seconds = time.monotonic() - started
    return score


def _judge(score: KataScore, folder: Path, kata, codes: dict, listed: list[dict]) -> None:
    """Count the mutants by their exit codes; survivors matched against the list."""
    score.made = len(codes)
    mine = [e for e in listed if e.get("kata") == kata.name]
    matched: set[int] = set()
    for name, code in sorted(codes.items()):
        if code in CAUGHT:
            score.killed += 1
        elif code in SURVIVED:
            found = survivor(folder, kata, name, SURVIVED[code])
            same = [
                i
                for i, e in enumerate(mine)
                if (e["line"], e["mutant"]) == (found.line, found.mutant)
            ]
            matched.update(same)
            (score.equivalent if same else score.survivors).append(found)
        else:
            score.not_run += 1
    score.survivors.sort(key=lambda m: m.line_number)
    score.stale = [e for i, e in enumerate(mine) if i not in matched]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--kata", help="one kata (default: every kata with tests)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    args = parser.parse_args(argv)
    try:
        katas = [manifest.get(args.kata.strip())] if args.kata else list(manifest.KATAS)
    except ValueError as error:  # an unknown kata: one line that lists the katas
        print(error, file=sys.stderr)
        return 2
    katas = [k for k in katas if k.test_file.is_file()]
    listed = equivalents.load()
    problems = equivalents.problems(listed)
    if problems:
        print("\n".join(problems))
        return 1
    ensure_mutmut()
    clean = True
    for kata in katas:
        score = run_kata(kata, max(1, args.jobs), listed)
        print("\n".join(score.lines()), flush=True)
        clean = clean and score.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())

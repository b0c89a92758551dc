"""Scratch copies of the repository for the tooling tests, and ways to act in them.

Every command runs in its own copy (gptkata.kata.checks.scratch_copy), usually one that
lists only a kata or two, so the real exercises/ are never touched and each run of
the suite stays short.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from gptkata.kata import checks, manifest


def scratch(tmp_path: Path, *katas: str) -> Path:
    """A fresh copy of the repository whose manifest lists only `katas`."""
    return checks.scratch_copy(tmp_path / "repo", katas)


def gptkata(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m gptkata <args>` in the copy at `root`, stdout and stderr captured
    (`env`: variables to set besides the usual ones)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GPTKATA_", "PYTEST_TIMEOUT"))}
    env = {**base, "HYPOTHESIS_PROFILE": "fast", **(env or {})}  # fast: the learner's profile
    return subprocess.run(
        [sys.executable, "-m", "gptkata", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def exercise(root: Path, kata_name: str) -> Path:
    return root / "exercises" / f"{manifest.get(kata_name).module}.py"


def solve(root: Path, kata_name: str) -> None:
    """Put the kata's reference solution in place of the learner's file."""
    kata = manifest.get(kata_name)
    exercise(root, kata_name).write_text(kata.solution_file.read_text(encoding="utf-8"))


def solve_all_but(root: Path, kata_name: str, function: str) -> None:
    """The kata solved except `function`, which is a stub again (redefined at the end)."""
    kata = manifest.get(kata_name)
    stub = f'\n\ndef {function}(*args, **kwargs):\n    raise NotImplementedError("not implemented yet: {kata_name}.{function}")\n'
    exercise(root, kata_name).write_text(kata.solution_file.read_text(encoding="utf-8") + stub)


def with_mistake(root: Path, kata_name: str, right: str, wrong: str) -> Path:
    """The kata solved, with the reference's `right` (which must be there) replaced by
    `wrong`: a learner's typical mistake. Returns the exercise file."""
    solve(root, kata_name)
    path = exercise(root, kata_name)
    text = path.read_text(encoding="utf-8")
    assert right in text, f"{right!r} is not in the reference of {kata_name}"
    path.write_text(text.replace(right, wrong), encoding="utf-8")
    return path


def into_function(root: Path, kata_name: str, function: str, code: str) -> int:
    """The kata solved, with `code` (one line) as the first statement of `function`;
    returns that line's number."""
    solve(root, kata_name)
    path = exercise(root, kata_name)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = line_of(path, f"def {function}(")
    quotes = [n for n in range(start, len(lines)) if '"""' in lines[n]]
    end = quotes[0] if lines[quotes[0]].count('"""') == 2 else quotes[1]  # the docstring's end
    lines.insert(end + 1, f"    {code}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return end + 2


def at_import(root: Path, kata_name: str, code: str) -> int:
    """The kata solved, with `code` (one line) run right after its imports; returns
    that line's number."""
    solve(root, kata_name)
    path = exercise(root, kata_name)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    last_import = max(n for n, line in enumerate(lines) if line.startswith(("import ", "from ")))
    lines.insert(last_import + 1, f"{code}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return last_import + 2


def break_syntax(root: Path, kata_name: str) -> int:
    """Append a line that is not Python; returns its line number."""
    path = exercise(root, kata_name)
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "def oops(:\n")
    return text.count("\n") + 1


def digest(folder: Path) -> dict[str, str]:
    """name -> SHA-256 of every file under `folder` (caches aside)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def line_of(path: Path, text: str) -> int:
    """The number of the first line of `path` that contains `text`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")

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


def gptkata(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m gptkata <args>` in the copy at `root`, stdout and stderr captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
    env["HYPOTHESIS_PROFILE"] = "fast"  # the learner's profile, also under `make check`
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

"""`make new-kata` and the authoring rules that `make check` reports first."""

from __future__ import annotations

import shutil
import subprocess
import sys

from gptkata import paths
from tests.tooling.repo import gptkata, scratch


def checks(root, *names):
    return subprocess.run(
        [sys.executable, "-m", "gptkata.kata.checks", *names],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_kata_of_the_repository_follows_the_authoring_rules():
    from gptkata.kata import authoring

    assert authoring.problems() == []


def test_new_kata_writes_every_file_and_only_its_hints_are_left_to_write(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    shutil.copy(paths.ROOT / "README.md", root / "README.md")

    made = gptkata(root, "new-kata", "--name", "layer_norm", "--title", "LayerNorm from scratch")

    assert made.returncode == 0, made.stderr
    for path in (
        "solutions/layer_norm.py",
        "tests/katas/test_layer_norm.py",
        "exercises/layer_norm.py",
    ):
        assert (root / path).is_file()
    assert "| 2 | `layer_norm` | LayerNorm from scratch |" in (root / "README.md").read_text()
    found = checks(root, "authoring", "mirror")
    problems = [line for line in found.stdout.splitlines() if line.startswith("  - ")]
    assert problems == [
        "  - layer_norm: a hint in gptkata/kata/katas.toml is still a placeholder: write it"
    ]
    run = gptkata(root, "test", "--kata", "layer_norm")
    assert "not implemented yet: layer_norm.first_step" in run.stdout


def test_check_reports_every_authoring_problem_of_every_kata_at_once(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    readme = (paths.ROOT / "README.md").read_text()
    (root / "README.md").write_text(readme.replace("| 2 | `batching` |", "| 2 | batching |"))
    solution = root / "solutions" / "tokenizer.py"
    text = solution.read_text()
    solution.write_text(text.replace('"""Kata 1 - ', '"""The ', 1).replace("# %%\ndef", "def", 1))

    found = checks(root, "authoring")

    assert found.returncode == 1
    problems = [line for line in found.stdout.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, found.stdout
    assert any("batching: README.md has no row" in p for p in problems)
    assert any("tokenizer: the module docstring must start" in p for p in problems)
    assert any(
        "tokenizer: solutions/tokenizer.py: put `# %%` on the line before" in p for p in problems
    )

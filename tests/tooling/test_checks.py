"""The maintainer checks catch what they promise to catch.

Each test breaks one thing in a scratch copy of the repository and runs the check
there, as `make check` would.
"""

import subprocess
import sys

import pytest

from gptkata.kata import checks

VACUOUS = """

def test_that_checks_nothing():
    assert 1 + 1 == 2
"""

OTHER_KATAS_STUB = """

def test_that_stops_at_another_katas_stub():
    from gptkata.kata.select import load

    load("exercises", "batching").get_batch(None, 1, 1)
"""


@pytest.fixture
def scratch(tmp_path):
    return checks.scratch_copy(tmp_path / "repo")


def run_check(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "gptkata.kata.checks", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_a_pristine_copy_passes_the_mirror_check(scratch):
    run = run_check(scratch, "mirror")
    assert run.returncode == 0, run.stdout


def test_a_test_that_passes_against_the_stubs_is_reported(scratch):
    test_file = scratch / "tests" / "katas" / "test_tokenizer.py"
    test_file.write_text(test_file.read_text() + VACUOUS + OTHER_KATAS_STUB)
    run = run_check(scratch, "stubs", "--kata", "tokenizer")
    assert run.returncode == 1
    assert "test_that_checks_nothing passes against the stubs" in run.stdout
    assert "test_that_stops_at_another_katas_stub stops at batching.get_batch" in run.stdout


def test_a_changed_signature_or_docstring_is_reported(scratch):
    exercise = scratch / "exercises" / "tokenizer.py"
    text = exercise.read_text()
    text = text.replace("def encode(text: str, stoi", "def encode(text, stoi")
    text = text.replace("The sorted list of distinct characters", "The distinct characters")
    exercise.write_text(text)
    run = run_check(scratch, "mirror")
    assert run.returncode == 1
    assert "tokenizer.encode: signature" in run.stdout
    assert "tokenizer.build_vocab: the docstrings of exercises/ and solutions/ differ" in run.stdout


def test_a_solved_exercise_is_not_pristine(scratch):
    solution = scratch / "solutions" / "tokenizer.py"
    (scratch / "exercises" / "tokenizer.py").write_text(solution.read_text())
    run = run_check(scratch, "mirror")
    assert run.returncode == 1
    assert "is not the stub generated from solutions/tokenizer.py" in run.stdout

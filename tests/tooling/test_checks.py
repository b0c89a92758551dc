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
    import torch

    from gptkata.kata.select import load

    load("exercises", "batching").get_batch(torch.arange(10), 1, 1)
"""


MARKED_VACUOUS = """

@pytest.mark.bad_input
def test_marked_but_checking_no_value_error():
    assert tokenizer is not None
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


def test_only_marked_bad_input_tests_may_pass_against_the_stubs(scratch):
    test_file = scratch / "tests" / "katas" / "test_tokenizer.py"
    text = test_file.read_text()
    assert run_check(scratch, "stubs", "--kata", "tokenizer").returncode == 0  # marked: allowed
    unmarked = "\n\ndef test_unknown_character_names_the_character_and_its_position("
    text = text.replace(unmarked.replace("\n\ndef", "\n\n@pytest.mark.bad_input\ndef"), unmarked)
    test_file.write_text(text + MARKED_VACUOUS)
    run = run_check(scratch, "stubs", "--kata", "tokenizer")
    assert run.returncode == 1
    assert (
        "test_unknown_character_names_the_character_and_its_position passes against the stubs"
        in run.stdout
    )
    assert (
        "test_marked_but_checking_no_value_error is marked bad_input but checks no ValueError"
        in run.stdout
    )


def test_validation_in_the_part_the_learner_writes_is_reported(scratch):
    solution = scratch / "solutions" / "batching.py"
    text = solution.read_text()
    # the marker of train_val_split moved up: its validation would be the learner's to write
    text = text.replace("    # -- your code below --\n    n = int", "    n = int", 1)
    text = text.replace(
        '    """\n    if data.dim() != 1:',
        '    """\n    # -- your code below --\n    if data.dim() != 1:',
        1,
    )
    # and get_batch without a marker: the call of the given helper would be stubbed
    text = text.replace(
        "    _check_block(data, block_size)\n    # -- your code below --\n    ix",
        "    _check_block(data, block_size)\n    ix",
        1,
    )
    solution.write_text(text)
    run = run_check(scratch, "mirror")
    assert run.returncode == 1
    assert "batching.train_val_split: solutions/batching.py:" in run.stdout
    assert "raises ValueError (input validation) in the part the learner writes" in run.stdout
    assert "batching.get_batch: solutions/batching.py:" in run.stdout
    assert "calls _check_block (input validation)" in run.stdout


def test_bad_input_tests_run_after_the_concept_tests_of_their_file():
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider"]
        + ["tests/katas/test_tokenizer.py", "tests/katas/test_batching.py"],
        capture_output=True,
        text=True,
    )
    order = [line for line in run.stdout.splitlines() if "::" in line]
    marked = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider"]
        + ["-m", "bad_input", "tests/katas/test_tokenizer.py", "tests/katas/test_batching.py"],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    kinds = [(line.split("::")[0], line in marked) for line in order]
    assert any(bad for _, bad in kinds) and not all(bad for _, bad in kinds)
    for file in {name for name, _ in kinds}:
        flags = [bad for name, bad in kinds if name == file]
        assert flags == sorted(flags), f"{file}: a concept test after a bad-input test"
    files = [name for name, _ in kinds]
    assert files == sorted(files, key=files.index), "the files stay in their order"

"""`make test IMPL=<folder>`: the suite against any folder of kata modules."""

from __future__ import annotations

import os
import subprocess
import sys

from gptkata.kata import manifest
from tests.tooling.repo import gptkata, line_of, scratch

TOKENIZER = manifest.get("tokenizer")
TESTS = ["tests/katas/test_tokenizer.py", "tests/katas/test_batching.py"]


def own_tokenizer(folder, bug: bool = False):
    """An instructor's own tokenizer.py in `folder` (the reference, or with a bug)."""
    folder.mkdir()
    text = TOKENIZER.solution_file.read_text(encoding="utf-8")
    if bug:
        text = text.replace("return sorted(set(text))", "return sorted(set(text))[::-1]  # bug")
    (folder / "tokenizer.py").write_text(text, encoding="utf-8")
    return folder / "tokenizer.py"


def test_a_folder_with_a_correct_tokenizer_passes_and_names_the_katas_it_lacks(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    own_tokenizer(tmp_path / "mine")

    run = gptkata(root, "test", "--impl", str(tmp_path / "mine"))

    assert run.returncode == 0, run.stdout + run.stderr
    assert "13 passed" in run.stdout
    lines = [line for line in run.stdout.splitlines() if "Not provided" in line]
    assert lines == [f"Not provided in {tmp_path / 'mine'} (no module file there): batching"]


def test_a_wrong_answer_in_the_folder_is_reported_at_its_own_file_and_line(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    mine = own_tokenizer(tmp_path / "mine", bug=True)

    run = gptkata(root, "test", "--impl", str(tmp_path / "mine"))

    assert run.returncode == 1
    assert "build_vocab" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert "INTERNALERROR" not in run.stdout
    assert line_of(mine, "# bug") > 0
    # the next step sends the reader to the folder's file and reruns against the folder
    edit = next(line for line in run.stdout.splitlines() if line.startswith("  edit:"))
    assert edit.startswith(f"  edit:    {mine}, function build_vocab"), edit
    assert f"make test KATA=tokenizer IMPL={mine.parent}" in run.stdout
    assert "exercises/" not in run.stdout


def test_gptkata_impl_selects_a_folder_for_plain_pytest_too(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    own_tokenizer(tmp_path / "mine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
    env["GPTKATA_IMPL"] = str(tmp_path / "mine")

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *TESTS],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "Not provided in" in run.stdout and "batching" in run.stdout


def test_an_impl_that_is_no_folder_is_refused_in_one_line(tmp_path):
    root = scratch(tmp_path, "tokenizer")

    run = gptkata(root, "test", "--impl", str(tmp_path / "nowhere"))

    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "neither exercises, solutions nor a folder" in run.stderr


def test_a_folder_may_word_its_value_errors_otherwise_and_one_note_lists_them(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    mine = own_tokenizer(tmp_path / "mine")
    text = mine.read_text(encoding="utf-8")
    reworded = text.replace(": ids must be integers", ": not a whole number")
    assert reworded != text
    mine.write_text(reworded, encoding="utf-8")

    run = gptkata(root, "test", "--impl", str(tmp_path / "mine"))

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("worded otherwise than the reference's") == 1, run.stdout
    listed = [line for line in run.stdout.splitlines() if "does not mention" in line]
    assert len(listed) == 1 and "decode([1.0, 2.0], itos)" in listed[0], run.stdout
    assert "'integers'" in listed[0], listed


def test_exercises_and_solutions_still_have_their_value_errors_worded_as_the_docstrings_say(
    tmp_path,
):
    root = scratch(tmp_path, "tokenizer")
    solution = root / "solutions" / "tokenizer.py"
    text = solution.read_text(encoding="utf-8")
    solution.write_text(text.replace(": ids must be integers", ": not a whole number"))

    run = gptkata(root, "test", "--impl", "solutions")

    assert run.returncode == 1
    assert "a ValueError whose message mentions 'integers'" in run.stdout, run.stdout

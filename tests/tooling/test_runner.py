"""The runner: learner code that exits or crashes is its kata broken, with the cause,
and never a pass; `make test` exits 0 only when every selected test ran and passed."""

import os
import re
import subprocess
import sys
import time

import pytest

from tests.tooling.repo import at_import, exercise, gptkata, into_function, scratch, solve


@pytest.fixture
def root(tmp_path):
    return scratch(tmp_path, "tokenizer", "batching")


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name} " in line[:16])


def test_os_exit_0_at_import_is_not_a_pass_but_the_kata_broken_naming_the_line(root):
    line = at_import(root, "tokenizer", "import os; os._exit(0)")

    run = gptkata(root, "test", "--kata", "tokenizer")

    assert run.returncode == 1
    assert f"exercises/tokenizer.py:{line} called os._exit(0)" in run.stdout
    assert "Kata tokenizer counts as broken" in run.stdout


def test_progress_shows_an_exiting_kata_broken_and_still_runs_the_katas_after_it(root):
    line = at_import(root, "tokenizer", "import os; os._exit(0)")
    solve(root, "batching")

    run = gptkata(root, "progress")

    assert run.returncode == 0, run.stderr
    tokenizer = row(run.stdout, "tokenizer")
    assert (
        "broken" in tokenizer and f"exercises/tokenizer.py:{line} called os._exit(0)" in tokenizer
    )
    batching = row(run.stdout, "batching")
    passed, total = map(int, re.search(r"(\d+)/(\d+)$", batching).groups())
    assert "done" in batching and passed == total
    overall = re.search(r"(\d+) of (\d+) tests pass", run.stdout)
    assert int(overall[1]) == passed  # the tokenizer's tests count, none as passed
    assert int(overall[2]) > total


def test_sys_exit_at_import_is_the_kata_broken_not_an_internal_error(root):
    line = at_import(root, "tokenizer", "import sys; sys.exit(3)")

    test, progress = gptkata(root, "test", "--kata", "tokenizer"), gptkata(root, "progress")

    assert test.returncode == 1 and progress.returncode == 0, progress.stderr
    for output in (test.stdout + test.stderr, progress.stdout + progress.stderr):
        assert "INTERNALERROR" not in output and "mainloop" not in output
    expected = f"does not import: SystemExit: sys.exit(3) (exercises/tokenizer.py:{line})"
    assert expected in row(progress.stdout, "tokenizer")


def test_sys_exit_0_inside_a_function_is_the_kata_broken(root):
    line = into_function(root, "tokenizer", "build_vocab", "import sys; sys.exit(0)")

    run = gptkata(root, "test", "--kata", "tokenizer")

    assert run.returncode == 1
    assert f"the code under test exits: sys.exit(0) at exercises/tokenizer.py:{line}" in run.stdout
    assert "broken" in run.stdout


def test_a_segfault_is_reported_with_the_signal_and_the_line(root):
    line = into_function(root, "tokenizer", "build_vocab", "import ctypes; ctypes.string_at(0)")

    run = gptkata(root, "test", "--kata", "tokenizer")

    assert run.returncode == 1
    assert f"killed by SIGSEGV at exercises/tokenizer.py:{line}" in run.stdout
    assert "Fatal Python error" not in run.stdout + run.stderr  # the dump went to the log


def test_an_exit_handler_of_the_code_under_test_cannot_change_the_runs_status(root):
    # the test process ends with pytest's own status, before any exit handler runs
    at_import(root, "tokenizer", "import atexit, os; atexit.register(os._exit, 3)")
    solved = gptkata(root, "test", "--kata", "tokenizer")
    at_import(root, "tokenizer", "import atexit, os; atexit.register(os._exit, 0)")
    exercise(root, "tokenizer").write_text(
        exercise(root, "tokenizer").read_text().replace("sorted(set(text))", "list(text)")
    )
    wrong = gptkata(root, "test", "--kata", "tokenizer")

    assert "13 passed" in solved.stdout and solved.returncode == 0
    assert "passed" in wrong.stdout and wrong.returncode == 1


def test_a_skipped_test_is_not_a_pass(root):
    into_function(root, "tokenizer", "build_vocab", "import pytest; pytest.skip('later')")

    run = gptkata(root, "test", "--kata", "tokenizer")

    assert run.returncode == 1
    assert "a kata counts only when every test runs and passes" in run.stdout


def test_make_test_exits_0_when_every_test_ran_and_passed(root):
    solve(root, "tokenizer")

    assert gptkata(root, "test", "--kata", "tokenizer").returncode == 0


@pytest.mark.parametrize(
    "args",
    [("--kata", "tokenizer batching"), ("--kata", "tokenizer", "batching"), ("--kata", "tokenize")],
)
def test_kata_with_several_names_or_an_unknown_one_is_one_line_listing_the_names(root, args):
    for command in ("test", "show", "reset"):
        run = gptkata(root, command, *args)

        assert run.returncode == 2, (command, run.stdout)
        assert run.stderr.count("\n") == 1 and "the katas are: tokenizer, batching" in run.stderr


def test_stopping_make_test_stops_the_test_process_too(root):
    pid_file = root / "test-process.pid"
    into_function(
        root,
        "tokenizer",
        "build_vocab",
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)",
    )
    parent = subprocess.Popen(
        [sys.executable, "-m", "gptkata", "test", "--kata", "tokenizer"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None, "the test never started"
        time.sleep(0.1)
    child = int(pid_file.read_text())

    parent.terminate()

    assert parent.wait(timeout=30) != 0
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)

"""Output hygiene: piped output in the order it was printed, and make's own error line
never glued to the end of the last line of a run."""

import pytest

from gptkata import cli
from tests.tooling.repo import gptkata, scratch


def test_make_test_ends_its_output_with_a_line_break(monkeypatch, capsys):
    def unfinished_line(args):
        print("1 failed in 0.36s", end="")
        return 1

    monkeypatch.setattr(pytest, "main", unfinished_line)

    status = cli.main(["test", "--kata", "tokenizer"])

    assert status == 1
    assert capsys.readouterr().out == "1 failed in 0.36s\n"


def test_piped_progress_says_it_runs_the_tests_before_the_view(tmp_path):
    root = scratch(tmp_path, "tokenizer")

    run = gptkata(root, "progress")

    lines = run.stdout.splitlines()
    assert lines[0] == "Running the kata tests..."
    assert any(line.startswith("GPT Kata - your progress") for line in lines[1:])

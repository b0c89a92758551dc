"""Output hygiene: piped output in the order it was printed, and make's own error line
never glued to the end of the last line of a run."""

from tests.tooling.repo import gptkata, scratch


def test_make_test_ends_its_output_with_a_line_break(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    (root / "tests" / "katas" / "conftest.py").write_text(  # the very last thing printed
        "def pytest_unconfigure(config):\n"
        "    writer = config.pluginmanager.get_plugin('terminalreporter')._tw\n"
        "    writer.write('1 failed in 0.36s')  # no line break after it\n",
        encoding="utf-8",
    )

    run = gptkata(root, "test", "--kata", "tokenizer")

    assert run.returncode != 0
    assert run.stdout.endswith("1 failed in 0.36s\n")


def test_piped_progress_says_it_runs_the_tests_before_the_view(tmp_path):
    root = scratch(tmp_path, "tokenizer")

    run = gptkata(root, "progress")

    lines = run.stdout.splitlines()
    assert lines[0] == "Running the kata tests..."
    assert any(line.startswith("GPT Kata - your progress") for line in lines[1:])
    again = gptkata(root, "progress").stdout  # nothing changed: the stored results
    assert "Running the kata tests" not in again and "GPT Kata - your progress" in again

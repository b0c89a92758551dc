"""Time limits: learner code that loops, sleeps or hides from the alarm never hangs
`make test`; it is reported in one line naming the function, file and line.

The limits are lowered here with PYTEST_TIMEOUT (pytest-timeout's variable, which
overrides pyproject's default) so that each run takes seconds."""

import pytest
from hypothesis import settings

from gptkata.kata import limits
from tests.tooling.repo import at_import, gptkata, into_function, scratch

FAST = {"PYTEST_TIMEOUT": "0.5"}
ONE_TEST = ("--", "-k", "test_vocab_of_the_corpus_is_the_seeds_65_characters")


@pytest.fixture
def root(tmp_path):
    return scratch(tmp_path, "tokenizer")


def test_an_endless_loop_is_one_line_naming_the_function_file_and_line(root):
    line = into_function(root, "tokenizer", "build_vocab", "while True: pass")

    run = gptkata(root, "test", "--kata", "tokenizer", *ONE_TEST, env=FAST)

    assert run.returncode == 1
    expected = f"timed out after 0.5 s in tokenizer.build_vocab at exercises/tokenizer.py:{line}"
    assert expected in run.stdout
    assert "Traceback" not in run.stdout + run.stderr and "Timeout" not in run.stdout
    assert f"edit:    exercises/tokenizer.py, function build_vocab (line {line})" in run.stdout


def test_code_that_waits_instead_of_computing_meets_the_wall_clock_limit(root):
    line = into_function(root, "tokenizer", "build_vocab", "import time; time.sleep(600)")

    run = gptkata(root, "test", "--kata", "tokenizer", *ONE_TEST, env=FAST)

    assert run.returncode == 1
    wall = 0.5 * limits.WALL_FACTOR
    assert f"timed out after {wall:g} s waiting" in run.stdout
    assert f"in tokenizer.build_vocab at exercises/tokenizer.py:{line}" in run.stdout


def test_a_loop_while_the_module_is_imported_is_stopped_too(root):
    line = at_import(root, "tokenizer", "while True: pass")

    run = gptkata(root, "test", "--kata", "tokenizer", *ONE_TEST, env=FAST)

    assert run.returncode == 1
    assert f"in tokenizer (while importing it) at exercises/tokenizer.py:{line}" in run.stdout


def test_an_except_that_swallows_the_time_limit_only_delays_it(root):
    into_function(
        root,
        "tokenizer",
        "build_vocab",
        "exec('while True:\\n try:\\n  pass\\n except BaseException:\\n  break')\n    while True: pass",
    )

    run = gptkata(root, "test", "--kata", "tokenizer", *ONE_TEST, env=FAST)

    assert run.returncode == 1 and "timed out after 0.5 s in tokenizer.build_vocab" in run.stdout


def test_a_loop_that_blocks_the_alarms_is_killed_by_the_runner_and_the_kata_is_broken(root):
    at_import(
        root,
        "tokenizer",
        "import signal; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGPROF})"
        "\nwhile True: pass",
    )

    run = gptkata(root, "test", "--kata", "tokenizer", *ONE_TEST, env={"PYTEST_TIMEOUT": "0.1"})

    assert run.returncode == 1
    assert "The tests stopped early: the test process was still running after" in run.stdout
    assert "Kata tokenizer counts as broken" in run.stdout


def test_a_kata_sets_its_own_limit_in_the_manifest_and_property_tests_scale_with_the_profile(
    root,
):
    katas = root / "gptkata" / "kata" / "katas.toml"
    text = katas.read_text(encoding="utf-8")
    katas.write_text(text.replace('name = "tokenizer"\n', 'name = "tokenizer"\ntime_limit = 0.2\n'))
    into_function(root, "tokenizer", "build_vocab", "while True: pass")

    run = gptkata(root, "test", "--kata", "tokenizer", env={"HYPOTHESIS_PROFILE": "thorough"})

    assert "timed out after 0.2 s in tokenizer.build_vocab" in run.stdout  # plain tests
    profile = settings.get_profile  # the thorough profile's examples over the fast one's
    scale = profile("thorough").max_examples / profile("fast").max_examples
    assert f"timed out after {0.2 * scale:g} s in tokenizer.build_vocab" in run.stdout

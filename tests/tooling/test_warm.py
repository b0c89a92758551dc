"""The warm process's checks: a kata whose tests take long is split between two
children, and the split run reads exactly like one run of every test."""

import json
import os
import subprocess
import sys

import pytest

from gptkata.kata import manifest, warm
from gptkata.kata.results import Result
from tests.tooling.repo import exercise, scratch, solve

FILE = "tests/katas/test_gpt.py"


@pytest.fixture
def fresh_times(monkeypatch):
    monkeypatch.setattr(warm, "_TIMES", {})
    monkeypatch.setattr(warm, "_ORDER", {})


def timed(seconds: dict[str, float]) -> None:
    warm.remember(
        [Result(f"{FILE}::{name}", "gpt", "passed", "", seconds=t) for name, t in seconds.items()]
    )


def deselected(args: list[str]) -> set[str]:
    return {
        a.removeprefix("--deselect=").rsplit("::", 1)[-1]
        for a in args
        if a.startswith("--deselect=")
    }


def test_untimed_or_quick_tests_run_in_one_child(fresh_times):
    assert warm.split([FILE]) == [[FILE]]
    timed({"test_a": 0.05, "test_b": 0.1})
    assert warm.split([FILE]) == [[FILE]]


def test_slow_tests_are_split_in_two_parts_that_run_each_test_once(fresh_times):
    timed({"test_a": 0.1, "test_train": 0.7, "test_b": 0.2, "test_c": 0.15, "test_d": 0.05})

    first, second = warm.split([FILE])

    assert first[0] == FILE and second[0] == FILE
    left_out = deselected(first), deselected(second)
    assert left_out[0] | left_out[1] == {"test_a", "test_train", "test_b", "test_c", "test_d"}
    assert not left_out[0] & left_out[1]
    assert left_out[0] == {"test_a", "test_b", "test_c", "test_d"}  # the slow one alone


SPLIT = """
import json, sys
from gptkata.kata import manifest, warm
kata = manifest.get("tokenizer")
whole = warm.check((kata,), impl="solutions")  # one child, timing every test
warm.SPLIT_SECONDS = 0.0
parts = len(warm.split([str(kata.test_file.relative_to(warm.paths.ROOT))]))
try:
    split = [[r.nodeid, r.outcome] for r in warm.check((kata,), seconds=float(sys.argv[1]))]
except warm.CheckFailed as error:
    split = str(error)
print(json.dumps({"whole": [[r.nodeid, r.outcome] for r in whole], "parts": parts, "split": split}))
"""


def split_check(root, seconds: float = 60) -> dict:
    """In the copy at `root`: the tokenizer's tests against the solutions in one child,
    then against exercises/ in two."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
    env["HYPOTHESIS_PROFILE"] = "fast"
    done = subprocess.run(
        [sys.executable, "-c", SPLIT, str(seconds)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_split_check_gives_the_results_of_one_run_in_the_files_order(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    solve(root, "tokenizer")

    run = split_check(root)

    assert run["parts"] == 2
    assert run["split"] == run["whole"]  # every test once, in the file's order
    assert all(outcome == "passed" for _, outcome in run["split"])


def test_a_hang_in_one_part_of_a_split_check_is_reported(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    path = exercise(root, "tokenizer")
    reference = manifest.get("tokenizer").solution_file.read_text()
    path.write_text(reference + "\n\ndef decode(ids, itos):\n    while True:\n        pass\n")

    # 10 s: on a busy machine the child may take seconds to reach the loop, and the
    # stack dumped at the limit must show it there
    run = split_check(root, seconds=10)

    assert run["parts"] == 2
    assert "did not finish within 10 s" in run["split"] and "in decode" in run["split"]

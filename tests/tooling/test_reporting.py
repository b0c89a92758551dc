"""What `make test` prints: the welcome on a fresh clone, a wrong answer as expected
vs actual with hypothesis's smallest example, an error in the learner's code without
the frames of torch or the tests."""

from gptkata.kata import manifest, progress
from gptkata.kata.next_step import finished_lines, welcome_lines
from gptkata.kata.pytest_plugin import one_line, smallest_example
from gptkata.kata.results import KataState, Result
from tests.tooling.repo import exercise, gptkata, line_of, scratch, solve_all_but


def test_a_first_run_is_the_welcome_and_the_first_step_in_twelve_lines_or_fewer(tmp_path):
    root = scratch(tmp_path)  # every kata, all stubs: a fresh clone

    out = gptkata(root, "test").stdout.splitlines()

    start = next(i for i, line in enumerate(out) if line.startswith("Welcome to GPT Kata"))
    text = "\n".join(out[start:])
    first_stub = line_of(exercise(root, "tokenizer"), "not implemented yet: tokenizer.build_vocab")
    for step in (
        "make show KATA=tokenizer",
        f"write build_vocab first: exercises/tokenizer.py, line {first_stub}",
        "make test KATA=tokenizer",
        "make hint KATA=tokenizer",
        "make progress",
    ):
        assert step in text
    assert "batching." not in text  # the later katas' stubs are make progress's to list
    assert len(out) + 1 <= 12  # and make's own closing error line still fits


def test_a_later_run_lists_only_the_current_katas_stubs(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching", "bigram")
    solve_all_but(root, "tokenizer", "decode")

    out = gptkata(root, "test").stdout

    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  tokenizer.")]
    assert listed == ["tokenizer.decode"]
    assert "batching." not in out.split("Next:")[0] and "bigram." not in out.split("Next:")[0]
    assert "2 more katas to go after this one: make progress" in out
    assert "Next: kata 1, tokenizer" in out


def test_the_welcome_block_itself_fits_in_eight_lines():
    assert len(welcome_lines(manifest.KATAS[0], ("tokenizer.build_vocab", 36))) <= 8


BUGGY_TOKENIZER = """
def build_vocab(text):
    return list(dict.fromkeys(text))  # distinct, but in order of appearance: not sorted


def decode(ids, itos):
    return "".join(itos[i] for i in ids)  # a 0-d tensor is not a key of itos
"""


def test_wrong_answers_and_errors_are_reported_in_a_few_plain_lines(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    path = exercise(root, "tokenizer")
    path.write_text(manifest.get("tokenizer").solution_file.read_text() + BUGGY_TOKENIZER)

    out = gptkata(root, "test", "--kata", "tokenizer").stdout

    assert "Traceback" not in out and "site-packages" not in out
    # a property test: expected vs actual, why, and the smallest failing example
    sorted_test = out[out.index("test_vocab_is_sorted_distinct_and_covers_the_text") :]
    assert "  returned: " in sorted_test and "  expected: " in sorted_test
    assert "  why:      every character that occurs, once each, in sorted order" in sorted_test
    assert "  smallest failing example: text='" in sorted_test
    # an exception in the learner's code: its type, message and the learner's line
    decode_line = line_of(path, "a 0-d tensor is not a key")
    assert f"  raised at exercises/tokenizer.py:{decode_line}, in decode:" in out
    assert "what decode must do: its docstring, or make show KATA=tokenizer" in out
    # and the next step points at the first of them
    assert "edit:    exercises/tokenizer.py, function build_vocab" in out


def test_the_smallest_example_is_read_from_hypothesis_notes():
    error = AssertionError("wrong")
    error.add_note(
        "Failing test case: test_y_is_x_shifted(\n"
        "    # The test always failed when commented parts were varied together.\n"
        "    batch_size=2,  # or any other generated value\n"
        "    text='a # b',\n"
        ")"
    )
    error.add_note("Explanation:\n    These lines were always and only run by failing test cases:")
    assert smallest_example(error) == "batch_size=2, text='a # b'"
    older = AssertionError("wrong")
    older.add_note("Falsifying example: test_x(\n    text='0',\n)")
    assert smallest_example(older) == "text='0'"
    assert smallest_example(AssertionError("no notes")) is None


def test_one_line_joins_lines_and_squeezes_spaces():
    assert one_line("f(x)\n  returned: 1\n  why:      because") == "f(x); returned: 1; why: because"
    assert len(one_line("x" * 500)) == 160


def test_a_kata_that_passes_points_to_the_next_one():
    tokenizer = KataState(
        manifest.get("tokenizer"),
        [Result("tests/katas/test_tokenizer.py::t", "tokenizer", "passed", "")],
    )

    lines = finished_lines([tokenizer])

    assert "All tests of tokenizer pass. Next: kata 2, batching" in lines[1]
    assert "make show KATA=batching" in lines[2] and "make test KATA=batching" in lines[2]


def test_finishing_the_gpt_kata_points_to_training_your_own_gpt():
    gpt = KataState(
        manifest.get("gpt"), [Result("tests/katas/test_gpt.py::t", "gpt", "passed", "")]
    )

    lines = finished_lines([gpt])

    assert lines[-1] == progress.TRAIN_YOURS
    assert "make train MINE=1" in lines[-1] and "make sample MINE=1" in lines[-1]


def test_a_green_run_of_the_reference_says_whose_code_passed():
    tokenizer = KataState(
        manifest.get("tokenizer"),
        [Result("tests/katas/test_tokenizer.py::t", "tokenizer", "passed", "")],
    )

    lines = finished_lines([tokenizer], "solutions")

    assert lines[1].startswith("All tests pass against the reference solutions (solutions/)")
    assert "Your own katas: make test" in lines[1] and "Next:" not in lines[1]

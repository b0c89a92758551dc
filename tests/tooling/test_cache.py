"""The results cache: an unchanged kata is never run twice, and a change to any file a
kata's result depends on runs exactly the katas that depend on it (in a scratch copy,
with a stand-in for the test run)."""

from gptkata.kata import cache, manifest
from gptkata.kata.results import Result
from tests.tooling.repo import exercise, gptkata, scratch, solve

KATAS = tuple(manifest.get(name) for name in ("tokenizer", "batching", "bigram"))


class FakeRun:
    """Records which katas it was asked to run; every test passes."""

    def __init__(self):
        self.asked: list[list[str]] = []

    def __call__(self, katas, chain):
        self.asked.append([k.name for k in katas])
        return [Result(f"tests/katas/test_{k.name}.py::t", k.name, "passed", "") for k in katas]


def rerun(chain: str = "reference") -> list[str]:
    """The katas a run of all three has to test now (and stores for next time)."""
    run = FakeRun()
    results = cache.results(KATAS, chain, run)
    assert [r.kata for r in results] == [k.name for k in KATAS]
    return run.asked[0] if run.asked else []


def edit(path):
    path.write_text(path.read_text() + "\n# edited\n")


def test_unchanged_katas_are_not_run_again(copy):
    assert rerun() == ["tokenizer", "batching", "bigram"]
    assert rerun() == []


def test_a_saved_exercise_reruns_its_kata_only_and_with_chain_mine_the_katas_using_it(copy):
    rerun(), rerun("mine")
    edit(exercise(copy, "tokenizer"))

    assert rerun() == ["tokenizer"]
    assert rerun("mine") == ["tokenizer", "batching", "bigram"]  # both build on tokenizer


def test_a_changed_test_file_reruns_its_kata_and_a_changed_harness_or_solution_every_kata(
    copy,
):
    rerun()
    edit(copy / "tests" / "katas" / "test_batching.py")
    assert rerun() == ["batching"]
    edit(copy / "solutions" / "bigram.py")
    assert rerun() == ["tokenizer", "batching", "bigram"]
    edit(copy / "tests" / "expect.py")
    assert rerun() == ["tokenizer", "batching", "bigram"]
    edit(copy / "tests" / "katas" / "gpt_models.py")  # a helper module of the kata tests
    assert rerun() == ["tokenizer", "batching", "bigram"]


def test_progress_reuses_stored_results_and_shows_the_same_view(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    solve(root, "tokenizer")

    first = gptkata(root, "progress").stdout
    stored = sorted(p.name for p in (root / ".gptkata" / "results").iterdir())
    second = gptkata(root, "progress").stdout

    assert stored == ["batching-reference.json", "tokenizer-reference.json"]
    assert first == "Running the kata tests...\n" + second  # the second ran nothing


def test_make_test_keeps_its_results_for_progress(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    solve(root, "tokenizer")

    gptkata(root, "test", "--kata", "tokenizer")
    stored = sorted(p.name for p in (root / ".gptkata" / "results").iterdir())
    gptkata(root, "test", "--kata", "batching", "-k", "batch")  # a part of a kata: not kept
    still = sorted(p.name for p in (root / ".gptkata" / "results").iterdir())

    assert stored == still == ["tokenizer-reference.json"]
    view = gptkata(root, "progress").stdout
    assert "tokenizer" in view and "done" in view

"""`make train MINE=1` and `make sample MINE=1`: the learner's own model trains, fed by
their own katas where those are done, in the course and in a student edition.

Each run is a tiny model (tests.lab.mine_course.TINY) for 500 steps or fewer, in a
copy of the repository (or of an edition) in a child process on a leash. The first
run in the solved course runs the kata tests that decide what is done, as make
progress does; its copies find those results in the cache.
"""

from __future__ import annotations

import pytest

from gptkata import paths
from gptkata.kata import manifest, release, stubs
from gptkata.lab import kit
from tests.lab.mine_course import (
    copy_course,
    edit,
    learners,
    mark_done,
    read_log,
    solve_every_kata,
    solved_course,
    train_mine,
)
from tests.lab.training_run import error_lines, is_png, run_bounded, write_corpus

# The katas a run of kata 9's GPT checks: its parts', and those the GPT is built on.
GPT_RUN = ("tokenizer", "batching", "training", "optim", "sampling", "gpt")
GPT_RUN += ("averaging", "attention", "multihead", "block")
BLOCKS = "x = self.blocks(tok + pos)"  # the line of kata 9's forward that runs the blocks


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def course(tmp_path_factory, corpus):
    """Every kata solved, trained for 500 steps: (the course, the run)."""
    root = solved_course(tmp_path_factory.mktemp("course") / "repo")
    return root, train_mine(root, corpus, "--max-steps", "500", timeout=600)


@pytest.fixture(scope="module")
def edition(tmp_path_factory, corpus):
    """A student edition (no solutions) with every kata solved, trained for 500 steps:
    (the edition, the run). Its katas are marked done, their tests ran in the course."""
    out = tmp_path_factory.mktemp("edition") / "edition"
    release.release(out, [])
    (out / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    solve_every_kata(out)
    mark_done(out, *GPT_RUN)
    return out, train_mine(out, corpus, "--max-steps", "500")


@pytest.mark.parametrize("where", ["course", "edition"])
def test_with_every_kata_solved_the_log_names_exercises_for_every_part(where, request):
    root, run = request.getfixturevalue(where)

    assert run.returncode == 0, run.stderr[-2000:]
    log = read_log(root)
    assert set(log["parts"]) == set(kit.PARTS)
    for name, part in log["parts"].items():
        assert part["implementation"] == "exercises", f"{name}: {part}"
        assert part["code"].startswith(f"exercises/{manifest.get(part['kata']).module}.py")
    assert (log["model"]["code"], log["model"]["chain"]) == ("exercises", "mine")
    assert log["steps"] == 500 and log["preset"] == "mine"
    for picture in ("loss.png", "attention.png"):
        assert is_png(root / "runs" / "mine" / picture), picture
    assert (root / "runs" / "mine" / "sample.txt").read_text(encoding="utf-8") == log["sample"]


def test_the_run_starts_with_a_table_of_whose_code_runs(course):
    _, run = course

    table = run.stdout.split("make train MINE=1: whose code runs\n", 1)[1].splitlines()[:8]

    assert table[0] == "  tokenizer: yours (kata 1, exercises/tokenizer.py)"
    assert table[2].startswith("  model:     yours (kata 9, exercises/gpt.py GPTLanguageModel")
    assert table[4] == "  optimizer: yours (kata 14, exercises/optim.py AdamW)"
    assert table[7] == "  sampling:  yours (kata 13, exercises/sampling.py)"


@pytest.mark.parametrize("where", ["course", "edition"])
def test_a_gpt_that_skips_its_blocks_ends_at_least_0_2_nats_above_the_right_one(
    where, request, corpus, tmp_path
):
    root, right = request.getfixturevalue(where)
    wrong = copy_course(root, tmp_path / "repo")
    edit(wrong, "gpt", BLOCKS, "x = tok + pos")  # a bigram in disguise
    mark_done(wrong, "gpt")  # as if its tests had passed

    run = train_mine(wrong, corpus, "--max-steps", "500")

    assert right.returncode == 0 and run.returncode == 0, run.stderr[-2000:]
    assert read_log(wrong)["val_loss"] >= read_log(root)["val_loss"] + 0.2


def test_make_sample_mine_samples_with_the_learners_katas(course):
    root, _ = course

    run = run_bounded(
        "gptkata.lab.sample", "--mine", "--chars", "20", "--top-k", "3", root=root, env=learners()
    )

    assert run.returncode == 0, run.stderr
    assert len(run.stdout) == 1 + 20 + 1  # the newline prompt, 20 characters, print's newline
    assert "  sampling:  yours (kata 13, exercises/sampling.py)" in run.stderr


def test_a_model_whose_kata_is_not_done_is_one_line_naming_it(course, corpus, tmp_path):
    stub = copy_course(course[0], tmp_path / "repo")
    (stub / "exercises" / "gpt.py").write_text(stubs.stub_source(manifest.get("gpt")))

    run = train_mine(stub, corpus)

    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert error_lines(run.stderr, "make train: ") == [
        "make train: MINE=1 trains your own model, and kata 9 (gpt, not started) is not done "
        "yet: make progress shows what is left"
    ]
    assert not (stub / "runs" / "mine").exists()


def test_parts_whose_katas_are_not_done_are_the_references_or_torchs(course, corpus, tmp_path):
    root = copy_course(course[0], tmp_path / "repo")
    for name in ("optim", "sampling", "block"):
        kata = manifest.get(name)
        (root / "exercises" / f"{kata.module}.py").write_text(stubs.stub_source(kata))

    run = train_mine(root, corpus, "--max-steps", "5")

    assert run.returncode == 0, run.stderr[-2000:]
    assert "  optimizer: torch.optim.AdamW (kata 14 not done)" in run.stdout
    assert "  sampling:  solutions/sampling.py (kata 13 not done)" in run.stdout
    assert "on the reference's earlier katas (not done: 8 block)" in run.stdout
    parts = read_log(root)["parts"]
    assert {name: part["implementation"] for name, part in parts.items()} == {
        "tokenizer": "exercises",
        "batches": "exercises",
        "model": "exercises",
        "estimates": "exercises",
        "optimizer": "torch",
        "schedule": "lab",
        "clipping": "torch",
        "sampling": "solutions",
    }
    assert read_log(root)["model"]["chain"] == "reference"


def test_a_model_that_trains_to_nan_is_one_line_naming_its_kata(course, corpus, tmp_path):
    root = copy_course(course[0], tmp_path / "repo")
    edit(root, "gpt", BLOCKS, f"{BLOCKS} * float('nan')")
    mark_done(root, "gpt")

    run = train_mine(root, corpus, "--max-steps", "5")

    assert run.returncode == 1 and "Traceback" not in run.stderr
    [line] = error_lines(run.stderr, "make train: ")
    assert line.startswith(
        "make train: your model (kata 9, gpt: exercises/gpt.py) passes its tests but trained "
        "to nan or inf by step 0"
    )
    assert "your AdamW (kata 14, optim)" in line


def test_a_model_far_slower_than_the_references_says_so_and_trains(course, corpus, tmp_path):
    root = copy_course(course[0], tmp_path / "repo")
    edit(root, "gpt", BLOCKS, f"{BLOCKS}; __import__('time').sleep(0.05)")
    mark_done(root, "gpt")

    run = train_mine(root, corpus, "--max-steps", "2", "--final-eval-iters", "1")

    assert run.returncode == 0, run.stderr[-2000:]
    [note] = [line for line in run.stdout.splitlines() if line.startswith("note: your model")]
    assert note.startswith("note: your model (kata 9, gpt: exercises/gpt.py) takes")
    assert "times the reference's" in note

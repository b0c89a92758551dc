"""`make progress`: each kata's state, the overall bar and the next step, on scratch
copies where katas are solved, half solved, broken or untouched."""

from gptkata.kata import manifest, progress
from gptkata.kata.pytest_plugin import _named_function
from gptkata.kata.results import BROKEN, TODO, KataState, Result, as_sentence
from tests.tooling.repo import (
    break_syntax,
    exercise,
    gptkata,
    line_of,
    scratch,
    solve,
    solve_all_but,
)


def kata_row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if f" {name} " in line[:16])


def test_progress_shows_done_in_progress_and_broken_and_the_next_step(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching", "bigram")
    solve(root, "tokenizer")
    solve_all_but(root, "batching", "get_batch")
    broken_line = break_syntax(root, "bigram")

    run = gptkata(root, "progress")

    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "done" in kata_row(out, "tokenizer") and "13/13" in kata_row(out, "tokenizer")
    batching = kata_row(out, "batching")
    assert batching.startswith(">") and "in progress" in batching
    passed, total = map(int, batching.split()[-1].split("/"))
    assert 0 < passed < total
    bigram = kata_row(out, "bigram")
    assert "broken" in bigram and "SyntaxError" in bigram
    assert f"exercises/bigram.py:{broken_line}" in bigram
    bigram_tests = len(manifest.get("bigram").test_file.read_text().split("\ndef test_")) - 1
    assert f"{13 + passed} of {13 + total + bigram_tests} tests pass, 1 of 3 katas done" in out

    next_step = out[out.index("Next:") :].splitlines()
    assert next_step[0].startswith(f"Next: kata 2, batching ({passed} of {total} tests pass)")
    assert next_step[1].startswith("  failing: ") and "batching.get_batch" in next_step[1]
    stub_line = line_of(exercise(root, "batching"), "not implemented yet: batching.get_batch")
    assert (
        next_step[2] == f"  edit:    exercises/batching.py, function get_batch (line {stub_line})"
    )
    assert "make show KATA=batching" in next_step[3]
    assert "make test KATA=batching" in next_step[4]
    assert "make hint KATA=batching" in next_step[5]


def test_a_broken_earlier_kata_holds_up_later_ones_only_with_chain_mine(tmp_path):
    root = scratch(tmp_path, "tokenizer", "batching")
    break_syntax(root, "tokenizer")
    solve(root, "batching")

    reference = gptkata(root, "progress").stdout
    mine = gptkata(root, "progress", "--chain", "mine").stdout

    assert "broken" in kata_row(reference, "tokenizer")
    assert "done" in kata_row(reference, "batching")
    batching_on_mine = kata_row(mine, "batching")
    assert "broken" in batching_on_mine and "exercises/tokenizer.py" in batching_on_mine
    assert "CHAIN=mine" in mine and "make test KATA=tokenizer CHAIN=mine" in mine


def outcomes(name: str, *kinds: str) -> KataState:
    kata = manifest.get(name)
    return KataState(
        kata,
        [Result(f"tests/katas/test_{name}.py::t{i}", name, k, "") for i, k in enumerate(kinds)],
    )


def test_a_katas_state_follows_from_its_results():
    # a skip comes from the code under test (no kata test skips itself): not done
    assert outcomes("tokenizer", "passed", "passed", "skipped").state == "in progress"
    assert outcomes("tokenizer", "passed", "failed").state == "in progress"
    assert outcomes("tokenizer", TODO, "failed").state == "in progress"  # begun, but wrong
    assert outcomes("tokenizer", TODO, TODO).state == "not started"
    assert outcomes("tokenizer", "passed", BROKEN).state == "broken"
    assert outcomes("tokenizer").state == "no tests"


def test_passing_bad_input_tests_alone_do_not_start_a_kata():
    kata = manifest.get("tokenizer")

    def state(*tests):
        return KataState(
            kata,
            [
                Result(f"tests/katas/test_tokenizer.py::t{i}", "tokenizer", k, "", bad_input=b)
                for i, (k, b) in enumerate(tests)
            ],
        ).state

    # the given validation passes its tests on the pristine stubs
    assert state((TODO, False), ("passed", True)) == "not started"
    assert state(("passed", False), ("passed", True), (TODO, False)) == "in progress"
    assert state((TODO, False), ("failed", True)) == "in progress"  # given lines edited away
    assert state(("passed", False), ("passed", True)) == "done"


def test_a_not_started_katas_bar_is_empty_and_says_what_passes():
    results = [Result("tests/katas/test_tokenizer.py::t0", "tokenizer", TODO, "")]
    results.append(
        Result("tests/katas/test_tokenizer.py::t1", "tokenizer", "passed", "", bad_input=True)
    )

    line = progress.kata_line(KataState(manifest.get("tokenizer"), results))

    assert "not started  [------------]   1/2 (the given input checks)" in line


def test_the_current_kata_is_the_first_that_is_not_done():
    states = [
        outcomes("tokenizer", "passed"),
        outcomes("batching", TODO),
        outcomes("bigram", "failed"),
    ]
    view = progress.view_lines(states)

    assert view[2].startswith("   1 tokenizer") and view[3].startswith(">  2 batching")
    assert "1 of 3 tests pass, 1 of 3 katas done" in "\n".join(view)
    assert any(line.startswith("Next: kata 2, batching (0 of 1 tests pass)") for line in view)
    assert any(line.startswith("  start:   ") for line in view)


def test_when_every_kata_is_done_progress_says_so():
    view = "\n".join(progress.view_lines([outcomes("tokenizer", "passed")]))

    assert "1 of 1 katas done" in view and "Every kata passes" in view and "Next:" not in view
    assert "make train MINE=1" in view


def test_once_the_gpt_kata_is_done_progress_points_to_training_it():
    before = progress.view_lines([outcomes("gpt", TODO), outcomes("fast_attention", TODO)])
    after = progress.view_lines([outcomes("gpt", "passed"), outcomes("fast_attention", TODO)])

    assert progress.TRAIN_YOURS not in before
    assert after[after.index(progress.TRAIN_YOURS) + 1].startswith("Next: kata 10")


def result(outcome, message="", **fields):
    return Result(
        "tests/katas/test_bigram.py::test_logits_have_shape_b_t_c",
        "bigram",
        outcome,
        message,
        **fields,
    )


def test_next_step_for_a_wrong_answer_names_the_function_to_edit():
    state = KataState(
        manifest.get("bigram"),
        [
            result("passed"),
            result(
                "failed",
                "model(idx); returned: shape (2, 3); expected: shape (2, 3, 65)",
                function="bigram.BigramLanguageModel.forward",
            ),
        ],
    )
    lines = progress.next_step_lines(state)
    assert lines[0].startswith("Next: kata 3, bigram (1 of 2 tests pass)")
    assert lines[1] == (
        "  failing: logits have shape b t c: model(idx); returned: shape (2, 3); expected: shape (2, 3, 65)"
    )
    assert lines[2] == "  edit:    exercises/bigram.py, function BigramLanguageModel.forward"
    assert len(lines) <= 7


def test_next_step_for_a_broken_kata_offers_the_fix_and_reset():
    message = (
        "exercises/bigram.py does not import: SyntaxError: invalid syntax (exercises/bigram.py:9)"
    )
    state = KataState(manifest.get("bigram"), [result(BROKEN, message), result(BROKEN, message)])
    lines = progress.next_step_lines(state, chain="mine")
    assert lines[1] == f"  broken:  {message}"
    assert "make reset KATA=bigram" in lines[2] and "backed up" in lines[2]
    assert any("make test KATA=bigram CHAIN=mine" in line for line in lines)


def test_a_stub_of_an_earlier_kata_points_to_that_katas_file():
    stub = result(
        TODO,
        "not implemented yet: tokenizer.encode (exercises/tokenizer.py:57)",
        stub="tokenizer.encode",
        function="tokenizer.encode",
        where="exercises/tokenizer.py:57",
    )
    assert progress.what_to_edit(stub, manifest.get("bigram")) == (
        "exercises/tokenizer.py, function encode (line 57)"
    )


def test_chain_mine_names_the_earliest_broken_kata_once_and_never_suggests_a_reset(tmp_path):
    root = scratch(tmp_path, "averaging", "attention", "multihead")
    broken_line = break_syntax(root, "averaging")
    solve(root, "attention")
    solve(root, "multihead")

    test = gptkata(root, "test", "--kata", "multihead", "--chain", "mine").stdout
    view = gptkata(root, "progress", "--chain", "mine").stdout

    cause = f"exercises/averaging.py:{broken_line} SyntaxError"
    assert f"multihead waits for averaging: {cause}" in test
    assert "fix:     kata 1, averaging, first" in test
    assert "make reset" not in test and "KataBroken" not in test + view
    assert f"attention waits for averaging: {cause}" in kata_row(view, "attention")
    assert f"multihead waits for averaging: {cause}" in kata_row(view, "multihead")


def test_chain_mine_names_one_blocker_the_same_in_test_and_progress_never_a_pytest_error(
    tmp_path,
):
    chain = [k.name for k in manifest.KATAS[: manifest.get("gpt").number]]
    root = scratch(tmp_path, *chain)
    for name in chain[1:]:  # all but the tokenizer, which gpt's tests build on
        solve(root, name)

    test = gptkata(root, "test", "--kata", "gpt", "--chain", "mine").stdout
    view = gptkata(root, "progress", "--chain", "mine").stdout

    assert "ERROR at setup" not in test and "git apply" not in test
    assert "Not implemented yet in kata gpt" not in test
    assert "  waits:   gpt waits for tokenizer: not implemented yet: tokenizer." in test
    assert "  fix:     kata 1, tokenizer, first" in test
    assert "gpt waits for tokenizer: not implemented yet: tokenizer." in kata_row(view, "gpt")
    named = {
        line.split(" waits for ", 1)[1].split(":", 1)[0]
        for line in (test + view).splitlines()
        if " waits for " in line
    }
    assert named == {"tokenizer"}


def test_chain_mine_names_an_unfinished_earlier_kata_as_the_cause(tmp_path):
    root = scratch(tmp_path, "averaging", "attention")
    solve(root, "attention")

    out = gptkata(root, "test", "--kata", "attention", "--chain", "mine").stdout

    assert "attention waits for averaging: not implemented yet: averaging." in out
    assert "make reset" not in out


def test_a_wrong_answer_of_a_method_names_the_class_and_the_method_to_edit():
    for call in (
        "w after step 1 of AdamW(two groups, lr=1e-2, betas=(0.9, 0.999))",
        "p after one AdamW step, gradient [1e-3, -50, 4], lr=0.1",
        "opt.step(closure)",
    ):
        assert _named_function("optim", call) == "optim.AdamW.step", call
    assert _named_function("optim", "AdamW([p]).defaults") is None
    wrong = result("failed", "w after step 1 of AdamW(...)", function="optim.AdamW.step")
    assert progress.what_to_edit(wrong, manifest.get("optim")) == (
        "exercises/optim.py, function AdamW.step"
    )


def test_a_test_name_reads_as_a_sentence_with_its_possessives_given_back():
    assert as_sentence("test_y_is_x_shifted_by_one") == "y is x shifted by one"
    assert as_sentence("test_encode_hola_gives_the_seeds_ids") == "encode hola gives the seed's ids"
    assert (
        as_sentence("test_cross_entropy_has_torchs_gradient")
        == "cross entropy has torch's gradient"
    )

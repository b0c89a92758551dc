"""Failure messages that never mislead: an exception is shown as raised (with the
learner's line), a type by its readable name, NaN and inf by name and place, each
equivalent method against a known-good value, an error inside the reference at the
learner's call that fed it, and a 'why' that is true for the mistake seen."""

import pytest
import torch

from gptkata import paths
from gptkata.kata import manifest
from gptkata.kata.pytest_plugin import Mismatch
from tests import expect
from tests.tooling.repo import exercise, gptkata, line_of, scratch, solve, with_mistake


def learner_function(source: str, name: str):
    """A function whose code says it comes from exercises/tokenizer.py (line 1 on)."""
    namespace = {}
    exec(compile(source, str(paths.EXERCISES / "tokenizer.py"), "exec"), namespace)
    return namespace[name]


def mismatch(check, *args, **kwargs) -> str:
    with pytest.raises(Mismatch) as failure:
        check(*args, **kwargs)
    return str(failure.value)


def test_an_exception_the_learner_raised_is_shown_as_raised_with_its_line():
    encode = learner_function("def encode(text, stoi):\n    return stoi['z']\n", "encode")

    text = mismatch(expect.value_error, "encode('z', stoi)", encode, "z", {"a": 0})

    assert "  raised:   KeyError: 'z' at exercises/tokenizer.py:2" in text
    assert "returned" not in text


def test_types_are_shown_by_their_readable_names():
    text = mismatch(expect.equal, "type(out)", torch.Tensor, 3)

    assert "returned: the class torch.Tensor" in text
    assert "_TensorMeta" not in text and "expected: int: 3" in text


def test_nan_and_inf_are_named_with_where_they_are():
    got = torch.tensor([[[1.0, float("nan")], [float("inf"), 2.0]]])

    text = mismatch(expect.close, "average_loop(x)", got, torch.ones(1, 2, 2), atol=1e-6)

    assert "returned: NaN at index (0, 0, 1) (2 of 4 values are NaN or inf)" in text
    assert "expected: finite values everywhere" in text


BUGGY_LOOP = """

def average_loop(x):
    out = torch.zeros_like(x)
    for t in range(x.shape[1]):
        out[:, t] = x[:, :t].mean(dim=1)  # off by one: position t itself is left out
    return out
"""


def test_the_wrong_method_of_an_equivalence_is_the_one_named(tmp_path):
    root = scratch(tmp_path, "averaging")
    path = exercise(root, "averaging")
    path.write_text(manifest.get("averaging").solution_file.read_text() + BUGGY_LOOP)

    out = gptkata(root, "test", "--kata", "averaging").stdout

    agree = out[out.index("test_the_three_methods_agree") :]
    assert "average_loop(x)" in agree.splitlines()[1]
    assert "average_matmul(x) vs" not in out and "average_softmax(x) vs" not in out
    assert "expected: tensor([[[nan" not in out


def test_an_error_inside_the_reference_points_at_the_learners_call(tmp_path):
    root = scratch(tmp_path, "averaging", "attention")
    solve(root, "attention")
    path = exercise(root, "attention")
    path.write_text(
        path.read_text().replace(
            "averaging.causal_softmax(scores)", "averaging.causal_softmax(scores[..., :1])"
        )
    )
    call_line = line_of(path, "causal_softmax(scores[..., :1])")

    out = gptkata(root, "test", "--kata", "attention").stdout

    assert "from the reference causal_softmax (solutions/averaging.py:" in out
    assert "called by your Head.forward" in out
    assert f"raised at exercises/attention.py:{call_line}, in Head.forward" in out


UNSCALED = "scores = q @ k.transpose(-2, -1)\n"


def test_the_scale_slip_why_names_only_the_slip_that_was_made(tmp_path):
    root = scratch(tmp_path, "averaging", "attention")
    scaled = "scores = q @ k.transpose(-2, -1) * self.head_size**-0.5\n"
    with_mistake(root, "attention", scaled, UNSCALED)

    out = gptkata(root, "test", "--kata", "attention").stdout

    scale = out[out.index("test_scores_are_scaled_by_head_size_not_by_n_embd") :]
    assert "unscaled scores make the softmax nearly one-hot" in scale
    assert "n_embd ** -0.5" not in scale


def test_a_crash_in_sample_next_after_an_empty_filter_blames_the_filter(tmp_path):
    root = scratch(tmp_path, "sampling")
    with_mistake(root, "sampling", "drop_sorted = mass_before >= p\n", "drop_sorted = probs >= 0\n")

    out = gptkata(root, "test", "--kata", "sampling").stdout

    nucleus = out[out.index("test_top_p_draws_only_from_the_nucleus") :]
    assert "sample_next(logits.expand(400, " in nucleus  # the shape actually passed
    assert "raised:   RuntimeError: probability tensor" in nucleus
    assert "top_k_filter and top_p_filter must always keep at least the likeliest id" in nucleus
    assert "what sample_next must do" not in out
    both = out[out.index("test_top_p_applies_to_what_top_k_kept") :]
    assert "top_k=2, top_p=0.6, generator=g)" in both.splitlines()[1]  # the call, for a raise too


def test_an_error_in_a_given_helper_is_placed_in_that_helper(tmp_path):
    root = scratch(tmp_path, "rope")
    table = "        if self._cos is None or len(self._cos) < length"
    path = with_mistake(root, "rope", table, "        self._cos.shape\n" + table)
    line = line_of(path, "self._cos.shape")

    out = gptkata(root, "test", "--kata", "rope").stdout

    assert f"raised at exercises/rope.py:{line}, in RopeAttention._rope_table" in out
    assert "in RopeAttention.forward" not in out
    assert "what RopeAttention.forward must do" not in out


def test_a_given_input_check_that_refuses_is_not_blamed_but_what_fed_it(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    with_mistake(
        root,
        "tokenizer",
        "return [stoi[ch] for ch in text]",
        "return [stoi[ch] + 1 for ch in text]",
    )

    out = gptkata(root, "test", "--kata", "tokenizer").stdout

    refused = out[out.index("test_decode_inverts_encode") :]
    assert "(the given input check of decode refused what it was passed)" in refused
    assert "in given code, called by decode" in refused
    assert "the check is given and correct: look at what the test passed to decode" in refused
    assert "what _check_ids must do" not in out and "what decode must do" not in refused


def test_a_causality_example_is_one_line_with_its_seed(tmp_path):
    root = scratch(tmp_path, "rope")
    band = "return (distance >= 0) & (distance < window)"
    with_mistake(root, "rope", band, "return distance.abs() < window")

    out = gptkata(root, "test", "--kata", "rope").stdout

    causal = out[out.index("test_rope_attention_is_causal") :].splitlines()
    example = next(line for line in causal if "smallest failing example" in line)
    assert "edit=x of shape (2, 12, 8) from seed" in example and "tensor" not in example


def test_a_difference_below_the_printed_precision_is_shown_with_more_digits():
    got, expected = torch.tensor([[1.54101]]), torch.tensor([[1.54103]])
    assert str(got) == str(expected)  # torch's 4 decimals cannot tell them apart

    text = mismatch(expect.close, "RMSNorm(1)(x)", got, expected, atol=1e-6)

    returned, wanted = text.splitlines()[1:3]
    assert returned.split(":", 1)[1] != wanted.split(":", 1)[1]
    assert "1.54101" in returned and "1.54103" in wanted
    assert "at index (0, 0)" in text
    assert str(got) == "tensor([[1.5410]])"  # the print options are restored


def test_a_refused_argument_blames_the_learners_function_that_passed_it(tmp_path):
    earlier = [k.name for k in manifest.KATAS[: manifest.get("gpt").number]]
    root = scratch(tmp_path, *earlier)
    with_mistake(
        root,
        "gpt",
        "logits, _ = self(idx[:, -self.config.block_size :])",
        "logits, _ = self(idx)",
    )

    out = gptkata(root, "test", "--kata", "gpt").stdout

    assert "(the given input check of forward refused what it was passed)" in out
    assert "the check is given and correct: your generate passed it, at exercises/gpt.py:" in out
    assert (
        "edit:    exercises/gpt.py, function generate" in out
        or "generate" in out.split("edit:")[1].splitlines()[0]
    )

"""Kata 7 - multihead: heads side by side, a projection, and the feed-forward layer.

Tolerance: each module is compared with the same layers applied by hand, in the same
order, so only float32 rounding separates them (below 1e-6 for values of size
about 1). ATOL = 1e-5 accepts that; a missing projection, a wrong concatenation or a
missing ReLU changes the outputs by far more.
"""

import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st

from gptkata.kata.select import Lazy, dependency, implementation
from tests import expect, strategies

multihead = Lazy(implementation, "multihead")
attention = Lazy(dependency, "attention")
ATOL = 1e-5
BLOCK_SIZE = 8


# Seeds the CPU generator that initialises layers: torch.manual_seed would also queue
# seeds for every accelerator, which costs milliseconds per call inside a test.
def make_mha(n_embd, n_head, dropout=0.0, seed=0):
    torch.default_generator.manual_seed(seed)
    return multihead.MultiHeadAttention(n_embd, n_head, BLOCK_SIZE, dropout)


def make_ffwd(n_embd, dropout=0.0, seed=0):
    torch.default_generator.manual_seed(seed)
    return multihead.FeedForward(n_embd, dropout)


def inputs_of_width(n_embd):
    """(B, T, n_embd) float inputs with T up to BLOCK_SIZE."""
    return strategies.float_tensors(strategies.btc_shapes_of_width(n_embd, max_t=BLOCK_SIZE))


def test_multi_head_attention_holds_its_heads_a_projection_and_a_dropout():
    mha = make_mha(n_embd=12, n_head=3)
    heads = getattr(mha, "heads", None)
    expect.equal(
        "type(mha.heads)",
        type(heads),
        nn.ModuleList,
        "an nn.ModuleList, so the heads' parameters belong to the module",
    )
    expect.equal("len(mha.heads)", len(heads), 3, "n_head heads")
    for i, head in enumerate(heads):
        expect.equal(f"type(mha.heads[{i}])", type(head), attention.Head)
        expect.tensor_like(
            f"mha.heads[{i}].key.weight",
            head.key.weight,
            (4, 12),
            torch.float32,
            "each head has head_size = n_embd // n_head = 4",
        )
    expect.equal("type(mha.proj)", type(getattr(mha, "proj", None)), nn.Linear)
    expect.tensor_like("mha.proj.weight", mha.proj.weight, (12, 12), torch.float32)
    expect.tensor_like(
        "mha.proj.bias", mha.proj.bias, (12,), torch.float32, "the projection has a bias"
    )
    expect.equal("type(mha.dropout)", type(getattr(mha, "dropout", None)), nn.Dropout)


@given(strategies.embd_and_heads())
def test_multi_head_attention_has_4n_squared_plus_n_parameters(sizes):
    n, n_head = sizes
    expect.equal(
        f"number of parameters of MultiHeadAttention({n}, {n_head}, ...)",
        sum(p.numel() for p in make_mha(n, n_head).parameters()),
        4 * n * n + n,
        "the heads hold 3 * n * (n // n_head) each, 3n^2 together; the projection n^2 + n",
    )


@given(strategies.embd_and_heads(), st.data())
def test_multi_head_attention_is_its_heads_concatenated_then_projected(sizes, data):
    n, n_head = sizes
    x = data.draw(inputs_of_width(n))
    mha = make_mha(n, n_head)
    with torch.no_grad():
        got = mha(x)
        expected = mha.proj(torch.cat([head(x) for head in mha.heads], dim=-1))
    expect.close(
        f"MultiHeadAttention({n}, {n_head}, ...)(x of shape {tuple(x.shape)})",
        got,
        expected,
        atol=ATOL,
        why="every head sees all of x; concatenate their outputs on the last dimension, "
        "then project back to n_embd; 1e-5 allows float32 rounding only",
    )


@given(strategies.future_edits(inputs_of_width(8)), strategies.seeds)
def test_no_output_of_multi_head_attention_depends_on_a_later_position(edit, seed):
    expect.causal(
        "mha(x)",
        make_mha(8, 2, seed=seed),
        edit,
        atol=ATOL,
        why="every head is causal, and the projection works on each position alone",
    )


@pytest.mark.bad_input
def test_n_embd_not_divisible_by_n_head_is_a_value_error():
    for n_embd, n_head in ((10, 3), (8, 5), (8, 0), (0, 1)):
        expect.value_error(
            f"MultiHeadAttention(n_embd={n_embd}, n_head={n_head}, ...)",
            multihead.MultiHeadAttention,
            n_embd,
            n_head,
            BLOCK_SIZE,
            mentions=(f"n_embd={n_embd}", f"n_head={n_head}"),
        )


def test_feed_forward_is_linear_relu_linear_dropout_four_times_wider_inside():
    ffwd = make_ffwd(6)
    net = getattr(ffwd, "net", None)
    expect.equal("type(ffwd.net)", type(net), nn.Sequential)
    expect.equal(
        "[type(layer) for layer in ffwd.net]",
        [type(layer) for layer in net],
        [nn.Linear, nn.ReLU, nn.Linear, nn.Dropout],
    )
    expect.tensor_like(
        "ffwd.net[0].weight", net[0].weight, (24, 6), torch.float32, "Linear(n_embd, 4 n_embd)"
    )
    expect.tensor_like(
        "ffwd.net[2].weight", net[2].weight, (6, 24), torch.float32, "Linear(4 n_embd, n_embd)"
    )


@given(st.integers(1, 24))
def test_feed_forward_has_8n_squared_plus_5n_parameters(n):
    expect.equal(
        f"number of parameters of FeedForward({n})",
        sum(p.numel() for p in make_ffwd(n).parameters()),
        8 * n * n + 5 * n,
        "Linear(n, 4n) holds 4n^2 + 4n, Linear(4n, n) holds 4n^2 + n",
    )


@given(st.integers(1, 12).flatmap(inputs_of_width))
def test_feed_forward_computes_each_position_on_its_own(x):
    n = x.shape[-1]
    ffwd = make_ffwd(n)
    with torch.no_grad():
        got = ffwd(x)
        first, second = ffwd.net[0], ffwd.net[2]
        expected = second(torch.relu(first(x)))
        # The same layers, one position at a time: no position sees another.
        one_by_one = torch.stack([second(torch.relu(first(x[:, t]))) for t in range(x.shape[1])], 1)
    call = f"FeedForward({n})(x of shape {tuple(x.shape)})"
    expect.close(call, got, expected, atol=ATOL, why="Linear, ReLU, Linear; 1e-5 is rounding")
    expect.close(
        call, got, one_by_one, atol=ATOL, why="the same MLP applied to every position alone"
    )


def test_dropout_acts_in_train_mode_and_not_in_eval_mode():
    x = torch.randn(4, BLOCK_SIZE, 8, generator=torch.Generator().manual_seed(0))
    for name, module in (
        ("MultiHeadAttention(8, 2, ..., dropout=0.5)", make_mha(8, 2, dropout=0.5)),
        ("FeedForward(8, dropout=0.5)", make_ffwd(8, dropout=0.5)),
    ):
        with torch.no_grad():
            module.train()
            first, second = module(x), module(x)
            module.eval()
            evaluated, again = module(x), module(x)
        expect.equal(
            f"{name} in train mode: two calls on the same x give the same output",
            torch.equal(first, second),
            False,
            "nn.Dropout draws a fresh random mask at every call in train mode",
        )
        expect.equal(
            f"{name} in eval mode: two calls on the same x give the same output",
            torch.equal(evaluated, again),
            True,
            "in eval mode dropout does nothing, so the module is deterministic",
        )
        zeros = (first == 0).float().mean().item()
        expect.equal(
            f"{name}: {zeros:.0%} of the train-mode output is zero, between 30% and 70%",
            0.3 < zeros < 0.7,
            True,
            "the dropout comes last, on the output itself: it zeroes about half of its "
            "256 numbers (the bias of the last Linear makes exact zeros otherwise unlikely)",
        )


def test_the_heads_get_the_dropout_and_nothing_is_dropped_unless_asked():
    mha = make_mha(8, 2, dropout=0.5)
    expect.equal(
        "[head.dropout.p for head in MultiHeadAttention(8, 2, ..., dropout=0.5).heads]",
        [head.dropout.p for head in mha.heads],
        [0.5, 0.5],
        "each Head(n_embd, head_size, block_size, dropout) drops its attention weights too",
    )
    x = torch.randn(2, BLOCK_SIZE, 8, generator=torch.Generator().manual_seed(0))
    torch.default_generator.manual_seed(0)
    for name, module in (
        ("MultiHeadAttention(8, 2, BLOCK_SIZE)", multihead.MultiHeadAttention(8, 2, BLOCK_SIZE)),
        ("FeedForward(8)", multihead.FeedForward(8)),
    ):
        with torch.no_grad():
            trained, evaluated = module.train()(x), module.eval()(x)
        expect.equal(
            f"{name} in training mode: module(x) against module.eval()(x)",
            trained,
            evaluated,
            "dropout defaults to 0.0: nothing is dropped, even while training",
        )


@pytest.mark.bad_input
def test_x_with_another_channel_count_is_a_value_error():
    expect.value_error(
        "MultiHeadAttention(8, 2, ...)(x of shape (2, 3, 6))",
        make_mha(8, 2),
        torch.zeros(2, 3, 6),
        mentions=("x", "n_embd=8", "(2, 3, 6)"),
    )

"""Kata 6 - attention: one head of causal self-attention.

Tolerance: the head and the references below (a computation written out by hand,
torch's fused `scaled_dot_product_attention`) add the same float32 products in
different orders, so they differ by rounding only: below 1e-6 for values of size
about 1 (at most 7e-7 over 2,000 random heads). ATOL = 1e-5 accepts that with room
to spare, while a wrong scale, a missing mask or a missing softmax moves the
outputs by 1e-2 or more.
"""

import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies

attention = Lazy(implementation, "attention")
ATOL = 1e-5
BLOCK_SIZE = 8  # the longest T the strategies below draw


# Seeds the CPU generator that initialises layers: torch.manual_seed would also queue
# seeds for every accelerator, which costs milliseconds per call inside a test.
def make_head(n_embd, head_size, block_size=BLOCK_SIZE, dropout=0.0, seed=0):
    torch.default_generator.manual_seed(seed)
    return attention.Head(n_embd, head_size, block_size, dropout)


def inputs(max_c=8):
    """(B, T, C) float inputs with T up to BLOCK_SIZE."""
    return strategies.float_tensors(strategies.btc_shapes(max_t=BLOCK_SIZE, max_c=max_c))


def test_a_head_has_bias_free_key_query_and_value_projections_and_a_dropout():
    head = make_head(n_embd=8, head_size=4)
    for name in ("key", "query", "value"):
        layer = getattr(head, name, None)
        expect.equal(f"type(head.{name})", type(layer), nn.Linear)
        expect.tensor_like(
            f"head.{name}.weight",
            layer.weight,
            (4, 8),
            torch.float32,
            "nn.Linear(n_embd, head_size) keeps its weight as (head_size, n_embd)",
        )
        expect.equal(
            f"head.{name}.bias", layer.bias, None, "bias=False: the projections have no bias"
        )
    expect.equal("type(head.dropout)", type(getattr(head, "dropout", None)), nn.Dropout)


@given(st.integers(1, 16), st.integers(1, 16))
def test_a_head_has_three_n_embd_by_head_size_matrices_of_parameters(n_embd, head_size):
    head = make_head(n_embd, head_size)
    expect.equal(
        f"number of parameters of Head({n_embd}, {head_size}, ...)",
        sum(p.numel() for p in head.parameters()),
        3 * n_embd * head_size,
        "key, query and value: three (head_size, n_embd) weights, no biases",
    )


@given(inputs(), st.integers(1, 6))
def test_forward_maps_b_t_n_embd_to_b_t_head_size(x, head_size):
    B, T, C = x.shape
    out = make_head(C, head_size)(x)
    expect.tensor_like(
        f"Head({C}, {head_size}, block_size={BLOCK_SIZE})(x of shape {(B, T, C)})",
        out,
        (B, T, head_size),
        torch.float32,
        "one head_size vector per position, for any T up to block_size",
    )


@given(inputs(), st.integers(1, 6), strategies.seeds)
def test_a_head_equals_scaled_dot_product_attention_on_its_own_projections(x, head_size, seed):
    head = make_head(x.shape[-1], head_size, seed=seed)
    with torch.no_grad():
        got = head(x)
        q, k, v = head.query(x), head.key(x), head.value(x)
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expect.close(
        f"Head({x.shape[-1]}, {head_size}, ...)(x of shape {tuple(x.shape)})",
        got,
        expected,
        atol=ATOL,
        why="softmax(q @ k^T * head_size ** -0.5 with the future masked) @ v, "
        "which is what F.scaled_dot_product_attention(q, k, v, is_causal=True) computes; "
        "1e-5 allows float32 rounding only",
    )


def test_scores_are_scaled_by_head_size_not_by_n_embd():
    n_embd, head_size, T = 32, 2, 8
    head = make_head(n_embd, head_size)
    x = torch.randn(2, T, n_embd, generator=torch.Generator().manual_seed(0)) * 3.0
    with torch.no_grad():
        q, k, v = head.query(x), head.key(x), head.value(x)
        scores = q @ k.transpose(-2, -1)  # (2, T, T)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

        def attend(scale):
            return scores.mul(scale).masked_fill(future, float("-inf")).softmax(dim=-1) @ v

        right, slip, unscaled = attend(head_size**-0.5), attend(n_embd**-0.5), attend(1.0)
        got = head(x)
    # This example tells the three scales apart by far more than the tolerance.
    assert min((right - slip).abs().max(), (right - unscaled).abs().max()) > 1000 * ATOL
    why = "the dot product q . k runs over head_size numbers, so scale the scores by head_size ** -0.5"
    for mistake, wrong in (
        ("n_embd ** -0.5 (the lecture's first version) flattens the softmax", slip),
        ("unscaled scores make the softmax nearly one-hot", unscaled),
    ):
        if isinstance(got, torch.Tensor) and got.shape == wrong.shape:
            if torch.allclose(got, wrong, atol=ATOL):
                why += f"; this looks like the slip: {mistake}"
    expect.close(
        f"Head(n_embd={n_embd}, head_size={head_size}, ...)(x)", got, right, atol=ATOL, why=why
    )


@given(strategies.future_edits(inputs()), strategies.seeds)
def test_no_output_depends_on_a_later_position(edit, seed):
    head = make_head(edit[0].shape[-1], 4, seed=seed)
    expect.causal(
        "head(x)",
        head,
        edit,
        atol=ATOL,
        why="position t may attend to positions 0..t only: mask the future before the softmax",
    )


def test_dropout_drops_whole_attention_weights_in_train_mode_only():
    head = make_head(n_embd=4, head_size=3, dropout=0.5)
    x = torch.randn(64, 1, 4, generator=torch.Generator().manual_seed(0))  # T = 1
    with torch.no_grad():
        v = head.value(x)  # (64, 1, 3)
        torch.default_generator.manual_seed(0)
        out = head.train()(x)
        evaluated = head.eval()(x)
    # With T = 1 the only attention weight is 1; dropout turns it into 0 or 1 / (1 - 0.5).
    dropped = (out == 0).all(dim=-1)
    kept = torch.isclose(out, 2 * v, atol=ATOL).all(dim=-1)
    expect.equal(
        "in train mode, every head(x)[b, 0] is 0 or 2 * head.value(x)[b, 0] (T = 1, p = 0.5)",
        bool((dropped | kept).all()),
        True,
        "dropout acts on the (B, T, T) attention weights, whole weights at a time, "
        "not on the output channels",
    )
    expect.equal(
        "(some rows dropped, some kept) over a batch of 64",
        (bool(dropped.any()), bool(kept.any())),
        (True, True),
        "nn.Dropout(0.5) is active in train mode and zeroes about half the weights",
    )
    expect.close(
        "head.eval()(x) with T = 1",
        evaluated,
        v,
        atol=ATOL,
        why="in eval mode dropout does nothing, and one position attends to itself alone",
    )


def test_a_sequence_of_block_size_is_allowed():
    head = make_head(n_embd=8, head_size=4, block_size=6)
    expect.tensor_like(
        "Head(8, 4, block_size=6)(x of shape (2, 6, 8))",
        head(torch.randn(2, 6, 8)),
        (2, 6, 4),
        torch.float32,
        "T == block_size is allowed",
    )


def test_sizes_of_one_are_allowed_and_nothing_is_dropped_unless_asked():
    torch.default_generator.manual_seed(0)
    head = expect.returns(
        "Head(1, 1, block_size=1)",
        attention.Head,
        1,
        1,
        1,
        why="a size of 1 is a size: only sizes below 1 are refused",
    )
    x = torch.randn(2, 1, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        trained, evaluated = head.train()(x), head.eval()(x)
    expect.equal(
        "Head(1, 1, 1) in training mode: head(x) against head.eval()(x)",
        trained,
        evaluated,
        "dropout defaults to 0.0: nothing is dropped, even while training",
    )


@pytest.mark.bad_input
def test_a_sequence_longer_than_block_size_is_a_value_error():
    head = make_head(n_embd=8, head_size=4, block_size=6)
    x = torch.randn(2, 7, 8)
    expect.value_error(
        "Head(8, 4, block_size=6)(x of shape (2, 7, 8))", head, x, mentions=("7", "6")
    )


@pytest.mark.bad_input
def test_x_with_another_channel_count_is_a_value_error():
    head = make_head(n_embd=8, head_size=4)
    expect.value_error(
        "Head(8, 4, ...)(x of shape (2, 3, 6))",
        head,
        torch.zeros(2, 3, 6),
        mentions=("x", "n_embd=8", "(2, 3, 6)"),
    )
    expect.value_error(
        "Head(8, 4, ...)(x of shape (3, 8))", head, torch.zeros(3, 8), mentions=("x", "(3, 8)")
    )


@pytest.mark.bad_input
def test_a_head_size_of_zero_is_a_value_error():
    expect.value_error(
        "Head(8, head_size=0, block_size=8)",
        attention.Head,
        8,
        0,
        8,
        mentions=("head_size=0",),
    )

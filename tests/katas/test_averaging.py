"""Kata 5 - the averaging trick: loop, matmul and masked softmax agree, causally.

Tolerance: the three methods add the same float32 numbers in different orders, so
they may differ in the last bits (the seed measures 3.2e-08). torch.allclose's
default absolute tolerance (1e-8) rejects that; ATOL = 1e-6 accepts rounding of
values of size ~1 while any real mistake (a wrong weight is off by >= 1e-2) fails.
"""

import pytest
import torch
from hypothesis import given

from gptkata.kata.select import Lazy, implementation
from tests import expect, seed_values, strategies

averaging = Lazy(implementation, "averaging")
ATOL = 1e-6


def seed_x():
    return torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(1337))


def test_the_toy_3x2_aggregation_of_the_seed():
    a = averaging.causal_average_weights(3)
    expect.close(
        "causal_average_weights(3)",
        a,
        torch.tensor(seed_values.TOY_A),
        atol=ATOL,
        why="row t holds 1/(t+1) on columns 0..t",
    )
    b = torch.randint(0, 10, (3, 2), generator=torch.Generator().manual_seed(42)).float()
    expect.equal("b (seed 42)", b, torch.tensor(seed_values.TOY_B))
    expect.close(
        "causal_average_weights(3) @ b",
        a @ b,
        torch.tensor(seed_values.TOY_C),
        atol=1e-5,
        why="each row of c is the mean of the rows of b up to it (printed to 4 places)",
    )


def prefix_mean(x: torch.Tensor) -> torch.Tensor:
    """The means written as cumulative sums divided by counts: an independent formula,
    the known-good value every method is compared with."""
    return x.cumsum(dim=1) / torch.arange(1, x.shape[1] + 1).view(1, -1, 1)


def test_the_loop_is_the_prefix_mean():
    x = seed_x()
    out = averaging.average_loop(x)
    expect.tensor_like("average_loop(x)", out, (4, 8, 2), torch.float32)
    expect.close(
        "average_loop(x)", out, prefix_mean(x), atol=ATOL, why="out[b, t] = x[b, :t+1].mean(0)"
    )


def test_loop_and_matmul_differ_only_by_rounding_as_in_the_seed():
    x = seed_x()
    diff = (averaging.average_loop(x) - averaging.average_matmul(x)).abs().max().item()
    expect.equal(
        f"max |loop - matmul| = {diff:.3g} below 1e-6",
        diff < ATOL,
        True,
        f"the seed measures {seed_values.LOOP_VS_MATMUL_MAX_DIFF:.3g}: float rounding only",
    )


@given(strategies.float_tensors(strategies.btc_shapes()))
def test_the_three_methods_agree(x):
    # each method against the known-good prefix mean, so a wrong one is the one named
    expected, call = prefix_mean(x), f"for x of shape {tuple(x.shape)}: "
    for name, why in (
        ("average_loop", "out[b, t] = x[b, :t+1].mean(0)"),
        ("average_matmul", "wei @ x with wei = causal_average_weights(T)"),
        ("average_softmax", "softmax of zeros with the future masked to -inf is the same wei"),
    ):
        got = getattr(averaging, name)(x)
        expect.close(f"{call}{name}(x)", got, expected, atol=ATOL, why=why)


def test_the_averages_keep_xs_dtype():
    x = seed_x().double()
    for name in ("average_matmul", "average_softmax"):
        got = expect.returns(
            f"{name}(x of dtype float64)",
            getattr(averaging, name),
            x,
            why="the weights must have x's dtype to multiply it: torch.matmul does not mix "
            "float32 and float64",
        )
        expect.close(
            f"{name}(x of dtype float64)",
            got,
            prefix_mean(x),
            atol=ATOL,
            why="the weights are made in x's dtype (.to(x.dtype), dtype=x.dtype), so a float64 "
            "x gives float64 averages",
        )


@given(strategies.future_edits(strategies.float_tensors(strategies.btc_shapes())))
def test_averages_never_see_the_future(edit):
    for name in ("average_loop", "average_matmul", "average_softmax"):
        expect.causal(
            f"{name}(x)",
            getattr(averaging, name),
            edit,
            atol=ATOL,
            why="position t may only use positions 0..t",
        )


def test_causal_average_weights_rows_sum_to_one_below_the_diagonal():
    for T in (1, 2, 5, 8):
        wei = averaging.causal_average_weights(T)
        expect.tensor_like(f"causal_average_weights({T})", wei, (T, T), torch.float32)
        expect.close(
            f"causal_average_weights({T}).sum(dim=1)",
            wei.sum(dim=1),
            torch.ones(T),
            atol=ATOL,
            why="each row is an average: its weights sum to 1",
        )
        expect.equal(
            f"causal_average_weights({T}).triu(1) is all zero",
            bool((wei.triu(1) == 0).all()),
            True,
            "nothing above the diagonal: no weight on the future",
        )


def test_causal_softmax_reproduces_the_seeds_random_wei():
    g = torch.Generator().manual_seed(1337)
    torch.randn(4, 8, 2, generator=g)  # the seed draws x first
    wei = averaging.causal_softmax(torch.randn(8, 8, generator=g))
    expect.close(
        "causal_softmax(torch.randn(8, 8))",
        wei,
        torch.tensor(seed_values.RANDOM_WEI),
        atol=6e-5,
        why="masked_fill(tril == 0, -inf) then softmax(dim=-1); the seed prints 4 decimals",
    )


@given(strategies.float_tensors(strategies.square_shapes(), scale=3.0))
def test_causal_softmax_is_a_causal_distribution_for_any_scores(scores):
    wei = averaging.causal_softmax(scores)
    T = scores.shape[-1]
    call = f"causal_softmax(scores of shape {tuple(scores.shape)})"
    expect.tensor_like(call, wei, tuple(scores.shape), scores.dtype)
    expect.close(
        call + ".sum(-1)",
        wei.sum(-1),
        torch.ones(scores.shape[:-1]),
        atol=ATOL,
        why="softmax rows are probability distributions",
    )
    expect.equal(
        call + ": upper triangle all zero",
        bool((wei.triu(1) == 0).all()),
        True,
        "masked (future) entries must get exactly zero weight",
    )
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    changed = scores.masked_fill(future, 123.0)
    expect.close(
        call + " after changing only future scores",
        averaging.causal_softmax(changed),
        wei,
        atol=ATOL,
        why="future scores must change nothing",
    )


def test_causal_softmax_of_zeros_is_the_average():
    expect.close(
        "causal_softmax(torch.zeros(5, 5))",
        averaging.causal_softmax(torch.zeros(5, 5)),
        torch.tril(torch.ones(5, 5)) / torch.arange(1, 6).view(5, 1),
        atol=ATOL,
        why="equal scores on the past become equal weights",
    )


@pytest.mark.bad_input
def test_bad_shapes_are_value_errors():
    expect.value_error(
        "average_loop(torch.zeros(8, 2))",
        averaging.average_loop,
        torch.zeros(8, 2),
        mentions=("(8, 2)",),
    )
    expect.value_error(
        "average_matmul(torch.zeros(8, 2))",
        averaging.average_matmul,
        torch.zeros(8, 2),
        mentions=("(8, 2)",),
    )
    expect.value_error(
        "average_softmax(torch.zeros(8))",
        averaging.average_softmax,
        torch.zeros(8),
        mentions=("(8,)",),
    )
    expect.value_error(
        "causal_average_weights(0)", averaging.causal_average_weights, 0, mentions=("0",)
    )
    expect.value_error(
        "causal_softmax(torch.zeros(3, 4))",
        averaging.causal_softmax,
        torch.zeros(3, 4),
        mentions=("(3, 4)",),
    )


@pytest.mark.bad_input
def test_a_size_that_is_not_a_whole_number_is_refused_naming_t():
    for bad in (2.5, True):
        expect.value_error(
            f"causal_average_weights({bad!r})",
            averaging.causal_average_weights,
            bad,
            mentions=("T", "whole number", repr(bad)),
        )

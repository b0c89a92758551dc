"""Kata 13 - sampling: temperature, top-k and top-p (nucleus) decoding.

Draws are compared with torch.multinomial under the same generator state: the same
probabilities and the same random numbers give the same ids, exactly. Where a filter
decides, each row is repeated DRAWS times and one call draws them all, so an id that
must never be drawn would show up.

Tolerance for the nucleus: the test computes the mass of the likelier ids in float64,
the implementation in float32; an id whose mass-before lies within SLACK = 1e-5 of p
may go either way (float32 sums of up to 20 probabilities err by about 1e-6).
"""

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies

sampling = Lazy(implementation, "sampling")

DRAWS = 400
SLACK = 1e-5
# Probabilities 0.5, 0.3, 0.15, 0.05 on ids 2, 0, 3, 1: the vocabulary order is not
# the order of likelihood.
FOUR = torch.tensor([[0.3, 0.05, 0.5, 0.15]]).log()
BY_LIKELIHOOD = [2, 0, 3, 1]


def generator(seed: int = 1337) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def drawn(ids: torch.Tensor) -> set[int]:
    return set(ids.flatten().tolist())


def no_id_left(error: Exception) -> str:
    """The why of an exception raised by sample_next with a filter on."""
    if "probability tensor contains" in str(error):
        return (
            "torch.multinomial found a row with no finite logit after the filters: every id "
            "of some row was set to -inf (probabilities 0/0 = nan). top_k_filter and "
            "top_p_filter must always keep at least the likeliest id of each row"
        )
    return "the filters only set logits to -inf; then one draw per row from their softmax"


def sample(call: str, logits: torch.Tensor, **kwargs) -> torch.Tensor:
    """sample_next(logits, **kwargs); a raise is shown with `call` and what it means."""
    return expect.returns(call, sampling.sample_next, logits, why=no_id_left, **kwargs)


@given(strategies.logit_batches(), strategies.seeds)
def test_one_long_id_per_row(logits, seed):
    B, V = logits.shape
    ids = sampling.sample_next(logits, generator=generator(seed))
    expect.tensor_like(
        f"sample_next(logits of shape {(B, V)})",
        ids,
        (B, 1),
        torch.long,
        "one id per row, shaped (B, 1) to be concatenated to the context",
    )
    expect.equal(
        "every id in 0..V-1", bool(((ids >= 0) & (ids < V)).all()), True, "ids index the logits"
    )


@given(strategies.logit_batches(), strategies.seeds)
def test_temperature_one_without_filters_is_multinomial_of_the_softmax(logits, seed):
    expect.equal(
        f"sample_next(logits of shape {tuple(logits.shape)}, generator=g)",
        sampling.sample_next(logits, generator=generator(seed)),
        torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator(seed)),
        "the model's own distribution, drawn with torch.multinomial and the generator given",
    )


@given(strategies.logit_batches(), strategies.temperatures, strategies.seeds)
def test_temperature_divides_the_logits_before_the_softmax(logits, temperature, seed):
    expect.equal(
        f"sample_next(logits, temperature={temperature!r}, generator=g)",
        sampling.sample_next(logits, temperature=temperature, generator=generator(seed)),
        torch.multinomial(F.softmax(logits / temperature, dim=-1), 1, generator=generator(seed)),
        "softmax(logits / temperature): below 1 sharper, above 1 flatter",
    )


@given(strategies.logit_batches())
def test_temperature_zero_is_the_argmax(logits):
    expect.equal(
        f"sample_next(logits of shape {tuple(logits.shape)}, temperature=0)",
        sampling.sample_next(logits, temperature=0.0),
        logits.argmax(dim=-1, keepdim=True),
        "the limit of an ever lower temperature: always the likeliest id (greedy decoding)",
    )


def test_greedy_decoding_takes_the_argmax_without_dividing_by_the_temperature():
    logits = torch.tensor([[0.0, -1.0, -2.0], [1.0, float("inf"), 0.0], [float("-inf")] * 3])
    expect.equal(
        "sample_next(tensor([[0, -1, -2], [1, inf, 0], [-inf, -inf, -inf]]), temperature=0)",
        expect.returns(
            "sample_next(logits, temperature=0)",
            sampling.sample_next,
            logits,
            temperature=0,
            why="greedy decoding needs no division and no softmax, so every row has an argmax",
        ),
        torch.tensor([[0], [1], [0]]),
        "temperature 0 is the argmax of the logits as they are: no division (0 / 0 is NaN), "
        "no softmax, so a largest logit of 0, of +inf or of -inf still has its argmax",
    )


@given(strategies.logit_batches(), strategies.seeds)
def test_top_k_of_one_is_the_argmax(logits, seed):
    call = f"sample_next(logits of shape {tuple(logits.shape)}, top_k=1, generator=g)"
    expect.equal(
        call,
        sample(call, logits, top_k=1, generator=generator(seed)),
        logits.argmax(dim=-1, keepdim=True),
        "only the likeliest id keeps a chance",
    )


@given(strategies.logit_batches(), st.integers(1, 25))
def test_top_k_filter_keeps_exactly_the_k_largest(logits, k):
    V = logits.shape[-1]
    top = torch.topk(logits, min(k, V), dim=-1).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, top, True)
    expect.equal(
        f"top_k_filter(logits of shape {tuple(logits.shape)}, {k})",
        sampling.top_k_filter(logits, k),
        logits.masked_fill(~keep, float("-inf")),
        "the k largest logits of each row unchanged, every other one -inf (k > V keeps all)",
    )


@given(strategies.logit_batches(max_b=1), st.integers(1, 20), strategies.seeds)
def test_nothing_outside_the_top_k_is_ever_drawn(logits, k, seed):
    V = logits.shape[-1]
    allowed = set(torch.topk(logits[0], min(k, V)).indices.tolist())
    call = f"sample_next(logits.expand({DRAWS}, {V}), top_k={k}, generator=g)"
    ids = sample(call, logits.expand(DRAWS, V), top_k=k, generator=generator(seed))
    expect.equal(
        f"ids drawn by {call} (the example's row {DRAWS} times), outside the top {k}",
        sorted(drawn(ids) - allowed),
        [],
        "ids outside the k likeliest must have probability 0",
    )


def test_top_p_filter_keeps_the_smallest_set_that_reaches_p():
    for p, kept in ((0.4, 1), (0.6, 2), (0.7, 2), (0.9, 3), (0.97, 4), (1.0, 4)):
        keep = torch.zeros(1, 4, dtype=torch.bool)
        keep[0, BY_LIKELIHOOD[:kept]] = True
        expect.equal(
            f"top_p_filter(log([0.3, 0.05, 0.5, 0.15]), {p})",
            sampling.top_p_filter(FOUR, p),
            FOUR.masked_fill(~keep, float("-inf")),
            f"the likeliest ids until their mass reaches {p}: the {kept} likeliest",
        )


def test_top_p_stops_as_soon_as_the_likelier_ids_hold_exactly_p():
    # four equally likely ids: probabilities 1/4 each, and masses 1/4, 1/2, 3/4 exact in
    # float32, so an id whose likelier ids hold exactly p is on the edge, with no rounding
    uniform = torch.zeros(1, 4)
    for p, kept in ((0.25, 1), (0.5, 2), (0.75, 3)):
        filtered = sampling.top_p_filter(uniform, p)
        expect.equal(
            f"the number of ids top_p_filter(torch.zeros(1, 4), {p}) keeps (not -inf)",
            int(torch.isfinite(filtered).sum()),
            kept,
            f"the nucleus is complete once its mass reaches p: {kept} ids of 1/4 hold {p} "
            f"already, so the next one is out (an id stays only while the likelier ids hold "
            f"less than p, not while they hold p or less)",
        )


@given(strategies.logit_batches(max_b=1), strategies.top_ps, strategies.seeds)
def test_top_p_draws_only_from_the_nucleus(logits, p, seed):
    V = logits.shape[-1]
    probs = F.softmax(logits[0].double(), dim=-1)
    sorted_probs, order = probs.sort(descending=True)
    before = sorted_probs.cumsum(0) - sorted_probs
    assume(not bool(((before - p).abs() < SLACK).any()))  # no id on the edge of the nucleus
    nucleus = set(order[before < p].tolist())
    call = f"sample_next(logits.expand({DRAWS}, {V}), top_p={p!r}, generator=g)"
    ids = sample(call, logits.expand(DRAWS, V), top_p=p, generator=generator(seed))
    expect.equal(
        f"ids drawn by {call} (the example's row {DRAWS} times), outside the nucleus",
        sorted(drawn(ids) - nucleus),
        [],
        "only the smallest set of likeliest ids whose probabilities add up to p",
    )


def test_every_id_of_the_nucleus_can_be_drawn():
    call = "sample_next(log([0.3, 0.05, 0.5, 0.15]).expand(2000, 4), top_p=0.9, generator=g)"
    ids = sample(call, FOUR.expand(2000, 4), top_p=0.9, generator=generator())
    expect.equal(
        f"set({call})",
        drawn(ids),
        {0, 2, 3},
        "the nucleus is renormalised and sampled from: its three ids (0.5, 0.3, 0.15) all appear",
    )


def test_top_p_applies_to_what_top_k_kept():
    call = (
        "sample_next(log([0.3, 0.05, 0.5, 0.15]).expand(2000, 4), top_k=2, top_p=0.6, generator=g)"
    )
    ids = sample(call, FOUR.expand(2000, 4), top_k=2, top_p=0.6, generator=generator())
    expect.equal(
        f"set({call})",
        drawn(ids),
        {2},
        "top-k first: 0.5 and 0.3 remain, renormalised 0.625 and 0.375; then top-p of what "
        "remains: 0.625 alone reaches 0.6",
    )


# -- bad input: given in the exercise, tested one by one ---------------------------


@pytest.mark.bad_input
def test_a_negative_temperature_is_refused():
    expect.value_error(
        "sample_next(logits, temperature=-0.5)",
        sampling.sample_next,
        FOUR,
        temperature=-0.5,
        mentions=("temperature", "-0.5"),
    )


@pytest.mark.bad_input
def test_a_top_k_below_one_is_refused():
    expect.value_error(
        "sample_next(logits, top_k=0)", sampling.sample_next, FOUR, top_k=0, mentions=("top_k",)
    )


@pytest.mark.bad_input
def test_a_top_p_outside_zero_to_one_is_refused():
    for p in (0.0, 1.5):
        expect.value_error(
            f"sample_next(logits, top_p={p})",
            sampling.sample_next,
            FOUR,
            top_p=p,
            mentions=("top_p", str(p)),
        )


@pytest.mark.bad_input
def test_logits_that_are_not_b_by_v_are_refused():
    expect.value_error(
        "sample_next(torch.zeros(4))",
        sampling.sample_next,
        torch.zeros(4),
        mentions=("logits", "(4,)"),
    )


@pytest.mark.bad_input
def test_nan_logits_are_refused_naming_the_row():
    logits = torch.tensor([[0.0, 1.0], [float("nan"), 1.0]])
    for temperature in (1.0, 0.0):
        expect.value_error(
            f"sample_next(logits with a NaN in row 1, temperature={temperature})",
            sampling.sample_next,
            logits,
            temperature=temperature,
            mentions=("logits[1]", "NaN"),
        )


@pytest.mark.bad_input
def test_a_temperature_so_small_that_the_logits_overflow_is_refused():
    expect.value_error(
        "sample_next(logits, temperature=1e-40)",
        sampling.sample_next,
        FOUR,
        temperature=1e-40,
        mentions=("temperature", "1e-40", "too small"),
    )


@pytest.mark.bad_input
def test_logits_that_are_not_a_float_tensor_are_refused_naming_the_type():
    expect.value_error(
        "sample_next([[0.0, 1.0]])",
        sampling.sample_next,
        [[0.0, 1.0]],
        mentions=("logits", "float", "list"),
    )
    expect.value_error(
        "sample_next(torch.tensor([[1, 2]]))",
        sampling.sample_next,
        torch.tensor([[1, 2]]),
        mentions=("logits", "float"),
    )


@pytest.mark.bad_input
def test_logits_over_an_empty_vocabulary_are_refused():
    expect.value_error(
        "sample_next(torch.zeros(2, 0))",
        sampling.sample_next,
        torch.zeros(2, 0),
        mentions=("logits", "(2, 0)"),
    )


@pytest.mark.bad_input
def test_a_row_with_inf_or_only_minus_inf_is_refused_naming_the_row():
    for row, words in (
        ([float("inf"), 0.0], ("logits[1]", "+inf")),
        ([float("-inf")] * 2, ("logits[1]", "-inf")),
    ):
        expect.value_error(
            f"sample_next(tensor([[0, 1], {row}]))",
            sampling.sample_next,
            torch.tensor([[0.0, 1.0], row]),
            mentions=words,
        )


@pytest.mark.bad_input
def test_a_top_k_of_true_is_refused():
    expect.value_error(
        "sample_next(logits, top_k=True)",
        sampling.sample_next,
        FOUR,
        top_k=True,
        mentions=("top_k", "True"),
    )

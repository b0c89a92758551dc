"""Kata 2 - batching: the data tensor, the split, context/target pairs, get_batch."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gptkata.kata.select import Lazy, implementation
from tests import expect, seed_values, strategies

batching = Lazy(implementation, "batching")


def test_the_corpus_becomes_one_long_tensor_matching_the_seed(shakespeare):
    data = batching.text_to_tensor(shakespeare.text, shakespeare.stoi)
    expect.tensor_like(
        "text_to_tensor(text, stoi)",
        data,
        (seed_values.CORPUS_LENGTH,),
        torch.long,
        "one id per character, as int64: nn.Embedding and cross_entropy index with long",
    )
    expect.equal(
        "text_to_tensor(text, stoi)[:100]",
        data[:100],
        torch.tensor(seed_values.FIRST_100),
        "the seed prints data[:100]",
    )


def test_the_empty_text_is_an_empty_long_tensor():
    expect.tensor_like(
        "text_to_tensor('', {'a': 0})",
        batching.text_to_tensor("", {"a": 0}),
        (0,),
        torch.long,
        "ids are int64 even when there are none: torch.tensor([]) alone would be float32, "
        "so say dtype=torch.long",
    )


@pytest.mark.bad_input
def test_text_to_tensor_rejects_unknown_characters():
    expect.value_error(
        "text_to_tensor('a?', {'a': 0})", batching.text_to_tensor, "a?", {"a": 0}, mentions=("'?'",)
    )


def test_the_split_is_the_seeds_90_10_cut(shakespeare):
    data = shakespeare.data
    train, val = batching.train_val_split(data)
    expect.equal("len(train)", len(train), seed_values.TRAIN_LENGTH, "int(len(data) * 0.9)")
    expect.equal(
        "torch.cat([train, val])",
        torch.cat([train, val]),
        data,
        "a cut, not a shuffle: train then val give back the data",
    )


@given(st.integers(2, 500), st.floats(0.01, 0.99))
def test_the_split_cuts_at_int_len_times_fraction(n, fraction):
    data = torch.arange(n)
    train, val = batching.train_val_split(data, fraction)
    expect.equal(f"len(train_val_split(arange({n}), {fraction})[0])", len(train), int(n * fraction))
    expect.equal(
        f"torch.cat(train_val_split(arange({n}), {fraction}))", torch.cat([train, val]), data
    )


@pytest.mark.bad_input
def test_a_fraction_outside_0_1_is_a_value_error():
    data = torch.arange(10)
    for fraction in (0.0, 1.0, -0.5, 1.5):
        expect.value_error(
            f"train_val_split(data, {fraction})",
            batching.train_val_split,
            data,
            fraction,
            mentions=(str(fraction),),
        )


def test_the_eight_context_target_pairs_of_the_seed(shakespeare):
    pairs = batching.context_target_pairs(shakespeare.train, 8)
    got = [(context.tolist(), target) for context, target in pairs]
    expect.equal(
        "[(c.tolist(), t) for c, t in context_target_pairs(train, 8)]",
        got,
        seed_values.PAIRS,
        "context t is data[:t+1] and its target is data[t+1]",
    )
    expect.equal("type(target)", type(pairs[0][1]), int, "targets are plain ints (use int(...))")


@pytest.mark.bad_input
def test_context_target_pairs_need_a_block_plus_one():
    expect.value_error(
        "context_target_pairs(torch.arange(8), 8)",
        batching.context_target_pairs,
        torch.arange(8),
        8,
        mentions=("8",),
    )


def test_get_batch_reproduces_the_seeds_batch_under_seed_1337(shakespeare):
    x, y = batching.get_batch(
        shakespeare.train, 4, 8, generator=torch.Generator().manual_seed(1337)
    )
    expect.equal(
        "get_batch(train, 4, 8, generator seeded 1337)[0]",
        x,
        torch.tensor(seed_values.XB),
        "start indices from torch.randint(len(data) - block_size, (batch_size,), generator=...)",
    )
    expect.equal("get_batch(...)[1][0]", y[0], torch.tensor(seed_values.YB0))


def test_get_batch_uses_the_global_generator_when_none_is_given(shakespeare, seeded):
    seeded(1337)
    x, _ = batching.get_batch(shakespeare.train, 4, 8)
    expect.equal(
        "torch.manual_seed(1337); get_batch(train, 4, 8)[0]",
        x,
        torch.tensor(seed_values.XB),
        "without a generator, torch.randint draws from the global one, as in the seed",
    )


@given(st.integers(1, 6), st.integers(1, 16), st.integers(0, 40), strategies.seeds)
def test_y_is_x_shifted_by_one_inside_the_data(batch_size, block_size, extra, seed):
    data = torch.arange(100, 100 + block_size + 1 + extra)  # distinct values reveal positions
    x, y = batching.get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))
    call = f"get_batch(data, {batch_size}, {block_size})"
    expect.tensor_like(call + "[0]", x, (batch_size, block_size), torch.long)
    expect.tensor_like(call + "[1]", y, (batch_size, block_size), torch.long)
    expect.equal(
        call + ": y - x",
        y - x,
        torch.ones_like(x),
        "y must be x shifted by one position: y[:, t] is the id after x[:, t]",
    )
    steps = x[:, 1:] - x[:, :-1]
    expect.equal(
        call + ": x[:, 1:] - x[:, :-1]",
        steps,
        torch.ones_like(steps),
        "each row of x is a contiguous slice data[i:i+block_size]",
    )


@given(strategies.seeds)
def test_get_batch_is_deterministic_under_a_seeded_generator(seed):
    data = torch.arange(1000)
    first = batching.get_batch(data, 3, 5, torch.Generator().manual_seed(seed))
    second = batching.get_batch(data, 3, 5, torch.Generator().manual_seed(seed))
    expect.equal("x of two batches drawn with the same seed", first[0], second[0])
    expect.equal("y of two batches drawn with the same seed", first[1], second[1])


@pytest.mark.bad_input
def test_get_batch_rejects_data_no_longer_than_a_block_and_draws_nothing():
    generator = torch.Generator().manual_seed(0)
    before = generator.get_state()
    expect.value_error(
        "get_batch(torch.arange(8), 2, 8)",
        batching.get_batch,
        torch.arange(8),
        2,
        8,
        generator,
        mentions=("8",),
    )
    expect.equal(
        "generator state after the failed call",
        generator.get_state(),
        before,
        "check the input before drawing random numbers: a bad call must change nothing",
    )
    expect.value_error(
        "get_batch(torch.arange(20), 0, 8)",
        batching.get_batch,
        torch.arange(20),
        0,
        8,
        mentions=("batch_size",),
    )


@pytest.mark.bad_input
def test_the_split_rejects_data_that_is_not_one_sequence():
    expect.value_error(
        "train_val_split(torch.zeros(4, 5, dtype=torch.long), 0.9)",
        batching.train_val_split,
        torch.zeros(4, 5, dtype=torch.long),
        0.9,
        mentions=("data", "1-D", "(4, 5)"),
    )


@pytest.mark.bad_input
def test_get_batch_rejects_sizes_that_are_not_whole_numbers():
    data = torch.arange(20)
    expect.value_error(
        "get_batch(data, 2.5, 8)",
        batching.get_batch,
        data,
        2.5,
        8,
        mentions=("batch_size", "2.5"),
    )
    expect.value_error(
        "get_batch(data, 2, 2.5)",
        batching.get_batch,
        data,
        2,
        2.5,
        mentions=("block_size", "2.5"),
    )


@pytest.mark.bad_input
def test_get_batch_rejects_data_that_is_not_integer_ids():
    expect.value_error(
        "get_batch(torch.arange(20.0), 2, 8)",
        batching.get_batch,
        torch.arange(20.0),
        2,
        8,
        mentions=("data", "torch.float32"),
    )
    expect.value_error(
        "context_target_pairs(torch.arange(20.0), 8)",
        batching.context_target_pairs,
        torch.arange(20.0),
        8,
        mentions=("data", "torch.float32"),
    )
    expect.value_error(
        "get_batch(torch.tensor([True, False] * 10), 2, 8)",
        batching.get_batch,
        torch.tensor([True, False] * 10),
        2,
        8,
        mentions=("data", "torch.bool"),
    )


@pytest.mark.bad_input
def test_get_batch_rejects_data_that_is_not_one_sequence():
    expect.value_error(
        "get_batch(torch.zeros(4, 5, dtype=torch.long), 2, 2)",
        batching.get_batch,
        torch.zeros(4, 5, dtype=torch.long),
        2,
        2,
        mentions=("data", "1-D", "(4, 5)"),
    )

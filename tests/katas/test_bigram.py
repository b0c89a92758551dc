"""Kata 3 - bigram: the model's table, forward with loss, and generate."""

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st

from gptkata.kata.select import Lazy, dependency, implementation
from tests import expect, seed_values, strategies

bigram = Lazy(implementation, "bigram")
batching = Lazy(dependency, "batching")


def test_the_model_is_a_module_holding_a_vocab_by_vocab_embedding():
    model = bigram.BigramLanguageModel(65)
    expect.equal(
        "isinstance(model, nn.Module)",
        isinstance(model, nn.Module),
        True,
        "subclass nn.Module and call super().__init__() first",
    )
    table = getattr(model, "token_embedding_table", None)
    expect.equal("type(model.token_embedding_table)", type(table), nn.Embedding)
    expect.tensor_like(
        "model.token_embedding_table.weight",
        table.weight,
        (65, 65),
        torch.float32,
        "row i holds the logits of the character after character i",
    )


@given(st.integers(1, 4), st.integers(1, 10), st.integers(2, 30), strategies.seeds)
def test_forward_shapes_with_and_without_targets(B, T, vocab_size, seed):
    generator = torch.Generator().manual_seed(seed)
    model = bigram.BigramLanguageModel(vocab_size)
    idx = torch.randint(vocab_size, (B, T), generator=generator)
    logits, loss = model(idx)
    expect.tensor_like(
        f"model(idx of shape {(B, T)})[0]",
        logits,
        (B, T, vocab_size),
        torch.float32,
        "logits stay (B, T, C); flatten only for the loss",
    )
    expect.equal("model(idx)[1]", loss, None, "no targets, no loss")
    logits2, loss = model(idx, torch.randint(vocab_size, (B, T), generator=generator))
    expect.tensor_like(
        "model(idx, targets)[0]",
        logits2,
        (B, T, vocab_size),
        torch.float32,
        "return the logits as (B, T, C) even when computing the loss",
    )
    expect.tensor_like("model(idx, targets)[1]", loss, (), torch.float32, "the loss is one number")


def test_the_loss_is_the_mean_negative_log_likelihood_of_the_targets():
    torch.manual_seed(0)
    model = bigram.BigramLanguageModel(7)
    idx = torch.tensor([[0, 1, 2], [3, 4, 5]])
    targets = torch.tensor([[1, 2, 3], [4, 5, 6]])
    logits, loss = model(idx, targets)
    # The same quantity written out differently: -log p(target) averaged over all B*T positions.
    log_probs = model.token_embedding_table.weight[idx].log_softmax(dim=-1)
    expected = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()
    expect.close(
        "model(idx, targets)[1]",
        loss.detach(),
        expected.detach(),
        atol=1e-6,
        why="cross-entropy over all B*T positions; 1e-6 allows float32 rounding only",
    )


def test_untrained_loss_is_the_lecture_value_near_ln_65(shakespeare):
    x, y = batching.get_batch(
        shakespeare.train, 4, 8, generator=torch.Generator().manual_seed(1337)
    )
    torch.manual_seed(1337)
    model = bigram.BigramLanguageModel(len(shakespeare.vocab))
    _, loss = model(x, y)
    expect.equal(
        "round(loss.item(), 4)",
        round(loss.item(), 4),
        seed_values.UNTRAINED_BIGRAM_LOSS,
        f"the lecture prints 4.8786 for this model and batch; ln 65 = {math.log(65):.2f} "
        "is the loss of uniform guessing",
    )


def test_generate_reproduces_the_seeds_samples(shakespeare, seeded):
    seeded(1337)
    model = bigram.BigramLanguageModel(65)
    out = model.generate(torch.zeros((4, 1), dtype=torch.long), 15)
    expect.equal(
        "model.generate(torch.zeros((4, 1), dtype=torch.long), 15)",
        out,
        torch.tensor(seed_values.GENERATED),
        "softmax over the last position's logits, one torch.multinomial draw per step",
    )
    text = model.generate(torch.zeros((1, 1), dtype=torch.long), 100)[0].tolist()
    expect.equal(
        "decode(model.generate(zeros((1, 1)), 100)[0].tolist())",
        "".join(shakespeare.itos[i] for i in text),
        seed_values.GENERATED_TEXT,
    )


@given(st.integers(1, 3), st.integers(1, 6), st.integers(0, 12), strategies.seeds)
def test_generate_keeps_the_prompt_and_is_reproducible(B, T, n, seed):
    torch.manual_seed(seed)
    model = bigram.BigramLanguageModel(11)
    prompt = torch.randint(11, (B, T), generator=torch.Generator().manual_seed(seed))
    out = model.generate(prompt, n, generator=torch.Generator().manual_seed(seed))
    call = f"generate(prompt of shape {(B, T)}, {n})"
    expect.tensor_like(call, out, (B, T + n), torch.long, "the prompt plus one new id per step")
    expect.equal(call + "[:, :T]", out[:, :T], prompt, "the prompt is kept as the prefix")
    again = model.generate(prompt, n, generator=torch.Generator().manual_seed(seed))
    expect.equal(
        call + " twice with the same seed", again, out, "pass the generator on to torch.multinomial"
    )
    inside = bool(((out >= 0) & (out < 11)).all())
    expect.equal(call + ": all ids in range(11)", inside, True)


def test_a_vocabulary_of_one_id_is_a_vocabulary():
    model = expect.returns(
        "BigramLanguageModel(1)",
        bigram.BigramLanguageModel,
        1,
        why="vocab_size must be at least 1, and 1 is: only 0 or less is refused",
    )
    idx = torch.zeros((1, 3), dtype=torch.long)
    logits, loss = model(idx, idx)
    expect.tensor_like("model(zeros (1, 3), zeros (1, 3))[0]", logits, (1, 3, 1), torch.float32)
    expect.close(
        "model(zeros (1, 3), zeros (1, 3))[1]",
        loss,
        torch.tensor(0.0),
        atol=1e-6,
        why="with one id, every prediction is certain: the loss is -log 1 = 0",
    )


@pytest.mark.bad_input
def test_a_negative_max_new_tokens_is_a_value_error():
    model = bigram.BigramLanguageModel(5)
    expect.value_error(
        "model.generate(idx, -1)",
        model.generate,
        torch.zeros((1, 1), dtype=torch.long),
        -1,
        mentions=("-1",),
    )


@pytest.mark.bad_input
def test_targets_of_the_wrong_shape_are_a_value_error():
    model = bigram.BigramLanguageModel(5)
    idx = torch.zeros((2, 3), dtype=torch.long)
    expect.value_error(
        "model(idx of (2, 3), targets of (2, 4))",
        model,
        idx,
        torch.zeros((2, 4), dtype=torch.long),
        mentions=("targets", "(2, 4)"),
    )
    for shape in ((3, 2), (6,)):
        expect.value_error(
            f"model(idx of (2, 3), targets of {shape})",
            model,
            idx,
            torch.zeros(shape, dtype=torch.long),
            mentions=("targets must", str(shape)),
        )


@pytest.mark.bad_input
def test_idx_that_is_not_a_batch_of_long_ids_is_a_value_error():
    model = bigram.BigramLanguageModel(5)
    expect.value_error(
        "model(torch.zeros((2, 3))), float ids",
        model,
        torch.zeros((2, 3)),
        mentions=("idx must", "torch.float32"),
    )
    expect.value_error(
        "model(torch.zeros(3, dtype=torch.long)), 1-D ids",
        model,
        torch.zeros(3, dtype=torch.long),
        mentions=("idx must", "(3,)"),
    )
    expect.value_error("model([[0, 1]]), a list", model, [[0, 1]], mentions=("idx must", "list"))


@pytest.mark.bad_input
def test_ids_outside_the_vocabulary_are_a_value_error():
    model = bigram.BigramLanguageModel(5)
    for bad in (5, -1):
        expect.value_error(
            f"model(torch.tensor([[0, {bad}]])) with vocab_size 5",
            model,
            torch.tensor([[0, bad]]),
            mentions=("idx holds", "[0, 5)"),
        )
    idx = torch.zeros((1, 2), dtype=torch.long)
    expect.value_error(
        "model(idx, torch.tensor([[0, 7]])) with vocab_size 5",
        model,
        idx,
        torch.tensor([[0, 7]]),
        mentions=("targets holds", "[0, 5)"),
    )
    expect.value_error(
        "model(idx, torch.zeros((1, 2))), float targets",
        model,
        idx,
        torch.zeros((1, 2)),
        mentions=("targets", "torch.float32"),
    )
    expect.value_error(
        "model.generate(torch.tensor([[9]]), 2) with vocab_size 5",
        model.generate,
        torch.tensor([[9]]),
        2,
        mentions=("idx holds", "[0, 5)"),
    )


@pytest.mark.bad_input
def test_an_empty_prompt_is_a_value_error():
    model = bigram.BigramLanguageModel(5)
    expect.value_error(
        "model.generate(torch.zeros((1, 0), dtype=torch.long), 3)",
        model.generate,
        torch.zeros((1, 0), dtype=torch.long),
        3,
        mentions=("idx", "empty"),
    )


@pytest.mark.bad_input
def test_a_vocab_size_that_is_not_a_whole_number_of_at_least_one_is_refused():
    expect.value_error(
        "BigramLanguageModel(2.5)",
        bigram.BigramLanguageModel,
        2.5,
        mentions=("vocab_size", "whole number", "2.5"),
    )
    expect.value_error(
        "BigramLanguageModel(0)", bigram.BigramLanguageModel, 0, mentions=("vocab_size", "0")
    )


@pytest.mark.bad_input
def test_a_max_new_tokens_that_is_not_a_whole_number_is_refused():
    model = bigram.BigramLanguageModel(5)
    expect.value_error(
        "model.generate(idx, max_new_tokens=2.5)",
        model.generate,
        torch.zeros((1, 1), dtype=torch.long),
        max_new_tokens=2.5,
        mentions=("max_new_tokens", "whole number", "2.5"),
    )

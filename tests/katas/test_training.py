"""Kata 4 - training: train_step, train with AdamW, estimate_loss."""

import copy

import pytest
import torch
import torch.nn as nn
from hypothesis import given

from gptkata.kata.select import Lazy, dependency, implementation
from tests import expect, strategies

training = Lazy(implementation, "training")
bigram = Lazy(dependency, "bigram")
batching = Lazy(dependency, "batching")


class Probe(nn.Module):
    """Wraps a model and records, at each forward, whether it ran in train mode and
    whether gradients were being tracked."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.seen = []

    def forward(self, idx, targets=None):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.model(idx, targets)


def small_model(seed=0, vocab_size=13):
    torch.manual_seed(seed)
    return bigram.BigramLanguageModel(vocab_size)


def random_batch(seed=0, vocab_size=13, shape=(4, 6)):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(vocab_size, shape, generator=generator), torch.randint(
        vocab_size, shape, generator=generator
    )


def test_train_step_returns_the_loss_before_the_step_as_a_float():
    model = small_model()
    x, y = random_batch()
    before = model(x, y)[1].item()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    got = training.train_step(model, optimizer, x, y)
    expect.equal("type(train_step(...))", type(got), float, "return loss.item(), a plain float")
    expect.equal(
        "train_step(...)",
        round(got, 5),
        round(before, 5),
        "the loss of the forward pass of this step",
    )
    expect.equal(
        "model(x, y) loss went down after one step",
        model(x, y)[1].item() < before,
        True,
        "backward() then optimizer.step() must move the weights downhill",
    )


def test_train_step_starts_from_fresh_gradients():
    model = small_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    training.train_step(model, optimizer, *random_batch(1))
    # The gradient train_step leaves behind must be this batch's alone.
    x, y = random_batch(2)
    reference = copy.deepcopy(model)
    reference.zero_grad()
    reference(x, y)[1].backward()
    training.train_step(model, optimizer, x, y)
    expect.close(
        "model.token_embedding_table.weight.grad after train_step(batch 2)",
        model.token_embedding_table.weight.grad,
        reference.token_embedding_table.weight.grad,
        atol=1e-7,
        why="zero the gradients before backward(), or they add up across steps; "
        "1e-7 is far below any gradient left over from the previous batch",
    )


@given(strategies.seeds)
def test_train_returns_one_loss_per_step_and_is_deterministic(seed):
    data = torch.randint(13, (300,), generator=torch.Generator().manual_seed(seed))
    runs = []
    for run in range(2):
        model = small_model(seed)
        torch.default_generator.manual_seed(1000 + run)  # a global generator unlike the other run's
        runs.append(
            training.train(
                model, data, 5, 4, 8, lr=1e-2, generator=torch.Generator().manual_seed(seed)
            )
        )
    expect.equal("len(train(model, data, steps=5, ...))", len(runs[0]), 5)
    expect.equal("type(train(...)[0])", type(runs[0][0]), float)
    expect.equal(
        "train(...) twice with the same seeds",
        runs[1],
        runs[0],
        "batches come from get_batch with the generator you are given, not from torch's "
        "global generator (seeded differently before each of the two runs)",
    )


def test_train_uses_adamw_with_a_default_lr_of_1e_3():
    data = torch.randint(13, (200,), generator=torch.Generator().manual_seed(0))
    model, theirs = small_model(), small_model()
    training.train(model, data, 1, 4, 8, generator=torch.Generator().manual_seed(3))
    x, y = batching.get_batch(data, 4, 8, torch.Generator().manual_seed(3))
    optimizer = torch.optim.AdamW(theirs.parameters(), lr=1e-3)
    theirs(x, y)[1].backward()
    optimizer.step()
    expect.close(
        "the embedding after train(model, data, 1, 4, 8) without an lr",
        model.token_embedding_table.weight.detach(),
        theirs.token_embedding_table.weight.detach(),
        atol=1e-7,
        why="one step of torch.optim.AdamW with lr=1e-3, the default, on the first batch",
    )


def test_train_with_zero_steps_returns_no_losses():
    model = small_model()
    expect.equal(
        "train(model, data, 0, 4, 8)",
        training.train(model, torch.arange(13).repeat(5), 0, 4, 8),
        [],
    )


@pytest.mark.bad_input
def test_a_negative_step_count_is_a_value_error():
    model = small_model()
    expect.value_error(
        "train(model, data, -1, 4, 8)",
        training.train,
        model,
        torch.arange(13).repeat(5),
        -1,
        4,
        8,
        mentions=("-1",),
    )


def test_training_the_bigram_reaches_the_bigram_floor(shakespeare):
    train, val = shakespeare.train, shakespeare.val
    # The floor: the loss of the exact next-character frequencies counted on the training text.
    counts = torch.bincount(train[:-1] * 65 + train[1:], minlength=65 * 65).view(65, 65).float()
    probs = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    floor = -probs.view(-1)[train[:-1] * 65 + train[1:]].log().mean().item()  # about 2.45
    torch.manual_seed(1337)
    model = bigram.BigramLanguageModel(65)
    g = torch.Generator().manual_seed(1337)
    # lr 0.1 instead of the seed's 1e-3 reaches the floor in 200 steps instead of 10,000
    # (within 0.02 to 0.05 of it over twenty seeds, in 0.3 s)
    training.train(model, train, 200, 64, 8, lr=0.1, generator=g)
    losses = training.estimate_loss(model, {"train": train, "val": val}, 64, 8, 40, generator=g)
    expect.equal("sorted(estimate_loss(...).keys())", sorted(losses), ["train", "val"])
    gap = losses["train"] - floor
    expect.equal(
        f"train loss {losses['train']:.3f} within 0.08 of the floor {floor:.3f}",
        -0.05 < gap < 0.08,
        True,
        "the seed reaches 2.477 after 10,000 steps; a bigram cannot beat the counted floor",
    )
    expect.equal(f"val loss {losses['val']:.3f} below 2.6", losses["val"] < 2.6, True)


def test_estimate_loss_runs_in_eval_mode_without_gradients_and_restores_the_mode():
    data = torch.randint(13, (200,), generator=torch.Generator().manual_seed(0))
    for was_training in (True, False):
        probe = Probe(small_model()).train(was_training)
        out = training.estimate_loss(probe, {"train": data, "val": data}, 4, 8, 3)
        expect.equal("estimate_loss(...).keys()", sorted(out), ["train", "val"])
        expect.equal("type(estimate_loss(...)['val'])", type(out["val"]), float)
        expect.equal(
            "(model.training, torch.is_grad_enabled()) at every forward",
            set(probe.seen),
            {(False, False)},
            "model.eval() and torch.no_grad() while estimating",
        )
        expect.equal("probe.seen count", len(probe.seen), 6, "eval_iters batches for each split")
        expect.equal(
            "model.training afterwards",
            probe.training,
            was_training,
            "put the model back in the mode it was in",
        )
        expect.equal(
            "gradients after estimate_loss", probe.model.token_embedding_table.weight.grad, None
        )


def test_estimate_loss_is_the_mean_of_the_batch_losses():
    data = torch.randint(13, (200,), generator=torch.Generator().manual_seed(0))
    model = small_model()
    got = training.estimate_loss(
        model, {"val": data}, 4, 8, 3, generator=torch.Generator().manual_seed(5)
    )
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        losses = [model(*batching.get_batch(data, 4, 8, g))[1].item() for _ in range(3)]
    expect.equal(
        "round(estimate_loss(...)['val'], 5)",
        round(got["val"], 5),
        round(sum(losses) / 3, 5),
        "average eval_iters losses of batches drawn with the given generator",
    )
    one = training.estimate_loss(
        model, {"val": data}, 4, 8, 1, generator=torch.Generator().manual_seed(5)
    )
    expect.equal(
        "round(estimate_loss(..., eval_iters=1)['val'], 5)",
        round(one["val"], 5),
        round(losses[0], 5),
        "one iteration is allowed (only fewer than 1 is refused): the loss of one batch",
    )


@pytest.mark.bad_input
def test_estimate_loss_rejects_zero_iterations_and_keeps_the_mode():
    model = small_model().train()
    expect.value_error(
        "estimate_loss(model, splits, 4, 8, eval_iters=0)",
        training.estimate_loss,
        model,
        {"val": torch.arange(50)},
        4,
        8,
        0,
        mentions=("eval_iters",),
    )
    expect.equal("model.training after the failed call", model.training, True)


@pytest.mark.bad_input
def test_estimate_loss_on_ids_outside_the_vocabulary_is_a_value_error_and_keeps_the_mode():
    model = small_model(vocab_size=13).train()
    expect.value_error(
        "estimate_loss(model with vocab_size 13, {'val': ids up to 49}, 4, 8, 2)",
        training.estimate_loss,
        model,
        {"val": torch.arange(50)},
        4,
        8,
        2,
        mentions=("[0, 13)",),
    )
    expect.equal(
        "model.training after the failed call",
        model.training,
        True,
        "restore the mode in a finally: block, so an error cannot leave the model in eval mode",
    )

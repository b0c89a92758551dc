# %%
"""Kata 4 - training: AdamW, the training loop, and an honest loss estimate.

One training step is always the same four moves:

    logits, loss = model(x, y)              forward
    optimizer.zero_grad(set_to_none=True)   forget the previous step's gradients
    loss.backward()                         gradients of the loss
    optimizer.step()                        move every parameter a little

Why AdamW rather than plain SGD: SGD moves every parameter by the same multiple of
its gradient and remembers nothing. Adam keeps a running mean of each parameter's
gradient (momentum, which smooths the noisy batches) and of its square (which gives
each parameter its own step size). AdamW also applies weight decay directly to the
weights, separately from the gradient, which is the fix that made Adam's
regularisation work; it is the standard optimizer for transformers. Pitfall:
forgetting `zero_grad` adds every step's gradients together.

The loss of one batch is noisy. `estimate_loss` averages `eval_iters` batches per
split, with gradients switched off (`torch.no_grad()`, faster and lighter) and the
model in eval mode (so dropout, later, is off) - and then puts the model back in
the mode it was in, so a training loop that calls it keeps training.
"""

# %%
from __future__ import annotations

import torch
import torch.nn as nn

from gptkata.kata.select import earlier

batching = earlier(__name__, "batching")


# %%
def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> float:
    """One optimisation step on the batch (x, y); returns the loss before the step."""
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


# %%
def train(
    model: nn.Module,
    data: torch.Tensor,
    steps: int,
    batch_size: int,
    block_size: int,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Train `model` with AdamW for `steps` steps on random batches of `data`.

    Returns the loss of every step (a list of `steps` floats). Batches come from the
    batching kata's `get_batch` (here `batching.get_batch`) with `generator`, so a
    seeded generator and a seeded model give the same losses every time. A negative
    `steps` is a ValueError.
    """
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    # -- your code below --
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        x, y = batching.get_batch(data, batch_size, block_size, generator)
        losses.append(train_step(model, optimizer, x, y))
    return losses


# %%
def estimate_loss(
    model: nn.Module,
    splits: dict[str, torch.Tensor],
    batch_size: int,
    block_size: int,
    eval_iters: int,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """The mean loss over `eval_iters` random batches of each split, e.g.
    `{"train": 2.47, "val": 2.49}`.

    No gradients, eval mode during the estimate, and the model's previous mode
    (train or eval) restored afterwards, even if an error occurs. `eval_iters` below
    1 is a ValueError.
    """
    if eval_iters < 1:
        raise ValueError(f"eval_iters must be at least 1, got {eval_iters}")
    # -- your code below --
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = {}
            for name, data in splits.items():
                losses = torch.zeros(eval_iters)
                for k in range(eval_iters):
                    x, y = batching.get_batch(data, batch_size, block_size, generator)
                    _, loss = model(x, y)
                    losses[k] = loss.item()
                out[name] = losses.mean().item()
            return out
    finally:
        model.train(was_training)

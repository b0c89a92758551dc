"""The optimiser and its learning-rate schedule.

Weight decay on matrices only. AdamW's weight decay pulls every decayed weight a
little towards zero at each step, a regulariser against large weights. It is meant
for the weight matrices (Linear and Embedding weights), which multiply their inputs.
Biases and LayerNorm's gains and shifts are vectors that only shift or scale; pulling
a LayerNorm gain towards 0 would just switch its channel off, so they get no decay.
The rule "a parameter with 2 or more dimensions is a matrix" sorts them.

Warmup, then cosine decay. At the very start Adam's moving averages know little
about the gradients and the weights are random, so big steps can throw the model
somewhere bad: the rate rises linearly from 0 over `warmup_steps`. Then it follows
half a cosine from `learning_rate` down to `min_lr`: large steps early, when the
loss is far from its minimum, and ever smaller ones to settle into it at the end.

    lr
    |   ____
    |  /    ``--.._
    | /            ``-.._
    |/                   ``--.____ min_lr
    +-------------------------------> progress 0 .. 1
     warmup

The schedule is written over *progress*, the fraction of the run done (steps done /
decay_steps, or seconds spent / max_seconds with a time budget), so the same preset
decays properly whether a machine does 1,000 steps in its budget or 3,000.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups: the matrices with `weight_decay`, everything else without."""
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module,
    learning_rate: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only. On a CPU or an NVIDIA GPU it uses
    the fused implementation: one pass over all parameters instead of a dozen small
    operations per parameter tensor (the katas' GPT has almost a hundred)."""
    return torch.optim.AdamW(
        parameter_groups(model, weight_decay),
        lr=learning_rate,
        betas=betas,
        fused=device.type in ("cpu", "cuda"),
    )


def learning_rate(
    step: int, progress: float, peak: float, minimum: float, warmup_steps: int
) -> float:
    """The learning rate for optimiser step `step` (0-based) at `progress` (0 .. 1).

    The warmup factor (step + 1) / warmup_steps, capped at 1, times the cosine from
    `peak` at progress 0 to `minimum` at progress 1 (and `minimum` after it).
    """
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    progress = min(max(progress, 0.0), 1.0)
    cosine = minimum + 0.5 * (peak - minimum) * (1.0 + math.cos(math.pi * progress))
    return warmup * cosine


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr

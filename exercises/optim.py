# %%
"""Kata 14 - the loss and the optimiser by hand: cross-entropy, AdamW, schedule, clipping.

Kata 4 trains with two lines it does not explain: F.cross_entropy and
torch.optim.AdamW. Here they are written out, with the two tricks every real
training run adds (`make train` uses all four).

* cross_entropy(logits (N, V), targets (N,)): the mean over the N rows of
  -log softmax(logits)[target]. Written as log-sum-exp: -logits[target] +
  log(sum(exp(logits))). Pitfall: exp(1e4) is inf in float32 (anything above
  about 88 overflows). Subtract each row's maximum m first -
  log(sum(exp(x))) = m + log(sum(exp(x - m))) - then the largest term is exp(0) = 1
  and nothing overflows; the result is unchanged.
* AdamW: for each parameter p with gradient g, keep two running averages,
  m = beta1 m + (1 - beta1) g (the direction) and v = beta2 v + (1 - beta2) g^2 (the
  scale). Both start at 0, so early on they are too small: divide by
  1 - beta^t (bias correction, t = the step number from 1). Then
  p -= lr * m_hat / (sqrt(v_hat) + eps): each parameter's step is about lr, whatever
  the size of its gradient. Weight decay in AdamW is *decoupled*: before the update
  p is shrunk by p -= lr * weight_decay * p, not mixed into the gradient (as Adam's
  L2 penalty would, where Adam's scaling then undoes most of it).
  As a torch.optim.Optimizer: hyperparameters live in `self.param_groups` (a list of
  dicts, each with its "params" and its own lr, betas, eps, weight_decay, so groups
  can differ), per-parameter tensors in `self.state[p]`, and `step()` runs under
  torch.no_grad() and changes the parameters in place.
* cosine_lr: the learning rate rises linearly from 0 to max_lr over warmup_steps
  (Adam's averages know nothing yet at the start), then follows half a cosine from
  max_lr down to min_lr at total_steps, and stays at min_lr after.
* clip_grad_norm: the norm of *all* gradients together, as one long vector (sqrt of
  the sum of every gradient's squared entries). If it exceeds max_norm, scale every
  gradient by max_norm / (norm + 1e-6), so one bad batch cannot throw the weights far.
  It returns the norm before clipping, worth logging: spikes show trouble.
"""

# %%
from __future__ import annotations

import math
from collections.abc import Iterable

import torch


# %%
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean of -log softmax(logits)[n, targets[n]] over the N rows: a scalar tensor.

    logits (N, V) float, targets (N,) long ids in 0..V-1. Computed with log-sum-exp
    after subtracting each row's maximum, so it is finite for any finite logits.
    Mismatched shapes or a target outside 0..V-1 are a ValueError.

    >>> cross_entropy(torch.tensor([[0.0, 0.0], [1e4, 0.0]]), torch.tensor([0, 0]))
    tensor(0.3466)
    """
    _check_logits_and_targets(logits, targets)
    # -- your code below --
    raise NotImplementedError("not implemented yet: optim.cross_entropy")


# %%
class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay, step for step what torch.optim.AdamW does.

    AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01); params
    is an iterable of tensors or of parameter-group dicts, as for any optimiser.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        """Hand the hyperparameters to torch.optim.Optimizer as the groups' defaults."""
        _check_hyperparameters(lr, betas, eps, weight_decay)
        # -- your code below --
        raise NotImplementedError("not implemented yet: optim.AdamW.__init__")

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss, if given.

        Per parameter p with gradient g, at step t (1, 2, ...), with its group's settings:
        p *= 1 - lr * weight_decay; m = beta1 m + (1 - beta1) g;
        v = beta2 v + (1 - beta2) g^2; p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps).
        m and v start as zeros and live in self.state[p].
        """
        raise NotImplementedError("not implemented yet: optim.AdamW.step")


# %%
def cosine_lr(
    step: int, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int
) -> float:
    """The learning rate at `step` (0-based): linear warm-up, cosine decay, then min_lr.

    step < warmup_steps: max_lr * step / warmup_steps (0 at step 0). From warmup_steps
    to total_steps: min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2, with
    progress = (step - warmup_steps) / (total_steps - warmup_steps) going from 0 to 1.
    From total_steps on: min_lr. A negative step or warmup_steps, total_steps below
    warmup_steps, or not 0 <= min_lr <= max_lr is a ValueError.

    >>> [round(cosine_lr(s, 1.0, 0.1, 2, 6), 4) for s in range(8)]
    [0.0, 0.5, 1.0, 0.8682, 0.55, 0.2318, 0.1, 0.1]
    """
    _check_schedule(step, max_lr, min_lr, warmup_steps, total_steps)
    # -- your code below --
    raise NotImplementedError("not implemented yet: optim.cosine_lr")


# %%
def clip_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm: float) -> float:
    """Scale all gradients together so their total norm is at most max_norm; the norm before.

    The total norm is that of every gradient's entries as one vector (parameters
    without a gradient are skipped; none at all is a norm of 0.0). If it exceeds
    max_norm, every gradient is multiplied in place by max_norm / (norm + 1e-6), as
    torch.nn.utils.clip_grad_norm_ does. A max_norm that is not positive is a ValueError.
    """
    _check_max_norm(max_norm)
    # -- your code below --
    raise NotImplementedError("not implemented yet: optim.clip_grad_norm")


# %%
def _as_list(parameters) -> list[torch.Tensor]:
    """One tensor or an iterable of tensors (e.g. model.parameters()) as a list."""
    if isinstance(parameters, torch.Tensor):
        return [parameters]
    return list(parameters)


# %%
def _check_logits_and_targets(logits, targets) -> None:
    """Raise ValueError unless logits is (N, V) float and targets (N,) long ids below V."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor of shape (N, V), got {shape}")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.long:
        raise ValueError(f"targets must be a long tensor of ids, got {targets!r}")
    if tuple(targets.shape) != (logits.shape[0],) or logits.shape[0] == 0:
        raise ValueError(
            f"targets must have shape (N,) = ({logits.shape[0]},) with N >= 1 for logits of "
            f"shape {tuple(logits.shape)}, got shape {tuple(targets.shape)}"
        )
    bad = ((targets < 0) | (targets >= logits.shape[1])).nonzero()
    if len(bad):
        n = bad[0].item()
        raise ValueError(
            f"targets[{n}] = {targets[n].item()} is not an id in 0..{logits.shape[1] - 1}"
        )


# %%
def _check_hyperparameters(lr, betas, eps, weight_decay) -> None:
    """Raise ValueError naming the first AdamW hyperparameter out of range."""
    if not 0.0 <= lr:
        raise ValueError(f"lr must be 0 or more, got {lr}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
    if not 0.0 < eps:
        raise ValueError(f"eps must be above 0, got {eps}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay must be 0 or more, got {weight_decay}")


# %%
def _check_schedule(step, max_lr, min_lr, warmup_steps, total_steps) -> None:
    """Raise ValueError naming the first argument of cosine_lr that makes no schedule."""
    if step < 0:
        raise ValueError(f"step must be 0 or more, got {step}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be 0 or more, got {warmup_steps}")
    if total_steps < warmup_steps:
        raise ValueError(
            f"total_steps ({total_steps}) must be at least warmup_steps ({warmup_steps})"
        )
    if not 0.0 <= min_lr <= max_lr:
        raise ValueError(f"need 0 <= min_lr <= max_lr, got min_lr={min_lr}, max_lr={max_lr}")


# %%
def _check_max_norm(max_norm) -> None:
    """Raise ValueError unless max_norm is a positive number."""
    if not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise ValueError(f"max_norm must be above 0, got {max_norm!r}")

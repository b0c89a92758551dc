"""The tolerances and the small training runs that the optim kata's tests
(test_optim.py) compare with.

Tolerances, measured on the reference over many random problems:
- cross_entropy vs F.cross_entropy: the same float32 sums in another order differ by
  up to 1.5e-6 on losses of size ~1-10; CE_TOL = 1e-5 (absolute and relative). Missing
  the mean, the max-shift on large logits or the target's logit all change the loss
  by far more.
- AdamW vs torch.optim.AdamW over 20 steps: up to 4.8e-7 on parameters of size ~1;
  ADAM_TOL = 1e-5. Coupled weight decay or a missing bias correction differ by 1e-4
  to 1e-2 after a few steps.
- clip_grad_norm vs clip_grad_norm_: one float32 norm computed in another order,
  relative error ~1e-7; CLIP_RTOL = 1e-5.
"""

import torch

CE_TOL = 1e-5
ADAM_TOL = 1e-5
CLIP_RTOL = 1e-5
STEPS = 20


def two_groups(w, b, lr):
    """The trainer's two parameter groups: a matrix with decay, a vector without, at its own lr."""
    return [{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0, "lr": lr}]


def adamw_run(make_optimizer, seed: int):
    """Parameters after each of STEPS steps of a small tanh regression."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(5, 4, generator=g).requires_grad_()
    b = torch.randn(4, generator=g).requires_grad_()
    opt = make_optimizer(w, b)
    history = []
    for step in range(STEPS):
        x = torch.randn(8, 5, generator=g) * (10.0 if step % 5 == 0 else 1.0)
        opt.zero_grad()
        ((x @ w + b).tanh() ** 2).sum().backward()
        opt.step()
        history.append((w.detach().clone(), b.detach().clone()))
    return history

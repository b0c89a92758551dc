# %%
"""Kata 8 - the transformer block: LayerNorm and residual connections.

Stacking attention and feed-forward layers makes a deep network, and deep networks
are hard to optimise. Two tricks make them trainable:

* Residual connections: each sub-layer adds its output to its input, x + f(x). The
  gradient flows straight through the additions from the loss to the first layer,
  and each sub-layer starts by contributing a small correction.
* Layer normalisation: before each sub-layer, every position's vector is normalised
  to mean 0 and variance 1 over its channels, then scaled and shifted by learned
  `weight` (gamma) and `bias` (beta). Unlike batch norm it needs no batch statistics
  and behaves the same in training and evaluation.

This is the "pre-norm" arrangement used by GPT-2 and later (the original paper
normalised after the addition):

    x = x + sa(ln1(x))      communication
    x = x + ffwd(ln2(x))    computation

Shapes: LayerNorm maps (..., C) to (..., C), with mean and variance of shape
(..., 1) that broadcast back over the C channels; the block maps (B, T, n_embd) to
(B, T, n_embd), which is what lets blocks be stacked.

Parameters (n = n_embd): a LayerNorm has 2n (weight and bias), so a block has
(4n^2 + n) + (8n^2 + 5n) + 2 * 2n = 12n^2 + 10n.

Pitfall: LayerNorm uses the biased variance, the mean of the squared deviations
(divide by C, not C - 1; `x.var(dim=-1, unbiased=False)` is the same number), and
eps goes inside the square root, sqrt(var + eps), as in torch.nn.LayerNorm. eps
keeps the division finite for a constant vector; put outside the root (std + eps)
it gives visibly different numbers whenever the variance is small.
"""

# %%
from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn as nn

from gptkata.kata.select import earlier

multihead = earlier(__name__, "multihead")


# %%
class LayerNorm(nn.Module):
    """Normalise the last dimension to mean 0 and variance 1, then scale and shift."""

    def __init__(self, dim: int, eps: float = 1e-5):
        """`weight` (ones) and `bias` (zeros), both `nn.Parameter`s of shape (dim,); `eps`.

        An eps that is negative, NaN or infinite is a ValueError (`_check_eps`)."""
        _check_eps(eps)
        # -- your code below --
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim), the same as `torch.nn.LayerNorm(dim, eps)`.

        An x whose last dimension is not dim is a ValueError."""
        dim = self.weight.shape[0]
        if x.dim() < 1 or x.shape[-1] != dim:
            raise ValueError(f"x must have shape (..., dim={dim}), got {tuple(x.shape)}")
        # -- your code below --
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        centred = x - mean  # (..., dim)
        var = (centred**2).mean(dim=-1, keepdim=True)  # (..., 1), divided by dim, not dim - 1
        x_hat = centred / torch.sqrt(var + self.eps)  # (..., dim), mean 0, variance 1
        return x_hat * self.weight + self.bias  # (dim,) broadcasts over the leading dims


# %%
def _check_eps(eps: float) -> None:
    """Raise a ValueError naming eps unless it is a finite number of 0 or more: a
    negative eps can make var + eps negative, and its square root NaN."""
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 <= eps < math.inf:
        raise ValueError(f"eps must be a finite number of 0 or more, got {eps!r}")


# %%
class Block(nn.Module):
    """One transformer block: pre-norm attention and feed-forward, each with a residual."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        """`sa`, a `MultiHeadAttention(n_embd, n_head, block_size, dropout)`, and `ffwd`,
        a `FeedForward(n_embd, dropout)`, both from the multihead kata; `ln1` and `ln2`,
        two `LayerNorm(n_embd)` of this kata, one in front of each."""
        super().__init__()
        self.sa = multihead.MultiHeadAttention(n_embd, n_head, block_size, dropout)
        self.ffwd = multihead.FeedForward(n_embd, dropout)
        self.ln1 = LayerNorm(n_embd)
        self.ln2 = LayerNorm(n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): x + sa(ln1(x)), then + ffwd(ln2(.)).

        The residual path x itself is never normalised: only the input of each
        sub-layer is. An x that is not (B, T, n_embd) is a ValueError.
        """
        n_embd = self.ln1.weight.shape[0]
        if x.dim() != 3 or x.shape[-1] != n_embd:
            raise ValueError(f"x must have shape (B, T, n_embd={n_embd}), got {tuple(x.shape)}")
        # -- your code below --
        x = x + self.sa(self.ln1(x))  # (B, T, n_embd), positions talk to each other
        x = x + self.ffwd(self.ln2(x))  # (B, T, n_embd), each position thinks alone
        return x

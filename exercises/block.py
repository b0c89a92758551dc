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

Pitfall: LayerNorm uses the biased variance (divide by C, not C - 1), and eps goes
inside the square root.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from gptkata.select import earlier

multihead = earlier(__name__, "multihead")


class LayerNorm(nn.Module):
    """Normalise the last dimension to mean 0 and variance 1, then scale and shift."""

    def __init__(self, dim: int, eps: float = 1e-5):
        """`weight` (ones) and `bias` (zeros), both `nn.Parameter`s of shape (dim,); `eps`."""
        raise NotImplementedError("not implemented yet: block.LayerNorm.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim), the same as `torch.nn.LayerNorm(dim, eps)`."""
        raise NotImplementedError("not implemented yet: block.LayerNorm.forward")


class Block(nn.Module):
    """One transformer block: pre-norm attention and feed-forward, each with a residual."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        """`sa` (MultiHeadAttention), `ffwd` (FeedForward), `ln1` and `ln2` (LayerNorm)."""
        raise NotImplementedError("not implemented yet: block.Block.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd)."""
        raise NotImplementedError("not implemented yet: block.Block.forward")

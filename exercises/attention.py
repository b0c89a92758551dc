# %%
"""Kata 6 - attention: one head of causal self-attention.

The averaging kata let every position take the plain mean of its past. Attention
makes the weights depend on the data: every position t emits

    a query  q_t = x_t @ Wq   "what am I looking for?"
    a key    k_t = x_t @ Wk   "what do I contain?"
    a value  v_t = x_t @ Wv   "what I pass on if you attend to me"

The score of position s for position t is the dot product q_t . k_s: high when
what t looks for matches what s contains. Scores are masked so t sees only s <= t,
turned into weights with a softmax (the averaging kata's `causal_softmax`), and the
output at t is the weighted sum of the values.

Shapes, with head_size = H:

    x            (B, T, n_embd)
    q, k, v      (B, T, H)
    scores, wei  (B, T, T)     q @ k.transpose(-2, -1)
    out          (B, T, H)     wei @ v

Pitfall - the scale: with unit-variance q and k, a dot product over H dimensions has
variance H, and a softmax of large scores is nearly one-hot, so each position would
listen to a single other one and gradients would vanish. Multiplying the scores by
`head_size ** -0.5` keeps their variance at 1. (The lecture's first version scaled by
n_embd, C ** -0.5, a known slip: the dot product runs over head_size dimensions.)

Dropout on `wei` randomly stops some positions from talking to each other during
training, a regulariser; in eval mode it does nothing.
"""

# %%
from __future__ import annotations

import torch
import torch.nn as nn

from gptkata.kata.select import earlier

averaging = earlier(__name__, "averaging")


# %%
class Head(nn.Module):
    """One head of causal self-attention: (B, T, n_embd) -> (B, T, head_size)."""

    def __init__(self, n_embd: int, head_size: int, block_size: int, dropout: float = 0.0):
        """Three `nn.Linear(n_embd, head_size, bias=False)` called `key`, `query` and
        `value`, an `nn.Dropout(dropout)` called `dropout`; keep `head_size` (for the
        scale) and `block_size` (the longest sequence the head accepts). Sizes below 1
        are a ValueError."""
        if n_embd < 1 or head_size < 1 or block_size < 1:
            raise ValueError(
                f"n_embd, head_size and block_size must be at least 1, got n_embd={n_embd}, "
                f"head_size={head_size}, block_size={block_size}"
            )
        # -- your code below --
        raise NotImplementedError("not implemented yet: attention.Head.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the past: (B, T, n_embd) -> (B, T, head_size).

        Scores q @ k^T times head_size ** -0.5, the future masked and a softmax over
        each row (`averaging.causal_softmax`), dropout on those weights, then the
        weighted sum of the values. T may be anything from 1 to block_size; a longer
        sequence, and an x that is not (B, T, n_embd), are ValueErrors, checked before
        any work is done.
        """
        n_embd = self.key.in_features
        if x.dim() != 3 or x.shape[-1] != n_embd:
            raise ValueError(f"x must have shape (B, T, n_embd={n_embd}), got {tuple(x.shape)}")
        B, T, C = x.shape
        if T > self.block_size:
            raise ValueError(f"x has sequence length {T}, longer than block_size {self.block_size}")
        # -- your code below --
        raise NotImplementedError("not implemented yet: attention.Head.forward")

# %%
"""Kata 7 - multi-head attention and the feed-forward layer.

One head can only look for one kind of thing at a time. Multi-head attention runs
`n_head` heads side by side, each of size n_embd // n_head, so that together their
outputs again have n_embd channels: concatenate them along the last dimension, then
mix them with a linear projection (which also puts the result back on the residual
path of the next kata).

    x                 (B, T, n_embd)
    each head         (B, T, n_embd // n_head)
    concatenated      (B, T, n_embd)
    proj, dropout     (B, T, n_embd)

Attention is communication between positions; the feed-forward layer is computation
within each position: the same small MLP applied to every position independently,
widened 4x in the middle as in "Attention Is All You Need".

    Linear(n_embd, 4 n_embd) -> ReLU -> Linear(4 n_embd, n_embd) -> Dropout

Counting parameters (n = n_embd) is a good check of the wiring. The heads hold
3 * n * head_size weights each, 3n^2 together whatever n_head is, and the projection
n^2 + n: multi-head attention has 4n^2 + n. The feed-forward layer has
(n * 4n + 4n) + (4n * n + n) = 8n^2 + 5n, twice as many: most of a GPT's
parameters sit in its feed-forward layers.

Pitfall: keep the heads in an `nn.ModuleList`. In a plain Python list they still
run, but the module does not see them: their parameters are missing from
`parameters()`, so the optimizer never trains them and `.eval()` never reaches
their dropout.
"""

# %%
from __future__ import annotations

import torch
import torch.nn as nn

from gptkata.kata.select import earlier

attention = earlier(__name__, "attention")


# %%
class MultiHeadAttention(nn.Module):
    """`n_head` causal heads in parallel, concatenated and projected: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        """`heads`, an `nn.ModuleList` of n_head `Head(n_embd, n_embd // n_head, ...)`;
        `proj`, an `nn.Linear(n_embd, n_embd)` with bias; `dropout`, an `nn.Dropout`.

        An n_embd that n_head does not divide is a ValueError.
        """
        if n_head < 1 or n_embd < 1 or n_embd % n_head != 0:
            raise ValueError(
                f"n_embd={n_embd} must be divisible by n_head={n_head}: the heads side by "
                f"side must be exactly n_embd wide"
            )
        # -- your code below --
        raise NotImplementedError("not implemented yet: multihead.MultiHeadAttention.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd).

        Every head sees all of x; their outputs are concatenated along the channels,
        then projected and dropped out. An x that is not (B, T, n_embd) is a ValueError.
        """
        n_embd = self.proj.in_features
        if x.dim() != 3 or x.shape[-1] != n_embd:
            raise ValueError(f"x must have shape (B, T, n_embd={n_embd}), got {tuple(x.shape)}")
        # -- your code below --
        raise NotImplementedError("not implemented yet: multihead.MultiHeadAttention.forward")


# %%
class FeedForward(nn.Module):
    """The per-position MLP: (B, T, C) -> (B, T, C), 4x wider inside."""

    def __init__(self, n_embd: int, dropout: float = 0.0):
        """`net`, an `nn.Sequential` of Linear(n_embd, 4 n_embd), ReLU,
        Linear(4 n_embd, n_embd) and Dropout(dropout)."""
        raise NotImplementedError("not implemented yet: multihead.FeedForward.__init__")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd), each position on its own."""
        raise NotImplementedError("not implemented yet: multihead.FeedForward.forward")

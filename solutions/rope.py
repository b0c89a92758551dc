# %%
"""Kata 15 - rotary positions (RoPE) and sliding-window attention.

The gpt kata tells the model where each character stands by adding a learned
position embedding: one row of a (block_size, n_embd) table per position. That has
two costs. The model cannot read a sequence longer than its table, and a character
has a different vector at every position, so a shifted text is, to the model, a
different text. Rotary position embeddings (RoPE) put the position into attention
itself, where it matters: into the score of a query against a key.

Split a head's vector of head_size numbers into head_size // 2 pairs. Pair i is
(x[i], x[i + head_size // 2]): the first half of the vector against the second
half. Read each pair as a point in a plane and turn it by the angle p * f_i, where
p is the position and f_i = base ** (-2i / head_size) the pair's frequency (pair 0
turns one radian per position, the last pair very slowly):

    x1, x2 = x[..., :h], x[..., h:]          h = head_size // 2
    rotated = (x1 * cos - x2 * sin,  x1 * sin + x2 * cos)     cos, sin of p * f_i

Why this works: turning a query by angle a and a key by angle b changes their dot
product by the angle between them only, a - b. So the score of a query at position m
against a key at position n depends on m - n, how far apart they are, and not on
where the pair stands. Nothing is learned, no table limits the length, and the
values are not rotated (they are what is read, not how it is found).

    rope_frequencies(head_size, max_positions)  cos, sin   (max_positions, head_size // 2)
    apply_rope(x, cos, sin, positions)          x (..., T, head_size) -> same shape
                                                positions (T,) long, rows of cos and sin

Sliding-window attention. With relative positions, attention over the whole past
is no longer needed to know where things are. `RopeAttention` lets position t
attend to the last `window` positions only, t - window + 1 ... t: a band under the
diagonal of the (T, T) mask instead of the whole lower triangle.

    window 3, T 5     keys 0 1 2 3 4
                query 0    x . . . .
                query 1    x x . . .
                query 2    x x x . .
                query 3    . x x x .
                query 4    . . x x x

A layer's output at t then depends only on its inputs in the window ending at t,
and not on where that window stands: shift the whole text and each output shifts
with it (translation equivariance). It runs on sequences of any length. The next
kata builds a whole model from it, and a KV cache that only ever keeps `window`
positions.

Pitfall: the rotation needs pairs, so head_size must be even; and the positions
must be the absolute ones of the tokens (0, 1, 2, ... from the start of the text),
the same for queries and keys, or the distances come out wrong.
"""

# %%
from __future__ import annotations

import math
from numbers import Integral, Real

import torch
import torch.nn as nn
from torch.nn import functional as F


# %%
def rope_frequencies(
    head_size: int, max_positions: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(cos, sin)` of the rotation angles, each (max_positions, head_size // 2) float32.

    Row p, column i holds cos(p * f_i) and sin(p * f_i), with f_i = base ** (-2 * i /
    head_size) for i = 0 .. head_size // 2 - 1. Row 0 is all ones (cos) and zeros
    (sin): position 0 is not turned. An odd head_size, a head_size or max_positions
    below 1 are ValueErrors (see `_check_sizes`), and so is a base that is not a
    positive finite number (`_check_base`).
    """
    _check_sizes(head_size, max_positions)
    _check_base(base)
    # -- your code below --
    inv_freq = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)  # (h,)
    angles = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)  # (P, h)
    return torch.cos(angles), torch.sin(angles)


# %%
def _check_sizes(head_size: int, max_positions: int) -> None:
    """A ValueError naming head_size unless it is even and at least 2, and naming
    max_positions unless it is at least 1."""
    if head_size < 2 or head_size % 2:
        raise ValueError(f"head_size must be even and at least 2 (pairs turn), got {head_size}")
    if max_positions < 1:
        raise ValueError(f"max_positions must be at least 1, got {max_positions}")


# %%
def _check_base(base: float) -> None:
    """A ValueError naming base unless it is a positive finite number: base ** (-2i /
    head_size) is inf for 0, NaN for a negative base, and NaN for NaN."""
    if isinstance(base, bool) or not isinstance(base, Real) or not 0 < base < math.inf:
        raise ValueError(f"base must be a positive finite number, got {base!r}")


# %%
def apply_rope(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """`x` (..., T, head_size) with the vector at time t turned to `positions[t]`.

    positions is a (T,) tensor of integer positions, each a row of cos and sin (as
    `rope_frequencies` makes them). Pair i of a vector is (x[..., i], x[..., i + h])
    with h = head_size // 2, turned by the angle in column i: (x1 * cos - x2 * sin,
    x1 * sin + x2 * cos). The result has x's shape and dtype (cos and sin are cast to
    it: under bf16 autocast, float32 tables would turn q and k into float32). Bad shapes, and
    positions outside the table, are ValueErrors (see `_check_rope_inputs`).
    """
    _check_rope_inputs(x, cos, sin, positions)
    # -- your code below --
    h = x.shape[-1] // 2
    c, s = cos[positions].to(x.dtype), sin[positions].to(x.dtype)  # (T, h), broadcast over x
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


# %%
def _check_rope_inputs(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor
) -> None:
    """A ValueError that names the argument: x with an odd last dimension or fewer
    than 2 dimensions, cos or sin not (max_positions, head_size // 2), positions not
    a (T,) integer tensor, or a position outside 0 .. max_positions - 1."""
    if x.dim() < 2 or x.shape[-1] % 2:
        raise ValueError(
            f"x must be (..., T, head_size) with an even head_size, got shape {tuple(x.shape)}"
        )
    h = x.shape[-1] // 2
    if cos.dim() != 2 or cos.shape[1] != h or sin.shape != cos.shape:
        raise ValueError(
            f"cos and sin must both be (max_positions, {h}) for head_size {2 * h}, got "
            f"{tuple(cos.shape)} and {tuple(sin.shape)}"
        )
    if positions.dtype.is_floating_point or positions.shape != (x.shape[-2],):
        raise ValueError(
            f"positions must be a ({x.shape[-2]},) integer tensor, one per time step, got "
            f"shape {tuple(positions.shape)} and dtype {positions.dtype}"
        )
    if len(positions) and (positions.min() < 0 or positions.max() >= cos.shape[0]):
        raise ValueError(
            f"positions must be in 0 .. {cos.shape[0] - 1} (the rows of cos and sin), got "
            f"{positions.min().item()} .. {positions.max().item()}"
        )


# %%
def sliding_mask(
    query_positions: torch.Tensor, key_positions: torch.Tensor, window: int
) -> torch.Tensor:
    """The (Tq, Tk) boolean mask of sliding-window causal attention: True where the
    query at position m may see the key at position n, that is 0 <= m - n < window.

    With query_positions = key_positions = arange(T) it is the band of the module
    docstring. Taking positions (not just T) lets a cache use it for keys it holds.
    A window that is not a whole number of at least 1 is a ValueError.
    """
    _check_window(window)
    # -- your code below --
    distance = query_positions[:, None] - key_positions[None, :]  # (Tq, Tk): m - n
    return (distance >= 0) & (distance < window)


# %%
class RopeAttention(nn.Module):
    """Multi-head causal attention with rotary positions over a sliding window:
    (B, T, n_embd) -> (B, T, n_embd), for any T."""

    def __init__(self, n_embd: int, n_head: int, window: int, dropout: float = 0.0):
        """As the fast_attention kata's CausalSelfAttention, with no biases and no
        block_size: `c_attn = nn.Linear(n_embd, 3 * n_embd, bias=False)` (queries,
        keys, values in that order), `c_proj = nn.Linear(n_embd, n_embd, bias=False)`
        and `resid_dropout = nn.Dropout(dropout)`. Keep n_embd, n_head, `head_size =
        n_embd // n_head`, window and dropout (the probability on the attention
        weights while training). See `_check_attention_sizes` for what is refused.
        The rotation table `self._cos`, `self._sin` (None until the given
        `_rope_table` makes it on first use) is set above your code: it is given.
        """
        super().__init__()
        _check_attention_sizes(n_embd, n_head, window)
        self._cos: torch.Tensor | None = None  # the rotation table, made on first use
        self._sin: torch.Tensor | None = None
        # -- your code below --
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=False)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=False)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_embd, self.n_head, self.head_size = n_embd, n_head, n_embd // n_head
        self.window = window
        self.dropout = dropout

    def _rope_table(self, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """`rope_frequencies(head_size, ...)` with at least `length` rows, on `device`:
        made once and kept, and made again for twice the rows when a longer text comes,
        so a step of generation does not recompute a table as long as the text. (Row p
        is the same numbers whatever the table's length.)"""
        if self._cos is None or len(self._cos) < length or self._cos.device != device:
            rows = max(length, 2 * len(self._cos) if self._cos is not None else 0)
            cos, sin = rope_frequencies(self.head_size, rows)
            self._cos, self._sin = cos.to(device), sin.to(device)
        return self._cos, self._sin

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, n_head, T, head_size): the heads become a batch dimension.

        A t that is not (B, T, n_embd) is a ValueError."""
        _check_x(t, self.n_embd, "t")
        # -- your code below --
        B, T, C = t.shape
        return t.view(B, T, self.n_head, self.head_size).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the window: (B, T, n_embd) -> (B, T, n_embd).

        c_attn and split_heads give q, k, v (B, n_head, T, head_size); turn q and k
        (not v) to positions 0 .. T - 1 with `apply_rope` and the table of
        `self._rope_table(T, x.device)` (rope_frequencies' cos and sin, kept); then
        F.scaled_dot_product_attention with `attn_mask=sliding_mask(positions,
        positions, window)` (and dropout_p while training); merge the heads, c_proj,
        resid_dropout. When T <= window the band is the whole causal triangle:
        `is_causal=True` instead of the mask computes the same and lets PyTorch use
        its fused kernel (twice as fast to train at the modern preset). An x that is
        not (B, T, n_embd) is a ValueError.
        """
        _check_x(x, self.n_embd, "x")
        # -- your code below --
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, nh, T, hs)
        cos, sin = self._rope_table(T, x.device)
        positions = torch.arange(T, device=x.device)
        q, k = apply_rope(q, cos, sin, positions), apply_rope(k, cos, sin, positions)
        p = self.dropout if self.training else 0.0
        if T <= self.window:  # the band is the whole lower triangle: the fused causal kernel
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            mask = sliding_mask(positions, positions, self.window)  # (T, T): the band
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


# %%
def _check_x(x: torch.Tensor, n_embd: int, name: str) -> None:
    """A ValueError naming the argument `name` and its shape unless x is (B, T, n_embd)."""
    if x.dim() != 3 or x.shape[-1] != n_embd:
        raise ValueError(f"{name} must have shape (B, T, n_embd={n_embd}), got {tuple(x.shape)}")


# %%
def _check_attention_sizes(n_embd: int, n_head: int, window: int) -> None:
    """A ValueError naming the sizes unless n_head divides n_embd into heads of an even
    head_size (RoPE turns pairs), and naming window unless it is at least 1."""
    if n_head < 1 or n_embd % n_head != 0:
        raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
    if (n_embd // n_head) % 2:
        raise ValueError(
            f"head_size n_embd // n_head = {n_embd // n_head} must be even: RoPE turns pairs"
        )
    _check_window(window)


# %%
def _check_window(window: int) -> None:
    """A ValueError naming window unless it is a whole number of at least 1: a window
    of 0 sees nothing (every row of the mask is False), and 2.5 is no count of
    positions."""
    if isinstance(window, bool) or not isinstance(window, Integral):
        raise ValueError(f"window must be a whole number, got {window!r}")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")

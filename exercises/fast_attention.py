# %%
"""Kata 10 - fast attention: one fused projection, heads as a batch dimension.

The multihead kata computes attention the readable way: n_head separate `Head`
modules, each with three small Linear layers, each building its own (T, T) mask and
softmax, and a Python loop that concatenates their outputs. Every one of those is a
separate, small operation, and on a CPU (or a GPU) small operations are mostly
overhead. This kata computes exactly the same function with a handful of large ones:

1. One Linear, `c_attn = Linear(n_embd, 3 * n_embd, bias=False)`, makes the queries,
   keys and values of all heads at once; split its output into q, k, v.
2. Each of q, k, v is (B, T, n_embd) = (B, T, n_head * head_size). Reshape it to
   (B, T, n_head, head_size) and swap the middle axes: (B, n_head, T, head_size). The
   heads are now a batch dimension, and one batched matmul serves all of them.
3. `F.scaled_dot_product_attention(q, k, v, is_causal=True)` does the rest of the
   attention kata in one call: scores q @ k^T scaled by head_size ** -0.5, the
   causal mask, softmax, dropout on the weights, and the weighted sum of values.
   PyTorch picks a fused kernel that never stores the (T, T) matrix when it can.
4. Swap the axes back and merge the heads: (B, T, n_head, head_size) -> (B, T,
   n_embd), the same layout as the multihead kata's concatenation. Then
   `c_proj = Linear(n_embd, n_embd)` and dropout, as MultiHeadAttention's `proj`.

    x               (B, T, n_embd)
    c_attn(x)       (B, T, 3 * n_embd)      split -> q, k, v (B, T, n_embd) each
    q, k, v         (B, n_head, T, head_size)
    attention       (B, n_head, T, head_size)
    merged          (B, T, n_embd)
    c_proj          (B, T, n_embd)

Same function, same weights: `from_multihead(mha)` copies a MultiHeadAttention's
weights into a CausalSelfAttention. Head h's query weight (head_size, n_embd) becomes
rows h * head_size ... (h + 1) * head_size of the query third of `c_attn.weight`
(a Linear's weight is (out_features, in_features)), and the same for keys and
values. `FusedGPT` is the gpt kata's model with every block's `sa` replaced by a
CausalSelfAttention (and the LayerNorms by PyTorch's own, one kernel each): the
same parameter count, the same forward and generate, and `from_gpt(model)` turns a
trained teaching GPT into a fused one.

Pitfall: `view` after `transpose` fails, because a transposed tensor is not laid out
in memory row by row. Call `.contiguous()` first (or use `reshape`). And the order
of the split matters: the mapping puts queries first, then keys, then values.

The tests give a CausalSelfAttention the weights of a random MultiHeadAttention and
check the outputs agree for many sizes (hypothesis), that the future never changes
the past, that a FusedGPT has exactly the teaching GPT's parameter count, and that
`from_gpt` reproduces a teaching GPT's logits.
"""

# %%
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn import functional as F

from gptkata.kata.select import earlier

multihead = earlier(__name__, "multihead")
gpt = earlier(__name__, "gpt")


# %%
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention in a few large operations: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        """`c_attn`, an `nn.Linear(n_embd, 3 * n_embd, bias=False)` making queries, keys
        and values (in that order) of all heads; `c_proj`, an `nn.Linear(n_embd,
        n_embd)` with bias; `resid_dropout`, an `nn.Dropout(dropout)` after `c_proj`.
        Keep `n_head`, `n_embd`, `block_size` and `dropout` (the probability used on
        the attention weights while training).

        No bias in `c_attn`, as in the attention kata's heads, so the parameter count
        is MultiHeadAttention's. An n_embd that n_head does not divide is a ValueError.
        """
        if n_head < 1 or n_embd < 1 or n_embd % n_head != 0:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        # -- your code below --
        raise NotImplementedError("not implemented yet: fast_attention.CausalSelfAttention.__init__")

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, n_head, T, head_size): the heads become a batch dimension.

        A t that is not (B, T, n_embd) is a ValueError."""
        if t.dim() != 3 or t.shape[-1] != self.n_embd:
            raise ValueError(
                f"t must have shape (B, T, n_embd={self.n_embd}), got {tuple(t.shape)}"
            )
        # -- your code below --
        raise NotImplementedError("not implemented yet: fast_attention.CausalSelfAttention.split_heads")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over the past: (B, T, n_embd) -> (B, T, n_embd).

        c_attn, then `split_heads` on each of q, k, v, then one call of
        F.scaled_dot_product_attention, merge the heads back, c_proj, dropout. T may be
        anything from 1 to block_size; a longer sequence, and an x that is not
        (B, T, n_embd), are ValueErrors. Dropout on the attention weights only while
        training (`self.training`).
        """
        if x.dim() != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(
                f"x must have shape (B, T, n_embd={self.n_embd}), got {tuple(x.shape)}"
            )
        B, T, C = x.shape
        if T > self.block_size:
            raise ValueError(f"x has sequence length {T}, longer than block_size {self.block_size}")
        # -- your code below --
        raise NotImplementedError("not implemented yet: fast_attention.CausalSelfAttention.forward")


# %%
def from_multihead(mha: multihead.MultiHeadAttention) -> CausalSelfAttention:
    """A new CausalSelfAttention computing exactly what `mha` computes.

    The sizes come from `mha`: n_head = len(mha.heads), head_size and block_size from
    its first head, n_embd = mha.proj.in_features, dropout = mha.dropout.p. Then, with
    gradients off, `c_attn.weight` gets the queries of all heads stacked by rows
    (head 0 first), then the keys, then the values; `c_proj` gets `mha.proj`'s
    weight and bias. The result is in the same training/eval mode as `mha`.
    """
    raise NotImplementedError("not implemented yet: fast_attention.from_multihead")


# %%
class FusedGPT(gpt.GPTLanguageModel):
    """The gpt kata's GPTLanguageModel, with CausalSelfAttention in every block.

    Everything else is inherited: the embeddings, the blocks' feed-forward layers,
    `lm_head`, `forward(idx, targets)` and `generate(idx, max_new_tokens,
    generator)`. The block kata's LayerNorm is swapped for `torch.nn.LayerNorm`,
    which computes the same (the block kata checks they agree) in one kernel instead
    of six small operations. Parameter names are the teaching model's except inside
    attention: `blocks.<i>.sa.c_attn.weight`, `blocks.<i>.sa.c_proj.weight` and
    `blocks.<i>.sa.c_proj.bias`.
    """

    def __init__(self, config: gpt.GPTConfig):
        """Build the teaching model; in each block replace `sa` with a
        `CausalSelfAttention(n_embd, n_head, block_size, dropout)` from `config`, and
        `ln1`, `ln2` (and the final `ln_f`) with `nn.LayerNorm(n_embd)`; then
        initialise all weights again with `self._init_weights` (the new layers too)."""
        raise NotImplementedError("not implemented yet: fast_attention.FusedGPT.__init__")


# %%
def from_gpt(model: gpt.GPTLanguageModel) -> FusedGPT:
    """A FusedGPT with `model`'s weights: the same logits for the same ids.

    Every parameter outside attention has the same name in both models and is copied
    as it is; each block's attention comes from `from_multihead(block.sa)`. The
    result is in the same training/eval mode as `model`.
    """
    raise NotImplementedError("not implemented yet: fast_attention.from_gpt")

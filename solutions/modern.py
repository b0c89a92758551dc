# %%
"""Kata 16 - a modern GPT, and a KV cache that slides.

The gpt kata's model is GPT-2's design (2019). Models since (Llama, Mistral) keep
its shape - embeddings, a stack of pre-norm residual blocks, a head - and change
three parts:

    GPT (kata 9)                     ModernGPT (this kata)
    position embedding table         none: RoPE turns q and k (the rope kata)
    attention over block_size        attention over the last `window` positions
    LayerNorm (mean and variance)    RMSNorm: x / sqrt(mean(x^2) + eps) * weight
    Linear, ReLU, Linear (4n)        SwiGLU: down(silu(gate(x)) * up(x)), hidden 8n/3
    biases everywhere                no biases

RMSNorm drops LayerNorm's centring and its bias: it only rescales each vector to a
root-mean-square of 1, which works as well and costs less. SwiGLU gates: `up(x)` is
multiplied, number by number, by `silu(gate(x))` (silu(z) = z * sigmoid(z), a
smooth ReLU), so the layer can switch each hidden unit on or off depending on x.
Three matrices of 8n/3 hold as many parameters as the old two of 4n.

No position table means no block_size: the model reads sequences of any length, and
`generate` never crops. Each step runs the whole sequence again; the window, not a
crop, limits what each layer sees.

The sliding KV cache. With learned positions, cropping moved every id to a new
position, so kata 11's cache went stale past block_size. With RoPE, a key keeps the
rotation of the position it was made at, and with a window a layer never looks
further back than `window` positions. So each layer only needs the keys and values
of its last `window` positions, made once and never changed. Mistral keeps them in a
rolling buffer: the key of position p goes into slot p % window, overwriting the one
that just left the window. Slots are out of order, which attention does not mind:
the softmax of a sum does not depend on the order of its terms, and the mask is
computed from each slot's position, not from its index.

    RollingKVCache(window)                    one layer's last `window` keys and values
    cache.update(k, v)                        keys, values, positions to attend over
    attend_sliding(attn, x, cache)            RopeAttention for new positions
    forward_sliding(model, idx, caches)       logits (B, T, V) of T new ids
    generate_sliding(model, idx, max_new_tokens, generator=None)
                                              model.generate's ids, at a constant cost per id

Why it is exact, even with many layers: layer l's output at position t depends only
on layer l's inputs at t - window + 1 .. t. The cache of layer l holds the keys and
values made from those very inputs, when each position was new; the full forward
recomputes them from the same inputs (by the same argument one layer down), so it
gets the same numbers. The full model looks further back than `window` - through
n_layer layers, n_layer * (window - 1) positions - but only because each layer's
outputs, which the cache keeps, carry what that layer saw.

Pitfall: the position of a new id is the number of ids seen before it, not the
number of slots filled (which stops growing at `window`), and not its slot.
"""

# %%
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import torch
import torch.nn as nn
from torch.nn import functional as F

from gptkata.kata.select import earlier

rope = earlier(__name__, "rope")
bigram = earlier(__name__, "bigram")
# Checks given in earlier katas, not written again here.
_check_eps = earlier(__name__, "block")._check_eps
_check_max_new_tokens = earlier(__name__, "gpt")._check_max_new_tokens
_check_kv = earlier(__name__, "kv_cache")._check_kv


# %%
class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension: (..., dim) -> (..., dim)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        """A learned `weight` of `dim` ones (no bias), and `eps`. An eps that is
        negative, NaN or infinite is a ValueError (`_check_eps`, the block kata's)."""
        _check_eps(eps)
        # -- your code below --
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x / sqrt(mean(x^2 over the last dimension) + eps) * weight, as
        torch.nn.RMSNorm(dim, eps) computes it (eps inside the square root). An x
        whose last dimension is not dim is a ValueError."""
        dim = self.weight.shape[0]
        if x.dim() < 1 or x.shape[-1] != dim:
            raise ValueError(f"x must have shape (..., dim={dim}), got {tuple(x.shape)}")
        # -- your code below --
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


# %%
class SwiGLU(nn.Module):
    """The gated feed-forward layer: (..., n_embd) -> (..., n_embd)."""

    def __init__(self, n_embd: int, hidden: int):
        """Three bias-free Linear layers: `gate` and `up`, n_embd -> hidden, and `down`,
        hidden -> n_embd."""
        super().__init__()
        self.gate = nn.Linear(n_embd, hidden, bias=False)
        self.up = nn.Linear(n_embd, hidden, bias=False)
        self.down = nn.Linear(hidden, n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """down(silu(gate(x)) * up(x)), with F.silu."""
        return self.down(F.silu(self.gate(x)) * self.up(x))


# %%
@dataclass
class ModernConfig:
    """The model's sizes: the lecture's, with a window instead of a block_size.
    ModernGPT(ModernConfig()) has 10,671,744 parameters (the lecture's GPT 10,788,929)."""

    vocab_size: int = 65
    window: int = 256
    n_embd: int = 384
    n_head: int = 6
    n_layer: int = 6
    dropout: float = 0.2


# %%
def hidden_size(n_embd: int) -> int:
    """The SwiGLU's hidden width, 8 * n_embd // 3: as many parameters as a 4n ReLU
    feed-forward (1,024 for n_embd 384). An n_embd that is not a whole number of at
    least 1 is a ValueError (`_check_count`)."""
    _check_count(n_embd, "n_embd")
    # -- your code below --
    return 8 * n_embd // 3


# %%
def _check_count(value: int, name: str, least: int = 1) -> None:
    """A ValueError naming `name` unless `value` is a whole number of at least `least`
    (a size or the window; a bool is no count, though Python treats True as 1)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")


# %%
class ModernBlock(nn.Module):
    """A pre-norm residual block: RMSNorm, RopeAttention, RMSNorm, SwiGLU."""

    def __init__(self, n_embd: int, n_head: int, window: int, dropout: float = 0.0):
        """`norm1`, `attn` (the rope kata's RopeAttention(n_embd, n_head, window,
        dropout)), `norm2`, `ffwd` (SwiGLU(n_embd, hidden_size(n_embd))) and `dropout`,
        an nn.Dropout(dropout) after the feed-forward layer."""
        super().__init__()
        self.norm1 = RMSNorm(n_embd)
        self.attn = rope.RopeAttention(n_embd, n_head, window, dropout)
        self.norm2 = RMSNorm(n_embd)
        self.ffwd = SwiGLU(n_embd, hidden_size(n_embd))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + attn(norm1(x)), then that + dropout(ffwd(norm2(that))): (B, T, n_embd)."""
        x = x + self.attn(self.norm1(x))
        return x + self.dropout(self.ffwd(self.norm2(x)))


# %%
class ModernGPT(nn.Module):
    """A decoder-only transformer with rotary positions and sliding-window attention."""

    def __init__(self, config: ModernConfig):
        """Keep `config`; build `token_embedding_table` (vocab_size x n_embd), `blocks`
        (an nn.Sequential of n_layer ModernBlocks), `norm_f` (RMSNorm) and `lm_head`
        (Linear(n_embd, vocab_size, bias=False)); no position table. Then
        `self.apply(self._init_weights)`: GPT-2's Normal(0, 0.02), as in the gpt kata.
        A config of bad sizes or dropout is a ValueError (`_check_config`)."""
        _check_config(config)
        # -- your code below --
        super().__init__()
        self.config = c = config
        self.token_embedding_table = nn.Embedding(c.vocab_size, c.n_embd)
        self.blocks = nn.Sequential(
            *(ModernBlock(c.n_embd, c.n_head, c.window, c.dropout) for _ in range(c.n_layer))
        )
        self.norm_f = RMSNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, 0.02) for Linear and Embedding weights (there are no biases)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits (B, T, vocab_size), loss or None)` as the gpt kata's forward, for any T:
        token embeddings, the blocks, norm_f, lm_head; the loss is the cross-entropy
        over (B*T, vocab_size). idx must be (B, T) torch.long ids below vocab_size, and
        targets ids of idx's shape (`_check_ids`)."""
        _check_ids(idx, self.config.vocab_size)
        if targets is not None:
            _check_ids(targets, self.config.vocab_size, "targets", shape=tuple(idx.shape))
        # -- your code below --
        B, T = idx.shape
        x = self.blocks(self.token_embedding_table(idx))  # (B, T, n_embd)
        logits = self.lm_head(self.norm_f(x))  # (B, T, vocab_size)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`idx` (B, T) extended by `max_new_tokens` sampled ids, as the gpt kata's
        generate but without cropping: every step runs the whole sequence, and the
        softmax of the last position's logits gives one torch.multinomial draw with
        `generator`. Bad ids and a max_new_tokens that is not a whole number of 0 or
        more are ValueErrors (`_check_max_new_tokens`, `_check_ids`)."""
        _check_max_new_tokens(max_new_tokens)
        _check_ids(idx, self.config.vocab_size)
        # -- your code below --
        for _ in range(max_new_tokens):
            logits, _ = self(idx)  # (B, T, V): the whole sequence, never cropped
            probs = F.softmax(logits[:, -1, :], dim=-1)  # (B, V)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# %%
def _check_config(config: ModernConfig) -> None:
    """A ValueError naming the field unless vocab_size, window, n_embd and n_head are
    whole numbers of at least 1, n_layer a whole number of 0 or more, and dropout a
    probability in [0, 1) (a dropout of 1 zeroes everything: nothing is learned)."""
    for name in ("vocab_size", "window", "n_embd", "n_head", "n_layer"):
        _check_count(getattr(config, name), f"config.{name}", 0 if name == "n_layer" else 1)
    dropout = config.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0 <= dropout < 1:
        raise ValueError(f"config.dropout must be in [0, 1), got {dropout!r}")


# %%
def _check_ids(
    ids: torch.Tensor, vocab_size: int, name: str = "idx", shape: tuple[int, ...] | None = None
) -> None:
    """The bigram kata's check ((B, T) torch.long ids in [0, vocab_size), of `shape` if
    given), and T >= 1: with no position table, (B, 0) ids would give (B, 0) logits."""
    bigram._check_ids(ids, vocab_size, name, shape)
    if ids.shape[1] == 0:
        raise ValueError(
            f"{name} is empty, shape {tuple(ids.shape)}: it needs at least one id per row"
        )


# %%
class RollingKVCache:
    """One attention layer's keys and values of its last `window` positions, in a
    rolling buffer: position p lives in slot p % window."""

    def __init__(self, window: int):
        """Keep `window`; `k`, `v` and `positions` start as None (allocated on the first
        update, when B, n_head and head_size are known); `seen = 0` positions so far.
        A window that is not a whole number of at least 1 is a ValueError."""
        _check_count(window, "window")  # slot p % window needs at least one slot
        # -- your code below --
        self.window = window
        self.k: torch.Tensor | None = None  # (B, n_head, window, head_size)
        self.v: torch.Tensor | None = None
        self.positions: torch.Tensor | None = None  # (window,) long, -1 for an empty slot
        self.seen = 0

    def __len__(self) -> int:
        """How many positions the cache holds: min(seen, window)."""
        return min(self.seen, self.window)

    def update(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Take the keys and values (B, n_head, T, head_size) of the next T positions,
        seen .. seen + T - 1, and return what their queries attend over: the cached
        slots followed by the new ones, `(keys, values, key_positions)` with keys and
        values (B, n_head, len(self) + T, head_size) and key_positions (len(self) + T,).

        Then store them: the new position p goes into slot p % window (only the last
        `window` of the new ones, if T > window), its position into `positions`, and
        `seen` grows by T. The filled slots are always slots 0 .. len(self) - 1. k and
        v of different shapes, or not of the cached B, n_head and head_size, are a
        ValueError (`_check_kv`).
        """
        _check_kv(k, v, self.k)
        # -- your code below --
        B, nh, T, hs = k.shape
        W = self.window
        if self.k is None:
            self.k = k.new_zeros(B, nh, W, hs)
            self.v = v.new_zeros(B, nh, W, hs)
            self.positions = torch.full((W,), -1, dtype=torch.long, device=k.device)
        held = len(self)
        new_positions = torch.arange(self.seen, self.seen + T, device=k.device)
        keys = torch.cat([self.k[:, :, :held], k], dim=2)  # (B, nh, held + T, hs)
        values = torch.cat([self.v[:, :, :held], v], dim=2)
        key_positions = torch.cat([self.positions[:held], new_positions])
        kept = new_positions[-W:]  # a chunk longer than the window keeps its last W
        slots = kept % W
        self.k[:, :, slots] = k[:, :, -W:]
        self.v[:, :, slots] = v[:, :, -W:]
        self.positions[slots] = kept
        self.seen += T
        return keys, values, key_positions


# %%
def attend_sliding(
    attn: rope.RopeAttention, x: torch.Tensor, cache: RollingKVCache
) -> torch.Tensor:
    """`attn`'s forward for T new positions that follow the `cache.seen` before them:
    x (B, T, n_embd) -> (B, T, n_embd), no dropout.

    The new positions are P .. P + T - 1 with P = cache.seen. Make q, k, v with
    attn.c_attn and attn.split_heads; turn q and k to those positions (apply_rope
    with the table of `attn._rope_table(P + T, x.device)`); `cache.update(k,
    v)` gives the keys, values and key positions to attend over; mask them with
    `rope.sliding_mask(query positions, key positions, attn.window)`; then
    scaled_dot_product_attention, merge the heads and attn.c_proj.
    """
    B, T, C = x.shape
    P = cache.seen
    q, k, v = attn.c_attn(x).split(attn.n_embd, dim=2)  # 3 x (B, T, C)
    q, k, v = attn.split_heads(q), attn.split_heads(k), attn.split_heads(v)  # (B, nh, T, hs)
    cos, sin = attn._rope_table(P + T, x.device)
    positions = torch.arange(P, P + T, device=x.device)
    q, k = rope.apply_rope(q, cos, sin, positions), rope.apply_rope(k, cos, sin, positions)
    keys, values, key_positions = cache.update(k, v)  # (B, nh, held + T, hs)
    mask = rope.sliding_mask(positions, key_positions, attn.window)  # (T, held + T)
    y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)  # (B, nh, T, hs)
    return attn.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


# %%
def forward_sliding(
    model: ModernGPT, idx: torch.Tensor, caches: list[RollingKVCache]
) -> torch.Tensor:
    """The logits (B, T, vocab_size) of T new ids `idx` (B, T) that follow the ids the
    caches have seen (one RollingKVCache per block): the model's forward with each
    block's attention replaced by `attend_sliding(block.attn, ..., cache)`. A number
    of caches other than n_layer, and ids that are not (B, T) torch.long ids below
    vocab_size, are ValueErrors (`_check_ids`)."""
    if len(caches) != len(model.blocks):
        raise ValueError(f"{len(caches)} caches for a model with {len(model.blocks)} blocks")
    _check_ids(idx, model.config.vocab_size)
    # -- your code below --
    x = model.token_embedding_table(idx)  # (B, T, n_embd)
    for blk, cache in zip(model.blocks, caches, strict=True):
        x = x + attend_sliding(blk.attn, blk.norm1(x), cache)
        x = x + blk.ffwd(blk.norm2(x))
    return model.lm_head(model.norm_f(x))  # (B, T, vocab_size)


# %%
@torch.no_grad()
def generate_sliding(
    model: ModernGPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`idx` (B, T) extended by `max_new_tokens` sampled ids: the same ids as
    `model.generate(idx, max_new_tokens, generator)` in eval mode.

    One RollingKVCache(config.window) per block; the whole prompt goes through
    `forward_sliding` once, then each new id alone; sampling is generate's (softmax
    of the last logits, one torch.multinomial draw with `generator`). Runs in eval
    mode and restores the model's mode. Bad ids and a max_new_tokens that is not a
    whole number of 0 or more are ValueErrors (`_check_max_new_tokens`, `_check_ids`).
    """
    _check_max_new_tokens(max_new_tokens)
    _check_ids(idx, model.config.vocab_size)
    # -- your code below --
    was_training = model.training
    model.eval()
    try:
        caches = [RollingKVCache(model.config.window) for _ in model.blocks]
        new = idx  # the ids the caches have not seen yet
        for _ in range(max_new_tokens):
            logits = forward_sliding(model, new, caches)[:, -1, :]  # (B, vocab_size)
            probs = F.softmax(logits, dim=-1)
            new = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, new), dim=1)
    finally:
        model.train(was_training)
    return idx

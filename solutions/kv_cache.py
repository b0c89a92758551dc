# %%
"""Kata 11 - the KV cache: generating a token costs one position, not the whole context.

The gpt kata's `generate` runs the whole context through the model for every new
token, although only the newest position is new: the keys and values of all earlier
positions, in every layer, are the same as in the previous step (the causal mask
guarantees that a position never depends on later ones). A KV cache keeps them.

    step 1 (prefill)  the prompt, T ids at positions 0..T-1: keys and values of all
                      T positions go into the cache of each layer
    each next step    one id, at position P = len(cache): one query, one key, one
                      value per layer; the key and value are appended to the cache,
                      and the query attends over all P + 1 of them

The API, on the fast_attention kata's FusedGPT (a teaching GPTLanguageModel converts
with `fast_attention.from_gpt`):

    KVCache()                                  one layer's keys and values
    attend(attn, x, cache)                     CausalSelfAttention for new positions
    forward_cached(model, idx, caches)         the model for new ids -> logits (B, T, V)
    next_token_logits(model, idx, caches)      the logits after idx, cache kept up to date
    generate_cached(model, idx, max_new_tokens, generator=None)
                                               model.generate, the same tokens, faster

Shapes, with P cached positions and T new ones (nh = n_head, hs = head_size):

    cache.k, cache.v     (B, nh, P, hs)  -> (B, nh, P + T, hs) after append
    q for the new ids    (B, nh, T, hs)
    mask                 (T, P + T)      new position P + i sees keys 0 .. P + i

Pitfall - past block_size. The model has only block_size position embeddings, so
the naive generate crops the context to the last block_size ids. From then on, every
step moves every id one position back: each id gets a different position embedding,
so every key and value in every layer changes. Cached keys are stale, and sliding
the cache (dropping the oldest entry) would give different logits and different
text. To produce exactly the naive tokens, `next_token_logits` rebuilds the caches
from the last block_size ids whenever the context no longer fits. That is a full
forward pass, as expensive as a naive step: the cache makes the first block_size
tokens cheap, and nothing past them. (Models with relative positions, such as
rotary embeddings, can slide their cache; this one cannot.)

Generation is inference: dropout is off (`generate_cached` uses eval mode and puts
the model back in the mode it was in).

The tests compare, step by step, the logits of `next_token_logits` with the naive
`model(idx[:, -block_size:])` for contexts up to three times block_size, check that
`generate_cached` gives the very tokens of `model.generate` under the same seed, and
that a context fed in pieces gives the logits of feeding it at once.
"""

# %%
from __future__ import annotations

from numbers import Integral

import torch
from torch.nn import functional as F

from gptkata.kata.select import earlier

fast_attention = earlier(__name__, "fast_attention")
gpt = earlier(__name__, "gpt")


# %%
class KVCache:
    """The keys and values of one attention layer for the positions seen so far."""

    def __init__(self):
        """`k` and `v` start as None: nothing cached yet."""
        self.k: torch.Tensor | None = None  # (B, n_head, P, head_size)
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        """P, the number of cached positions (0 when empty)."""
        return 0 if self.k is None else self.k.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the keys and values (B, n_head, T, head_size) of T new positions after the
        cached ones; return all of them, (B, n_head, P + T, head_size) each. k and v of
        different shapes, or not of the cached B, n_head and head_size, are a
        ValueError (`_check_kv`)."""
        _check_kv(k, v, self.k)
        # -- your code below --
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=2)
            self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def clear(self) -> None:
        """Forget every cached position."""
        self.k = self.v = None


# %%
def _check_kv(k: torch.Tensor, v: torch.Tensor, cached: torch.Tensor | None) -> None:
    """Raise a ValueError naming the shapes unless k and v are (B, n_head, T, head_size)
    of the same shape, and, when keys are cached, of their B, n_head and head_size."""
    if k.dim() != 4 or k.shape != v.shape:
        raise ValueError(
            f"k and v must both be (B, n_head, T, head_size), of the same shape, got "
            f"{tuple(k.shape)} and {tuple(v.shape)}"
        )
    if cached is not None and (k.shape[:2] != cached.shape[:2] or k.shape[3] != cached.shape[3]):
        B, nh, _, hs = cached.shape
        raise ValueError(
            f"k and v must be ({B}, {nh}, T, {hs}) like the cached keys, got {tuple(k.shape)}"
        )


# %%
def attend(
    attn: fast_attention.CausalSelfAttention, x: torch.Tensor, cache: KVCache
) -> torch.Tensor:
    """`attn`'s forward for T new positions that follow the P cached ones.

    x (B, T, n_embd) -> (B, T, n_embd). Uses attn's own layers (c_attn, split_heads,
    c_proj) and no dropout. The new keys and values are appended to `cache`; new
    position P + i attends to keys 0 .. P + i, so the mask is the causal one shifted
    right by P: `torch.ones(T, P + T, dtype=torch.bool).tril(diagonal=P)`. With an
    empty cache this is exactly `attn(x)`. An x that is not (B, T, n_embd) is a
    ValueError.
    """
    if x.dim() != 3 or x.shape[-1] != attn.n_embd:
        raise ValueError(f"x must have shape (B, T, n_embd={attn.n_embd}), got {tuple(x.shape)}")
    # -- your code below --
    B, T, C = x.shape
    P = len(cache)
    q, k, v = attn.c_attn(x).split(attn.n_embd, dim=2)  # 3 x (B, T, C)
    q, k, v = attn.split_heads(q), attn.split_heads(k), attn.split_heads(v)  # (B, nh, T, hs)
    k, v = cache.append(k, v)  # (B, nh, P + T, hs)
    mask = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, T, hs)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    return attn.c_proj(y)


# %%
def forward_cached(
    model: fast_attention.FusedGPT, idx: torch.Tensor, caches: list[KVCache]
) -> torch.Tensor:
    """The logits (B, T, vocab_size) of T new ids `idx` (B, T) that follow the P
    positions already in `caches` (one KVCache per block, all of length P).

    The same as the model's forward, except that the new ids sit at positions
    P .. P + T - 1 and each block's attention is `attend(block.sa, ..., cache)`.
    P + T > block_size (no position embedding for it), a number of caches other
    than n_layer, ids that are not (B, T) torch.long ids below vocab_size and a
    model that is not a FusedGPT are ValueErrors.
    """
    _check_model_and_caches(model, caches)
    gpt._check_ids(idx, model.config.vocab_size, "idx")
    B, T = idx.shape
    P = len(caches[0]) if caches else 0
    if P + T > model.config.block_size:
        raise ValueError(
            f"{P} cached positions plus {T} new ones is longer than block_size "
            f"{model.config.block_size}"
        )
    # -- your code below --
    positions = torch.arange(P, P + T, device=idx.device)
    x = model.token_embedding_table(idx) + model.position_embedding_table(positions)  # (B, T, C)
    for blk, cache in zip(model.blocks, caches, strict=True):
        x = x + attend(blk.sa, blk.ln1(x), cache)
        x = x + blk.ffwd(blk.ln2(x))
    return model.lm_head(model.ln_f(x))  # (B, T, vocab_size)


# %%
def next_token_logits(
    model: fast_attention.FusedGPT, idx: torch.Tensor, caches: list[KVCache]
) -> torch.Tensor:
    """The logits (B, vocab_size) of the id after the context `idx` (B, L): what
    `model(idx[:, -block_size:])[0][:, -1]` gives, computed with `caches`.

    Call it with the same caches for a context that grows by one id per call, as
    generation does. When the caches hold L - 1 positions (the previous call's
    context) and L <= block_size, only the last id is new: one position. Otherwise
    (empty caches, or L > block_size, where cropping moved every id to another
    position) clear them all and rebuild them from `idx[:, -block_size:]`.
    Afterwards the caches hold the context as the model sees it. Bad input is a
    ValueError, as for `forward_cached`.
    """
    _check_model_and_caches(model, caches)
    gpt._check_prompt(idx, model.config.vocab_size)
    # -- your code below --
    L = idx.shape[1]
    block_size = model.config.block_size
    if len(caches[0]) == L - 1 and L <= block_size:
        logits = forward_cached(model, idx[:, -1:], caches)  # (B, 1, vocab_size)
    else:
        for cache in caches:
            cache.clear()
        logits = forward_cached(model, idx[:, -block_size:], caches)  # (B, T, vocab_size)
    return logits[:, -1, :]


# %%
@torch.no_grad()
def generate_cached(
    model: fast_attention.FusedGPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`idx` (B, T) extended by `max_new_tokens` sampled ids: (B, T + max_new_tokens).

    The same tokens as `model.generate(idx, max_new_tokens, generator)` in eval mode,
    with one KVCache per block and `next_token_logits` for every step; sampling is
    the gpt kata's (softmax, one torch.multinomial draw with `generator`). Runs in
    eval mode and restores the model's mode. A max_new_tokens that is not a whole
    number of 0 or more, a prompt that is not a non-empty (B, T) torch.long tensor of
    ids below vocab_size, and a model that is not a FusedGPT (a teaching GPT has no
    fused attention to cache) are ValueErrors.
    """
    _check_max_new_tokens(max_new_tokens)
    _check_model_and_caches(model)
    gpt._check_prompt(idx, model.config.vocab_size)
    # -- your code below --
    was_training = model.training
    model.eval()
    try:
        caches = [KVCache() for _ in model.blocks]
        for _ in range(max_new_tokens):
            probs = F.softmax(next_token_logits(model, idx, caches), dim=-1)  # (B, vocab_size)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)
    finally:
        model.train(was_training)
    return idx


# %%
def _check_model_and_caches(model: fast_attention.FusedGPT, caches: list | None = None) -> None:
    """Raise ValueError unless every block of `model` attends with the fast_attention
    kata's fused `c_attn` (what `attend` reads; a teaching GPTLanguageModel's blocks
    hold MultiHeadAttention), and unless `caches`, when given, holds one KVCache per
    block."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not all(hasattr(blk.sa, "c_attn") for blk in blocks):
        raise ValueError(
            f"model must be a fast_attention.FusedGPT, got a {type(model).__name__} without "
            f"fused attention (c_attn): convert a teaching GPT with fast_attention.from_gpt(model)"
        )
    if caches is not None and len(caches) != len(blocks):
        raise ValueError(f"{len(caches)} caches for a model with {len(blocks)} blocks")


# %%
def _check_max_new_tokens(max_new_tokens: int) -> None:
    """Raise a ValueError naming max_new_tokens unless it is a whole number of 0 or
    more: how many ids to draw."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral):
        raise ValueError(f"max_new_tokens must be a whole number, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")

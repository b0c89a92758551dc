# %%
"""Kata 3 - bigram: the simplest language model, as an `nn.Module`.

A bigram model predicts the next character from the current one alone. Its only
parameter is a (vocab_size, vocab_size) table: row i holds the scores ("logits")
of every possible next character after character i. `nn.Embedding` is exactly
such a table - indexing it with ids of shape (B, T) returns rows of shape (B, T, C).

Shapes (B = batch, T = time/positions, C = channels, here C = vocab_size):

    idx      (B, T)     long ids
    logits   (B, T, C)  scores for the next character at every position
    targets  (B, T)     the true next characters

The loss is the cross-entropy between the logits and the targets. Pitfall:
`F.cross_entropy` wants the class scores in dimension 1, so flatten logits to
(B*T, C) and targets to (B*T,) when computing it - but return the logits in their
(B, T, C) shape, so callers can read position -1.

Before training every character is about equally likely, so the loss should be near
-ln(1/65) = ln 65 ~ 4.17; the seed's random initial table gives about 4.88.

`generate` extends every row of `idx` one character at a time: take the logits at
the last position, turn them into probabilities with softmax, draw one id with
`torch.multinomial`, append it, repeat. It needs no gradients.
"""

# %%
from __future__ import annotations

from numbers import Integral

import torch
import torch.nn as nn
from torch.nn import functional as F


# %%
class BigramLanguageModel(nn.Module):
    """A lookup table of next-character logits: `token_embedding_table`, vocab x vocab."""

    def __init__(self, vocab_size: int):
        """One `nn.Embedding(vocab_size, vocab_size)` called `token_embedding_table`.

        Remember `super().__init__()` first: nn.Module must set itself up before
        you assign layers to it. A vocab_size that is not a whole number of at least 1
        is a ValueError.
        """
        _check_vocab_size(vocab_size)
        # -- your code below --
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits, loss)`: logits (B, T, vocab_size); loss a scalar tensor, or None
        without targets.

        idx and targets must be (B, T) torch.long ids below vocab_size, targets of
        the same shape as idx; anything else is a ValueError (see `_check_ids`).
        """
        vocab_size = self.token_embedding_table.num_embeddings
        _check_ids(idx, vocab_size, "idx")
        if targets is not None:
            _check_ids(targets, vocab_size, "targets", shape=tuple(idx.shape))
        # -- your code below --
        logits = self.token_embedding_table(idx)  # (B, T, C)
        if targets is None:
            return logits, None
        B, T, C = logits.shape
        loss = F.cross_entropy(logits.view(B * T, C), targets.view(B * T))
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`idx` (B, T) extended by `max_new_tokens` sampled ids: (B, T + max_new_tokens).

        The prompt is kept as the prefix. Pass a seeded `torch.Generator` to
        `torch.multinomial` for reproducible samples. A `max_new_tokens` that is not a
        whole number of 0 or more, and a prompt that is not at least one id per row
        (see `_check_ids`), are ValueErrors.
        """
        _check_max_new_tokens(max_new_tokens)
        _check_ids(idx, self.token_embedding_table.num_embeddings, "idx")
        if idx.shape[1] == 0:
            raise ValueError(
                f"idx is an empty prompt, shape {tuple(idx.shape)}: it needs at least one id per row"
            )
        # -- your code below --
        for _ in range(max_new_tokens):
            logits, _ = self(idx)  # (B, T, C)
            probs = F.softmax(logits[:, -1, :], dim=-1)  # (B, C): the last position only
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
        return idx


# %%
def _check_ids(
    ids: torch.Tensor, vocab_size: int, name: str, shape: tuple[int, ...] | None = None
) -> None:
    """Raise a ValueError naming the argument `name` unless `ids` is a (B, T) tensor
    of torch.long ids in [0, vocab_size) - of exactly `shape`, when it is given.

    What `nn.Embedding` would otherwise say about a float, 1-D or out-of-range idx is
    a raw PyTorch error, or nothing at all (1-D ids give (T, C) logits); the range
    costs one min and one max, cheap next to the model.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        described = (
            f"shape {tuple(ids.shape)} and dtype {ids.dtype}"
            if isinstance(ids, torch.Tensor)
            else type(ids).__name__
        )
        raise ValueError(f"{name} must be a (B, T) torch.long tensor of ids, got {described}")
    if shape is not None and tuple(ids.shape) != shape:
        raise ValueError(f"{name} must have the shape of idx {shape}, got {tuple(ids.shape)}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{name} holds ids from {ids.min().item()} to {ids.max().item()}, but ids must "
            f"be in [0, {vocab_size}) for vocab_size {vocab_size}"
        )


# %%
def _check_vocab_size(vocab_size: int) -> None:
    """Raise a ValueError naming vocab_size unless it is a whole number of at least 1
    (nn.Embedding would say TypeError for 2.5, and nothing at all for 0)."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, Integral):
        raise ValueError(f"vocab_size must be a whole number, got {vocab_size!r}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")


# %%
def _check_max_new_tokens(max_new_tokens: int) -> None:
    """Raise a ValueError naming max_new_tokens unless it is a whole number of 0 or
    more: how many ids to draw."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral):
        raise ValueError(f"max_new_tokens must be a whole number, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")

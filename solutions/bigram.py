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

import torch
import torch.nn as nn
from torch.nn import functional as F


# %%
class BigramLanguageModel(nn.Module):
    """A lookup table of next-character logits: `token_embedding_table`, vocab x vocab."""

    def __init__(self, vocab_size: int):
        """One `nn.Embedding(vocab_size, vocab_size)` called `token_embedding_table`.

        Remember `super().__init__()` first: nn.Module must set itself up before
        you assign layers to it.
        """
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits, loss)`: logits (B, T, vocab_size); loss a scalar tensor, or None
        without targets. Targets of another shape than idx are a ValueError."""
        logits = self.token_embedding_table(idx)  # (B, T, C)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}"
            )
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
        `torch.multinomial` for reproducible samples. A negative `max_new_tokens` is
        a ValueError.
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")
        for _ in range(max_new_tokens):
            logits, _ = self(idx)  # (B, T, C)
            probs = F.softmax(logits[:, -1, :], dim=-1)  # (B, C): the last position only
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
        return idx

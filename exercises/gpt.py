"""Kata 9 - GPT: the whole language model.

Everything comes together. The bigram model looked at one character; this one
looks at up to `block_size` characters through `n_layer` transformer blocks:

    idx                       (B, T)          long ids
    tok = token_embedding     (B, T, n_embd)  what each character is
    pos = position_embedding  (T, n_embd)     where it is (attention alone is
                                              blind to order)
    x = tok + pos             (B, T, n_embd)  broadcast over the batch
    x = blocks(x)             (B, T, n_embd)
    x = ln_f(x)               (B, T, n_embd)
    logits = lm_head(x)       (B, T, vocab_size)

The loss is the bigram kata's: cross-entropy over (B*T, vocab_size). With the
lecture's config (GPTConfig() below) the model has exactly 10,788,929 parameters
and reaches a validation loss of about 1.48 after 5,000 steps on one GPU.

Initialisation: every Linear and Embedding weight from a normal distribution with
std 0.02 and every bias 0, as in GPT-2. PyTorch's default initialisation is wider
and makes the untrained loss well above ln(vocab_size); with small weights the
logits start near zero, so the first loss is close to ln 65 ~ 4.17.

`generate` differs from the bigram's in one line: the position table only has
`block_size` rows, so the model must only ever see the last `block_size` ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from gptkata.select import earlier

block = earlier(__name__, "block")


@dataclass
class GPTConfig:
    """The model's sizes. The defaults are the lecture's 10.8M-parameter model."""

    vocab_size: int = 65
    block_size: int = 256
    n_embd: int = 384
    n_head: int = 6
    n_layer: int = 6
    dropout: float = 0.2


class GPTLanguageModel(nn.Module):
    """A decoder-only transformer over characters."""

    def __init__(self, config: GPTConfig):
        """`token_embedding_table`, `position_embedding_table`, `blocks` (an
        nn.Sequential of n_layer Blocks), `ln_f` (LayerNorm) and `lm_head`
        (Linear(n_embd, vocab_size)); then `self.apply(self._init_weights)`."""
        raise NotImplementedError("not implemented yet: gpt.GPTLanguageModel.__init__")

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, 0.02) for Linear and Embedding weights, zeros for Linear biases."""
        raise NotImplementedError("not implemented yet: gpt.GPTLanguageModel._init_weights")

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits (B, T, vocab_size), loss or None)`.

        idx must be a (B, T) integer tensor with T <= block_size; anything else is a
        ValueError.
        """
        raise NotImplementedError("not implemented yet: gpt.GPTLanguageModel.forward")

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`idx` (B, T) extended by `max_new_tokens` sampled ids: (B, T + max_new_tokens).

        Any prompt length works: the model sees only the last block_size ids. A
        negative max_new_tokens is a ValueError.
        """
        raise NotImplementedError("not implemented yet: gpt.GPTLanguageModel.generate")

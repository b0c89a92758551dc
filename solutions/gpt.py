# %%
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

The loss is the bigram kata's: cross-entropy over (B*T, vocab_size).

Counting parameters (n = n_embd, V = vocab_size): the two embedding tables hold
V * n + block_size * n, each block 12n^2 + 10n, the final LayerNorm 2n and the head
n * V + V. With the lecture's config (GPTConfig() below) that is exactly 10,788,929
parameters, the lecture's "10.788929 M"; trained for 5,000 steps on one GPU it
reaches a validation loss of about 1.48.

Initialisation: every Linear and Embedding weight from a normal distribution with
std 0.02 and every Linear bias 0, as in GPT-2. The logits then start small and
nearly equal, so the untrained loss is about 4.2, close to ln 65 ~ 4.17, the loss
of guessing uniformly. PyTorch's defaults are wider (N(0, 1) for embeddings, up to
1/sqrt(fan_in) for Linear layers) and start further from uniform.

`generate` differs from the bigram's in one line: the position table only has
`block_size` rows, so the model must only ever see the last `block_size` ids.
Dropout is active in train mode; call `model.eval()` before sampling.
"""

# %%
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import torch
import torch.nn as nn
from torch.nn import functional as F

from gptkata.kata.select import earlier

block = earlier(__name__, "block")


# %%
@dataclass
class GPTConfig:
    """The model's sizes. The defaults are the lecture's 10.8M-parameter model."""

    vocab_size: int = 65
    block_size: int = 256
    n_embd: int = 384
    n_head: int = 6
    n_layer: int = 6
    dropout: float = 0.2


# %%
class GPTLanguageModel(nn.Module):
    """A decoder-only transformer over characters."""

    def __init__(self, config: GPTConfig):
        """Keep `config`; build `token_embedding_table` (vocab_size x n_embd),
        `position_embedding_table` (block_size x n_embd), `blocks` (an nn.Sequential
        of n_layer Blocks), `ln_f` (the block kata's LayerNorm) and `lm_head`
        (Linear(n_embd, vocab_size)); then `self.apply(self._init_weights)`, which
        calls `_init_weights` on every submodule. A config with a size that is not a
        whole number (at least 1; n_layer may be 0) or a dropout outside [0, 1) is a
        ValueError (`_check_config`)."""
        _check_config(config)
        # -- your code below --
        super().__init__()
        self.config = config
        c = config
        self.token_embedding_table = nn.Embedding(c.vocab_size, c.n_embd)
        self.position_embedding_table = nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.Sequential(
            *(block.Block(c.n_embd, c.n_head, c.block_size, c.dropout) for _ in range(c.n_layer))
        )
        self.ln_f = block.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, 0.02) for Linear and Embedding weights, zeros for Linear biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`(logits (B, T, vocab_size), loss or None)`, the loss as in the bigram kata.

        idx must be a (B, T) tensor of torch.long ids below vocab_size (see
        `_check_ids`) with T <= block_size, and targets ids of idx's shape; anything
        else is a ValueError.
        """
        _check_ids(idx, self.config.vocab_size, "idx")
        if targets is not None:
            _check_ids(targets, self.config.vocab_size, "targets", shape=tuple(idx.shape))
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"idx has sequence length {T}, longer than block_size {self.config.block_size}"
            )
        # -- your code below --
        tok = self.token_embedding_table(idx)  # (B, T, n_embd)
        pos = self.position_embedding_table(torch.arange(T, device=idx.device))  # (T, n_embd)
        x = self.blocks(tok + pos)  # (B, T, n_embd), pos broadcast over the batch
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab_size)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`idx` (B, T) extended by `max_new_tokens` sampled ids: (B, T + max_new_tokens).

        As the bigram's generate, with one change: any prompt length works, because
        the model is only ever shown the last block_size ids. The prompt is kept as
        the prefix; a seeded `generator` makes the samples reproducible. A prompt
        that is not at least one id per row of (B, T) torch.long ids below
        vocab_size, or a max_new_tokens that is not a whole number of 0 or more, is a
        ValueError.
        """
        _check_max_new_tokens(max_new_tokens)
        _check_prompt(idx, self.config.vocab_size)
        # -- your code below --
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size :])  # (B, <= block_size, V)
            probs = F.softmax(logits[:, -1, :], dim=-1)  # (B, V): the last position only
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
        return idx


# %%
# The ids check is the bigram kata's (given there, not written again here).
_check_ids = earlier(__name__, "bigram")._check_ids


# %%
def _check_prompt(idx: torch.Tensor, vocab_size: int) -> None:
    """Raise a ValueError unless `idx` is a prompt to generate from: (B, T) torch.long
    ids below vocab_size (`_check_ids`), with at least one id per row (T >= 1), since
    generating reads the logits of the last id."""
    _check_ids(idx, vocab_size, "idx")
    if idx.shape[1] == 0:
        raise ValueError(
            f"idx is an empty prompt, shape {tuple(idx.shape)}: it needs at least one id per row"
        )


# %%
def _check_config(config: GPTConfig) -> None:
    """Raise a ValueError naming the field unless vocab_size, block_size, n_embd and
    n_head are whole numbers of at least 1, n_layer a whole number of 0 or more, and
    dropout a probability in [0, 1) (a dropout of 1 zeroes everything: nothing is
    learned)."""
    for name, least in (
        ("vocab_size", 1),
        ("block_size", 1),
        ("n_embd", 1),
        ("n_head", 1),
        ("n_layer", 0),
    ):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"config.{name} must be a whole number, got {value!r}")
        if value < least:
            raise ValueError(f"config.{name} must be at least {least}, got {value}")
    dropout = config.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0 <= dropout < 1:
        raise ValueError(f"config.dropout must be in [0, 1), got {dropout!r}")


# %%
def _check_max_new_tokens(max_new_tokens: int) -> None:
    """Raise a ValueError naming max_new_tokens unless it is a whole number of 0 or
    more: how many ids to draw."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral):
        raise ValueError(f"max_new_tokens must be a whole number, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")

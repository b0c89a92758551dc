# %%
"""Kata 2 - batching: the corpus as a tensor, the split, and random batches.

The whole corpus becomes one long 1-D tensor of ids. Its dtype is `torch.long`
(int64) because the layers that take ids - `nn.Embedding` and the targets of
`F.cross_entropy` - index with 64-bit integers and reject floats or int32.

The first 90% trains the model; the last 10% is held out to check that the model
learns the language rather than memorising the text (the validation loss).

A model never sees the whole corpus at once, only chunks of `block_size + 1`
characters. One chunk holds `block_size` examples at once: for every t the context
is chunk[:t+1] and the target is chunk[t+1]. So the model learns to predict from a
context of 1 character up to `block_size` characters.

`get_batch` samples `batch_size` such chunks at random positions and stacks them:

    x: (B, T)  the inputs,   x[b] = data[i : i+T]
    y: (B, T)  the targets,  y[b] = data[i+1 : i+T+1], x shifted left by one

Start positions come from
`torch.randint(len(data) - block_size, (batch_size,), generator=generator)`, which
is what makes the seed notebook's batch reproduce under seed 1337.
"""

# %%
from __future__ import annotations

import torch

from gptkata.kata.select import earlier

tokenizer = earlier(__name__, "tokenizer")


# %%
def text_to_tensor(text: str, stoi: dict[str, int]) -> torch.Tensor:
    """`text` encoded as a 1-D `torch.long` tensor of shape (len(text),).

    Use the tokenizer kata's `encode` (available here as `tokenizer.encode`).
    """
    return torch.tensor(tokenizer.encode(text, stoi), dtype=torch.long)


# %%
def train_val_split(
    data: torch.Tensor, train_fraction: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(train, val)`: the first `int(len(data) * train_fraction)` ids, then the rest.

    The split is a cut, not a shuffle: the validation text is text the model has
    never seen, in one piece. Data that is not 1-D, and a fraction outside (0, 1),
    are ValueErrors.
    """
    if data.dim() != 1:
        raise ValueError(
            f"data must be 1-D (one long sequence of ids), got shape {tuple(data.shape)}"
        )
    if not 0 < train_fraction < 1:
        raise ValueError(
            f"train_fraction must be between 0 and 1 (exclusive), got {train_fraction}"
        )
    # -- your code below --
    n = int(len(data) * train_fraction)
    return data[:n], data[n:]


# %%
def context_target_pairs(data: torch.Tensor, block_size: int) -> list[tuple[torch.Tensor, int]]:
    """The `block_size` (context, target) examples hidden in `data[:block_size + 1]`.

    Pair t is `(data[:t+1], int(data[t+1]))` for t = 0 .. block_size-1: contexts grow
    from one id to `block_size` ids. Data no longer than `block_size`, or not 1-D
    integer ids, is a ValueError.
    """
    _check_block(data, block_size)
    # -- your code below --
    x = data[:block_size]
    y = data[1 : block_size + 1]
    return [(x[: t + 1], int(y[t])) for t in range(block_size)]


# %%
def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch `(x, y)` of shape (batch_size, block_size) each; y is x shifted by one.

    Pass a seeded `torch.Generator` to get the same batch every time. Data no longer
    than `block_size` (no room for one target) is a ValueError, as are data that is
    not integer ids and a batch_size that is not a whole number of at least 1.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    _check_block(data, block_size)
    # -- your code below --
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix])
    y = torch.stack([data[i + 1 : i + block_size + 1] for i in ix])
    return x, y


# %%
def _check_block(data: torch.Tensor, block_size: int) -> None:
    """Raise ValueError unless `data` is a 1-D tensor of integer ids longer than
    `block_size`, a whole number of at least 1."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a whole number of at least 1, got {block_size!r}")
    if data.dim() != 1:
        raise ValueError(
            f"data must be 1-D (one long sequence of ids), got shape {tuple(data.shape)}"
        )
    if data.dtype.is_floating_point or data.dtype.is_complex or data.dtype == torch.bool:
        raise ValueError(f"data must hold integer ids (torch.long), got dtype {data.dtype}")
    if len(data) <= block_size:
        raise ValueError(
            f"data has {len(data)} ids but a block needs {block_size} + 1 "
            f"(block_size inputs and one more target)"
        )

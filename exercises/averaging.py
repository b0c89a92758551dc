# %%
"""Kata 5 - the averaging trick: three ways to let a position see its past.

Self-attention starts from a simple wish: let position t of a sequence gather
information from positions 0..t - never from the future, which is what it must
predict. The crudest way is to average: out[b, t] = mean(x[b, 0..t]).

Shapes: x is (B, T, C) - batch, time, channels - and so is the result.

1. `average_loop`: two plain Python loops. Slow, but obviously right: it is the
   specification the other versions are checked against.
2. `average_matmul`: a (T, T) weight matrix `wei` whose row t holds 1/(t+1) at
   columns 0..t and 0 after them. `wei @ x` broadcasts (T, T) @ (B, T, C) to
   (B, T, C) and computes every average in one matrix multiply.
3. `average_softmax`: start from scores of 0, set the future (above the diagonal) to
   -inf, softmax each row. exp(-inf) = 0 removes the future, and the equal scores of
   the past become equal weights - the same `wei`. The point: `causal_softmax` works
   for *any* scores. In self-attention the scores come from the data, so some past
   positions get more weight than others; the mask still guarantees no future leaks.

Pitfall - comparing floats: the loop and the matmul add the same numbers in a
different order, so they can differ in the last bits (about 1e-8 here).
`torch.allclose(a, b)` uses a relative tolerance of 1e-5 plus an absolute one of
1e-8, which fails for such rounding near zero; `atol=1e-6` accepts float32 rounding
of values of size ~1 while still catching any real mistake.
"""

# %%
from __future__ import annotations

from numbers import Integral

import torch


# %%
def average_loop(x: torch.Tensor) -> torch.Tensor:
    """Prefix means with explicit loops: out[b, t] = x[b, :t+1].mean(0). (B, T, C) -> (B, T, C).

    A tensor that is not 3-D is a ValueError.
    """
    _check_btc(x)
    # -- your code below --
    raise NotImplementedError("not implemented yet: averaging.average_loop")


# %%
def causal_average_weights(T: int) -> torch.Tensor:
    """The (T, T) float matrix whose row t averages positions 0..t.

    Lower triangular, each row sums to 1. T that is not a whole number of at least 1
    is a ValueError.

    >>> causal_average_weights(3)
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.3333, 0.3333, 0.3333]])
    """
    if isinstance(T, bool) or not isinstance(T, Integral):
        raise ValueError(f"T must be a whole number, got {T!r}")
    if T < 1:
        raise ValueError(f"T must be at least 1, got {T}")
    # -- your code below --
    raise NotImplementedError("not implemented yet: averaging.causal_average_weights")


# %%
def average_matmul(x: torch.Tensor) -> torch.Tensor:
    """Prefix means as one matrix multiply: causal_average_weights(T) @ x. (B, T, C) -> (B, T, C)."""
    _check_btc(x)
    # -- your code below --
    raise NotImplementedError("not implemented yet: averaging.average_matmul")


# %%
def average_softmax(x: torch.Tensor) -> torch.Tensor:
    """Prefix means through a masked softmax of all-zero scores. (B, T, C) -> (B, T, C).

    Build the weights with `causal_softmax(torch.zeros(T, T))`.
    """
    _check_btc(x)
    # -- your code below --
    raise NotImplementedError("not implemented yet: averaging.average_softmax")


# %%
def causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension after masking the future: (..., T, T) -> (..., T, T).

    Entries above the diagonal are set to -inf with `masked_fill` before the softmax,
    so each row t is a probability distribution over positions 0..t only, and
    changing a future score changes nothing. Scores whose last two dimensions are not
    square are a ValueError.
    """
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must end in a square (T, T), got shape {tuple(scores.shape)}")
    # -- your code below --
    raise NotImplementedError("not implemented yet: averaging.causal_softmax")


# %%
def _check_btc(x: torch.Tensor) -> None:
    """Raise ValueError unless x is a (B, T, C) tensor."""
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, C), got shape {tuple(x.shape)}")

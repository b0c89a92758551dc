# %%
"""Kata 13 - decoding: from the model's logits to the next id.

A language model gives, for every sequence in a batch, one score (logit) per id of
the vocabulary: logits of shape (B, V). Turning them into the next id is *decoding*,
and how it is done changes the text as much as the model does. Kata 9's `generate`
always samples from softmax(logits); here are the knobs every text generator has.

* temperature: divide the logits by it before the softmax. Below 1 the
  distribution gets sharper (safer, more repetitive text), above 1 flatter (more
  surprising, more misspelt); 1 samples exactly what the model learned. Temperature 0
  is the limit: always the likeliest id (greedy decoding, argmax).
* top-k: only the k likeliest ids keep a chance; the others get a logit of -inf, so
  the softmax gives them probability 0. It cuts off the long tail of unlikely ids
  that would otherwise be drawn now and then.
* top-p (nucleus sampling): keep the smallest set of likeliest ids whose
  probabilities add up to at least p, however many that is: a few ids where the
  model is sure, many where it is not. Sort the probabilities from large to small;
  an id stays if the mass of the ids before it is still below p - so the likeliest
  id always stays.

Shapes: logits (B, V) float -> ids (B, 1) long, one draw per row, as
torch.multinomial(probs, num_samples=1) returns them: ready to be concatenated to a
(B, T) context with torch.cat(..., dim=1).

Pitfalls:
- Filter the logits, not the probabilities: -inf survives the softmax as an exact 0,
  and the softmax renormalises what is left. (Zeroing probabilities works too, but
  then they no longer sum to one.)
- top-p works on sorted probabilities; the decision must be put back in vocabulary
  order (scatter with the sorting's indices) before it is applied.
- Reproducibility: draw with the `generator` you are given, so the same seed gives
  the same ids. With temperature 1 and no filter, sample_next draws exactly what
  torch.multinomial(F.softmax(logits, dim=-1), 1, generator=g) draws.
"""

# %%
from __future__ import annotations

import torch
from torch.nn import functional as F


# %%
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """`logits` (B, V) with all but the k largest of each row set to -inf. (B, V) -> (B, V).

    k larger than V keeps everything. k below 1 is a ValueError.

    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0]]), 2)
    tensor([[-inf, 3., 2.]])
    """
    _check_logits(logits)
    _check_top_k(k)
    # -- your code below --
    raise NotImplementedError("not implemented yet: sampling.top_k_filter")


# %%
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """`logits` (B, V) with every id outside the nucleus of each row set to -inf.

    The nucleus is the smallest set of likeliest ids whose probabilities (softmax of
    the row) add up to at least p: an id stays if the ids likelier than it hold less
    than p together. The likeliest id always stays. p outside (0, 1] is a ValueError.

    >>> logits = torch.tensor([[0.0, 2.0, 1.0]])  # probabilities 0.09, 0.67, 0.24
    >>> top_p_filter(logits, 0.5)
    tensor([[-inf, 2., -inf]])
    >>> top_p_filter(logits, 0.8)
    tensor([[-inf, 2., 1.]])
    """
    _check_logits(logits)
    _check_top_p(p)
    # -- your code below --
    raise NotImplementedError("not implemented yet: sampling.top_p_filter")


# %%
def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One id per row of `logits` (B, V): (B, 1) long.

    Temperature 0 is greedy: the argmax of each row. Otherwise divide the logits by
    the temperature, apply top_k_filter (if top_k is given), then top_p_filter (if
    top_p is given), and draw from the softmax with torch.multinomial and `generator`.
    A negative temperature, top_k below 1 or top_p outside (0, 1] is a ValueError; so
    are logits no id can be drawn from, and a temperature too small for them (see
    `_check_drawable`).
    """
    _check_logits(logits)
    _check_temperature(temperature)
    _check_drawable(logits, temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    # -- your code below --
    raise NotImplementedError("not implemented yet: sampling.sample_next")


# %%
def _check_logits(logits) -> None:
    """Raise ValueError unless logits is a (B, V) floating-point tensor with V >= 1."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"logits must be a float tensor, got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (B, V), got shape {tuple(logits.shape)}")


# %%
def _check_temperature(temperature) -> None:
    """Raise ValueError unless the temperature is a number of 0 (greedy) or more."""
    if not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be 0 (greedy) or more, got {temperature!r}")


# %%
def _check_drawable(logits: torch.Tensor, temperature: float) -> None:
    """Raise ValueError naming the row unless every row of logits gives a distribution
    to draw from: no NaN; and, unless greedy (temperature 0), a largest logit that
    stays finite once divided by the temperature. That refuses a row with +inf or
    only -inf, and a temperature so small that logits / temperature overflows (its
    softmax would be NaN). One max per row, so it is cheap next to the model."""
    row_max = logits.amax(dim=-1)  # (B,); NaN where the row holds a NaN
    scaled = row_max / temperature if temperature > 0 else row_max
    bad = scaled.isnan() if temperature == 0 else ~scaled.isfinite()
    if not bad.any():
        return
    b = int(bad.nonzero()[0])
    largest = row_max[b].item()
    if largest != largest:
        raise ValueError(f"logits[{b}] holds NaN: no id can be drawn from it")
    if largest == float("inf"):
        raise ValueError(f"logits[{b}] holds +inf: its softmax is NaN, no id can be drawn")
    if largest == float("-inf"):
        raise ValueError(f"logits[{b}] is all -inf: no id is left to draw")
    raise ValueError(
        f"temperature {temperature!r} is too small for logits[{b}]: its largest logit "
        f"{largest:g} / temperature overflows {logits.dtype}; use a larger temperature, "
        f"or 0 for greedy"
    )


# %%
def _check_top_k(k) -> None:
    """Raise ValueError unless top_k is an int of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an int of at least 1 (or None: off), got {k!r}")


# %%
def _check_top_p(p) -> None:
    """Raise ValueError unless top_p is in (0, 1]."""
    if not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (or None: off), got {p!r}")

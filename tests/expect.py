"""Expectations that fail with a message a learner can act on.

Every helper takes `call`, the call as the learner would write it (e.g.
"tokenizer.encode('Hola', stoi)"), and on failure raises a Mismatch that shows:

    the call
      returned: what came back
      expected: what should have
      why:      the concept behind it

Tensors are checked type first, then shape, then dtype, and only then values, so the
message names the first thing that is wrong.
"""

from __future__ import annotations

import torch

from gptkata.kata.pytest_plugin import Mismatch
from gptkata.kata.select import KataBroken


def _short(value, limit: int = 300) -> str:
    if isinstance(value, torch.Tensor):
        text = f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}: "
        text += " ".join(str(value.detach()).split())
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(call: str, got, expected, why: str = "") -> None:
    lines = [call, f"  returned: {_short(got)}", f"  expected: {_short(expected)}"]
    if why:
        lines.append(f"  why:      {why}")
    raise Mismatch("\n".join(lines))


def tensor_like(call: str, got, shape: tuple[int, ...], dtype: torch.dtype, why: str = "") -> None:
    """`got` is a tensor of exactly this shape and dtype."""
    if not isinstance(got, torch.Tensor):
        fail(call, got, f"a tensor of shape {shape}, dtype {dtype}", why)
    if tuple(got.shape) != tuple(shape):
        fail(call, f"shape {tuple(got.shape)}", f"shape {tuple(shape)}", why)
    if got.dtype != dtype:
        fail(call, f"dtype {got.dtype}", f"dtype {dtype}", why)


def equal(call: str, got, expected, why: str = "") -> None:
    """`got == expected`; for tensors: same shape, same dtype, same values."""
    if isinstance(expected, torch.Tensor):
        tensor_like(call, got, tuple(expected.shape), expected.dtype, why)
        if not torch.equal(got, expected):
            fail(call, got, expected, why)
    elif type(got) is not type(expected) and not (
        isinstance(expected, (int, float)) and isinstance(got, (int, float))
    ):
        fail(
            call,
            f"{type(got).__name__}: {_short(got)}",
            f"{type(expected).__name__}: {_short(expected)}",
            why,
        )
    elif got != expected:
        fail(call, got, expected, why)


def close(
    call: str, got, expected: torch.Tensor, atol: float, rtol: float = 0.0, why: str = ""
) -> None:
    """Same shape and dtype, values within `atol + rtol * |expected|`.

    Every call site states its tolerance and why it is that size.
    """
    tensor_like(call, got, tuple(expected.shape), expected.dtype, why)
    if not torch.allclose(got, expected, atol=atol, rtol=rtol):
        worst = (got - expected).abs().max().item()
        fail(call, got, expected, f"{why} (largest difference {worst:.3g}, allowed atol={atol:g})")


def causal(call: str, function, edit, atol: float, why: str, argument: str = "x") -> None:
    """`function`'s outputs at positions 0..t do not change when its input changes
    after t: the property that makes a model causal (time is dimension 1).

    `edit` is `(x, t, edited)`, as `strategies.future_edits` draws it; `call` is the
    call as the learner would write it, e.g. "head(x)" or "model(idx)[0]", and
    `argument` the name of its input in that call.
    """
    x, t, edited = edit
    with torch.no_grad():
        before, after = function(x), function(edited)
    close(
        f"{call}[:, :{t + 1}] after changing {argument}[:, {t + 1}:] "
        f"({argument} of shape {tuple(x.shape)})",
        after[:, : t + 1],
        before[:, : t + 1],
        atol=atol,
        why=why,
    )


BAD_INPUT = (
    "bad input must fail loudly: a ValueError whose message names what was wrong "
    "(the function's docstring says which inputs are bad)"
)


def value_error(call: str, function, *args, mentions: tuple[str, ...] = (), **kwargs) -> str:
    """`function(*args, **kwargs)` raises a ValueError whose message contains each of
    `mentions`; returns the message."""
    try:
        result = function(*args, **kwargs)
    except (NotImplementedError, KataBroken):
        raise  # a stub or a broken file reports itself
    except ValueError as error:
        message = str(error)
    except Exception as error:
        fail(
            call, f"{type(error).__name__}: {error}", "a ValueError with a clear message", BAD_INPUT
        )
    else:
        fail(call, result, "a ValueError", BAD_INPUT)
    for word in mentions:
        if word not in message:
            fail(
                call,
                f"ValueError({message!r})",
                f"a ValueError whose message mentions {word!r}",
                BAD_INPUT,
            )
    return message

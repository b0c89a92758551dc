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

import traceback
from pathlib import Path

import torch

from gptkata import paths
from gptkata.kata import select
from gptkata.kata.pytest_plugin import Mismatch
from gptkata.kata.select import KataBroken


def type_name(value) -> str:
    """A type as a reader writes it: 'torch.Tensor', 'list', 'the class torch.Tensor'."""
    if isinstance(value, type):
        return f"the class {_qualified(value)}"
    return _qualified(type(value))


def _qualified(kind: type) -> str:
    module = kind.__module__
    if module == "builtins":
        return kind.__qualname__
    public = module.split(".")[0] if module.startswith("torch") else module
    return f"{public}.{kind.__qualname__}"


def raised(error: BaseException) -> str:
    """ "raised KeyError: 'z' at exercises/tokenizer.py:78": an exception and the
    learner's line it came from (the last frame in exercises/ or solutions/)."""
    where = ""
    folders = {select.impl_folder().resolve(), paths.EXERCISES.resolve(), paths.SOLUTIONS.resolve()}
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.parent in folders:
            shown = path.relative_to(paths.ROOT) if path.is_relative_to(paths.ROOT) else path
            where = f" at {shown.as_posix()}:{frame.lineno}"
            break
    return f"raised {type(error).__name__}: {error}{where}"


def non_finite(got: torch.Tensor, expected: torch.Tensor) -> str | None:
    """'NaN at index (0, 2, 1) (3 of 24 values)' where `got` has NaN or inf and
    `expected` does not; None when there are none."""
    if not (got.is_floating_point() or got.is_complex()):
        return None
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if not bad.any():
        return None
    first = tuple(int(i) for i in bad.nonzero()[0])
    value = got[first].item()
    kind = "NaN" if value != value else ("inf" if value > 0 else "-inf")
    return f"{kind} at index {first} ({int(bad.sum())} of {got.numel()} values are NaN or inf)"


def _short(value, limit: int = 300) -> str:
    if isinstance(value, type):
        return type_name(value)
    if isinstance(value, torch.Tensor):
        text = f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}: "
        text += " ".join(str(value.detach()).split())
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Plain(str):
    """Text shown as it is (not quoted like a returned string)."""

    def __repr__(self) -> str:
        return str(self)


class Raised:
    """What a call did instead of returning: raised an exception (see `raised`)."""

    def __init__(self, error: BaseException):
        self.text = raised(error)


def fail(call: str, got, expected, why: str = "") -> None:
    """Raise the Mismatch: the call, what it returned (or raised), what was expected, why."""
    did = f"  raised:   {got.text.removeprefix('raised ')}" if isinstance(got, Raised) else None
    lines = [call, did or f"  returned: {_short(got)}", f"  expected: {_short(expected)}"]
    if why:
        lines.append(f"  why:      {why}")
    raise Mismatch("\n".join(lines))


def returns(call: str, function, *args, why="", **kwargs):
    """What `function(*args, **kwargs)` returns; when it raises instead, a Mismatch that
    shows `call` (as the learner would write it) with the exception and the learner's
    line, so a crash reads like any other failure. `why` is the text, or a function of
    the exception that gives the text, saying what that exception means here. A stub
    and a broken kata file report themselves."""
    try:
        return function(*args, **kwargs)
    except (NotImplementedError, KataBroken):
        raise
    except Exception as error:
        reason = why(error) if callable(why) else why
        fail(call, Raised(error), _Plain("a result, not an exception"), reason)


def tensor_like(call: str, got, shape: tuple[int, ...], dtype: torch.dtype, why: str = "") -> None:
    """`got` is a tensor of exactly this shape and dtype."""
    if not isinstance(got, torch.Tensor):
        fail(call, got, _Plain(f"a tensor of shape {shape}, dtype {dtype}"), why)
    if tuple(got.shape) != tuple(shape):
        fail(call, _Plain(f"shape {tuple(got.shape)}"), _Plain(f"shape {tuple(shape)}"), why)
    if got.dtype != dtype:
        fail(call, _Plain(f"dtype {got.dtype}"), _Plain(f"dtype {dtype}"), why)


def equal(call: str, got, expected, why: str = "") -> None:
    """`got == expected`; for tensors: same shape, same dtype, same values."""
    if isinstance(expected, torch.Tensor):
        tensor_like(call, got, tuple(expected.shape), expected.dtype, why)
        if not torch.equal(got, expected):
            fail(call, got, expected, why)
    elif type(got) is not type(expected) and not (
        isinstance(expected, (int, float)) and isinstance(got, (int, float))
    ):
        shown = type_name(got) if isinstance(got, type) else f"{type_name(got)}: {_short(got)}"
        fail(call, _Plain(shown), _Plain(f"{type_name(expected)}: {_short(expected)}"), why)
    elif got != expected:
        fail(call, got, expected, why)


def close(
    call: str, got, expected: torch.Tensor, atol: float, rtol: float = 0.0, why: str = ""
) -> None:
    """Same shape and dtype, values within `atol + rtol * |expected|`.

    Every call site states its tolerance and why it is that size.
    """
    tensor_like(call, got, tuple(expected.shape), expected.dtype, why)
    broken = non_finite(got, expected)
    if broken:
        fail(call, _Plain(broken), _Plain("finite values everywhere"), why)
    if not torch.allclose(got, expected, atol=atol, rtol=rtol):
        gap = (got - expected).abs()
        worst = gap.max().item()
        where = tuple(int(i) for i in (gap == gap.max()).nonzero()[0])
        shown_got, shown_expected = shown_apart(got, expected)
        fail(
            call,
            shown_got,
            shown_expected,
            f"{why} (largest difference {worst:.3g} at index {where}, allowed atol={atol:g})",
        )


def shown_apart(got: torch.Tensor, expected: torch.Tensor) -> tuple[str, str]:
    """`got` and `expected` as the message shows them, with as many digits as it takes
    to tell them apart (torch prints 4 decimals: 1.54101 and 1.54102 both read 1.5410)."""
    plain = _Plain(_short(got)), _Plain(_short(expected))
    if plain[0] != plain[1]:
        return plain
    saved = torch._tensor_str.PRINT_OPTS.precision
    try:
        for digits in (6, 8, 10, 12):
            torch.set_printoptions(precision=digits)
            shown = _Plain(_short(got)), _Plain(_short(expected))
            if shown[0] != shown[1]:
                return shown
    finally:
        torch.set_printoptions(precision=saved)
    return plain


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


# For IMPL=<folder>: the ValueErrors whose message lacks a word the reference's has,
# one line each ("call: 'message' does not mention 'top_k'"), said in one note at the end.
WORDING: list[str] = []
WORDING_NOTE = (
    "these ValueErrors are worded otherwise than the reference's; for a folder only the "
    "ValueError counts, its wording is checked for exercises and solutions"
)


def wording_checked() -> bool:
    """Whether a ValueError's wording is part of the verdict: for exercises/ (the
    validation is given there, so its words are the ones the docstrings promise) and
    solutions/, never for a folder of the instructor's own modules."""
    return select.impl_name() in select.PACKAGES


def _worded_otherwise(call: str, message: str, missing: list[str]) -> None:
    """Note a folder's ValueError that lacks `missing`: one note lists them all."""
    words = ", ".join(repr(word) for word in missing)
    WORDING.append(f"  {call}: {message!r} does not mention {words}")
    select.NOTES[:] = [n for n in select.NOTES if not n.startswith(WORDING_NOTE)]
    select.NOTES.append("\n".join([WORDING_NOTE, *WORDING]))


def value_error(call: str, function, *args, mentions: tuple[str, ...] = (), **kwargs) -> str:
    """`function(*args, **kwargs)` raises a ValueError whose message contains each of
    `mentions` (for a folder, `wording_checked` is false: any ValueError passes and a
    message without them is listed in a note); returns the message."""
    try:
        result = function(*args, **kwargs)
    except (NotImplementedError, KataBroken):
        raise  # a stub or a broken file reports itself
    except ValueError as error:
        message, error_seen = str(error), error
    except Exception as error:
        fail(call, Raised(error), _Plain("a ValueError with a clear message"), BAD_INPUT)
    else:
        fail(call, result, _Plain("a ValueError"), BAD_INPUT)
    missing = [word for word in mentions if word not in message]
    if missing and not wording_checked():
        _worded_otherwise(call, message, missing)
    elif missing:
        fail(
            call,
            Raised(error_seen),
            _Plain(f"a ValueError whose message mentions {missing[0]!r}"),
            BAD_INPUT,
        )
    return message

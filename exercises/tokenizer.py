# %%
"""Kata 1 - tokenizer: characters as tokens.

A language model reads numbers, not text. The simplest tokenizer gives every distinct
character of the corpus its own integer id: the vocabulary is the sorted list of
characters, `stoi` ("string to integer") maps a character to its id and `itos` maps
it back. Tiny Shakespeare has 65 distinct characters, so ids run from 0 to 64 and
`encode("Hola") == [20, 53, 50, 39]`.

Real GPTs use sub-word tokenizers (BPE) with tens of thousands of tokens, which
makes sequences shorter; the idea - a fixed, invertible map between text and
integers - is the same.

The one property that matters: decode(encode(s)) == s for every string `s` whose
characters are in the vocabulary. Anything outside it must fail loudly, naming the
offending character and where it is, rather than be skipped or guessed.
"""

# %%
from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import torch


# %%
def build_vocab(text: str) -> list[str]:
    """The sorted list of distinct characters in `text`.

    Sorting makes the ids reproducible: the same text always gives the same ids.

    >>> build_vocab("hello")
    ['e', 'h', 'l', 'o']
    """
    raise NotImplementedError("not implemented yet: tokenizer.build_vocab")


# %%
def build_lookup(vocab: Sequence[str]) -> tuple[dict[str, int], dict[int, str]]:
    """The two lookup tables `(stoi, itos)` for a vocabulary.

    `stoi[ch]` is the position of `ch` in `vocab`; `itos` is its inverse. The map
    must be a bijection, so a vocabulary whose entries are not distinct single
    characters is a ValueError.

    >>> build_lookup(["a", "b"])
    ({'a': 0, 'b': 1}, {0: 'a', 1: 'b'})
    """
    _check_vocab(vocab)
    # -- your code below --
    raise NotImplementedError("not implemented yet: tokenizer.build_lookup")


# %%
def encode(text: str, stoi: dict[str, int]) -> list[int]:
    """The list of ids of the characters of `text`.

    A character missing from `stoi` is a ValueError naming it and its position.

    >>> encode("ab", {"a": 0, "b": 1})
    [0, 1]
    """
    _check_text(text, stoi)
    # -- your code below --
    raise NotImplementedError("not implemented yet: tokenizer.encode")


# %%
def decode(ids: Sequence[int] | torch.Tensor, itos: dict[int, str]) -> str:
    """The text whose ids are `ids` (a list of ints or a 1-D integer tensor).

    Pitfall: iterating over a tensor yields 0-d tensors, not ints, and a 0-d tensor
    is not a key of `itos`. Convert with `ids.tolist()` first. An id that is not an
    integer (1.0), or is missing from `itos`, is a ValueError naming it and its
    position.

    >>> decode([1, 0], {0: "a", 1: "b"})
    'ba'
    """
    _check_ids(ids, itos)
    # -- your code below --
    raise NotImplementedError("not implemented yet: tokenizer.decode")


# %%
def _check_vocab(vocab: Sequence[str]) -> None:
    """Raise ValueError unless `vocab` is distinct single characters, naming the
    first entry that is not one character, or the characters that repeat."""
    for position, ch in enumerate(vocab):
        if not isinstance(ch, str) or len(ch) != 1:
            raise ValueError(f"vocab[{position}] is {ch!r}: every entry must be one character")
    if len(set(vocab)) != len(vocab):
        repeated = sorted({ch for ch in vocab if list(vocab).count(ch) > 1})
        raise ValueError(f"the vocabulary repeats {repeated}: each character must appear once")


# %%
def _check_text(text: str, stoi: dict[str, int]) -> None:
    """Raise ValueError naming the first character of `text` missing from `stoi`, and
    its position."""
    for position, ch in enumerate(text):
        if ch not in stoi:
            raise ValueError(f"character {ch!r} at position {position} is not in the vocabulary")


# %%
def _check_ids(ids: Sequence[int] | torch.Tensor, itos: dict[int, str]) -> None:
    """Raise ValueError unless `ids` is a sequence of ints or a 1-D integer tensor whose
    every id is in `itos`, naming the first bad id and its position. A float id is
    refused even when it equals an id (1.0 == 1 would find itos[1])."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(
                f"ids must be a 1-D integer tensor, got shape {tuple(ids.shape)} "
                f"and dtype {ids.dtype}"
            )
        ids = ids.tolist()
    for position, i in enumerate(ids):
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise ValueError(
                f"ids[{position}] is {i!r}, a {type(i).__name__}: ids must be integers"
            )
        if i not in itos:
            raise ValueError(f"id {i!r} at position {position} is not in the vocabulary")

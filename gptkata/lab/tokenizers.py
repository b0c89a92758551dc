"""How the lab turns text into ids and back: characters (kata 1) or byte-level BPE (kata 12).

    make train                                           one id per character (65 ids)
    make train ARGS="--tokenizer bpe --vocab-size 512"   BPE learned from the corpus

A run keeps its tokenizer as one string, `vocab`, in the checkpoint (plain data, so a
checkpoint still loads with weights_only=True), and `make sample` rebuilds it from there:

    characters   the vocabulary itself, in id order: "\\n !$&',-.3:;?ABC..."
    BPE          "bpe " and the merges as JSON: "bpe [[32, 116], [104, 101], ...]"

(A character vocabulary is sorted, so it never starts with "bpe ".) The BPE merges
are learned from the training part of the corpus only, never from the validation
text, and live only in the run's output folder under runs/: they are derived from
the corpus and are not committed.

The characters are encoded and decoded by kata 1's functions: the reference's, or
with `make train MINE=1` the learner's own (`chars`, the kata's module).

Losses per token of different tokenizers are not comparable: a BPE token stands for
about two characters, so predicting one is harder. Bits per character are:
loss_per_token / ln 2 * tokens / characters, the bits needed to encode the text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from types import ModuleType

from gptkata.lab import kit

BPE_PREFIX = "bpe "
KINDS = ("char", "bpe")


@dataclass
class Codec:
    """A tokenizer with the one interface the lab needs."""

    kind: str  # "char" or "bpe"
    vocab: str  # what the checkpoint stores (see the module docstring)
    size: int  # the number of ids: the model's vocab_size
    _bpe: object | None = None  # kata 12's BPETokenizer
    chars: ModuleType | None = None  # kata 1's module, for a character codec

    def encode(self, text: str) -> list[int]:
        """The ids of `text`; a ValueError naming a character a char model never saw."""
        if self._bpe is not None:
            return self._bpe.encode(text)
        stoi, _ = self.chars.build_lookup(list(self.vocab))
        return self.chars.encode(text, stoi)

    def decode(self, ids: list[int]) -> str:
        if self._bpe is not None:
            return self._bpe.decode(ids)
        _, itos = self.chars.build_lookup(list(self.vocab))
        return self.chars.decode(ids, itos)


def from_vocab(vocab: str, chars: ModuleType | None = None) -> Codec:
    """The codec a checkpoint's `vocab` string describes; a character codec encodes
    with `chars` (kata 1's module; by default the reference's)."""
    if vocab.startswith(BPE_PREFIX):
        merges = [tuple(pair) for pair in json.loads(vocab[len(BPE_PREFIX) :])]
        tokenizer = kit.load("solutions", "bpe").BPETokenizer(merges)
        return Codec("bpe", vocab, len(tokenizer.vocab), tokenizer)
    return Codec("char", vocab, len(vocab), chars=chars or kit.load("solutions", "tokenizer"))


def build(kind: str, text: str, vocab_size: int, chars: ModuleType | None = None) -> Codec:
    """A codec learned from `text`: its characters (found by `chars`, kata 1's module;
    by default the reference's), or `vocab_size` - 256 BPE merges."""
    if kind == "char":
        chars = chars or kit.load("solutions", "tokenizer")
        return from_vocab("".join(chars.build_vocab(text)), chars)
    if kind != "bpe":
        raise ValueError(f"tokenizer must be one of {', '.join(KINDS)}, got {kind!r}")
    merges = kit.load("solutions", "bpe").train_bpe(text, vocab_size)
    return from_vocab(BPE_PREFIX + json.dumps([list(pair) for pair in merges]))


def bits_per_character(loss_per_token: float, tokens: int, characters: int) -> float:
    """Nats per token -> bits per character, for a text of `characters` that is `tokens` ids."""
    return loss_per_token / math.log(2) * tokens / characters


def vocab_problem(vocab, vocab_size: int) -> str | None:
    """What is wrong with a checkpoint's `vocab` for a model of `vocab_size` ids, in
    words; None if nothing is."""
    if not isinstance(vocab, str):
        return "its vocab is not a string of distinct characters"
    if vocab.startswith(BPE_PREFIX):
        try:
            size, kind = from_vocab(vocab).size, "BPE ids"
        except (ValueError, TypeError) as error:  # json's errors are ValueErrors
            return f"its BPE merges are not valid ({error})"
    elif len(set(vocab)) != len(vocab):
        return "its vocab is not a string of distinct characters"
    else:
        size, kind = len(vocab), "characters"
    if size != vocab_size:
        return f"its vocab has {size} {kind} but the model {vocab_size}"
    return None

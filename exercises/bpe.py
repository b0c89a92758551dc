# %%
"""Kata 12 - byte-level BPE: a tokenizer that learns its own vocabulary.

A character tokenizer (kata 1) gives every character one id: 65 ids for tiny
Shakespeare, and a sequence as long as the text. Byte-pair encoding (BPE), the
tokenizer of GPT-2 and most models since, learns longer pieces from the text itself:
" the", "ing", "KING". The same context then holds more text, and the model no
longer has to spell every word letter by letter.

Bytes first. Text is turned into its UTF-8 bytes, so ids 0-255 are the 256 possible
bytes and *any* string can be encoded - emoji, accents, Chinese - with no unknown
characters. An "é" is two bytes, an emoji four.

Training. Count every pair of neighbouring ids in the text, take the most frequent
pair (a, b), give it a new id (256 for the first merge, 257 for the next, ...) and
replace every (a, b) by it. Repeat until the vocabulary has `vocab_size` ids. The
result is the list of merges, in the order they were learned; ties between equally
frequent pairs go to the smallest pair (a, b), so training is deterministic.

Chunks. Before counting, the text is split with `SPLIT_PATTERN` (GPT-2's
pre-tokenisation regex) into words with their leading space, numbers, punctuation
and whitespace: "Hello world!!" -> ["Hello", " world", "!!"]. Pairs are counted and
merged inside chunks only, so no token ever spans "d!" or "o w", and a word gets the
same tokens wherever it stands.

Encoding applies the merges in the order they were learned: merge 0 wherever it
occurs, then merge 1, ... That is the same as repeatedly merging the pair of lowest
rank (earliest merge) present in the chunk, which skips the merges that cannot apply.
Decoding joins the bytes of every id and decodes them as UTF-8.

Shapes and types: text is a str, ids are a list[int], a merge is a tuple[int, int],
`vocab` is a dict[int, bytes] from every id to the bytes it stands for.

Pitfalls:
- Overlapping pairs. In [a, a, a] the pair (a, a) is counted twice, but merging goes
  left to right and does not reuse an id: [a, a, a] -> [aa, a], never [a, aa] twice.
- Invalid UTF-8. Arbitrary ids (a model's samples, or half an emoji) need not decode:
  decode with errors="replace", which shows a bad byte as U+FFFD instead of crashing.
- Speed. Recounting every pair of the whole text for each merge costs merges x text:
  minutes on the corpus. Two things make it seconds. The text has few *distinct*
  chunks ("the" occurs thousands of times): count the pairs of each distinct chunk
  once, weighted by how often it occurs. And a merge changes only the chunks that
  contain its pair: subtract their pairs, merge, add their new pairs (keep, for every
  pair, the chunks it occurs in, and a heap of counts to find the largest). Encoding
  is fast the same way: remember the ids of every chunk already encoded.
  The tests check what train_bpe returns, not how fast: a plain recount of the pairs
  of the distinct chunks for each merge also passes them (slower, minutes for a large
  vocabulary on the corpus). The incremental algorithm is what the benchmark
  (`make bench`, its BPE case) needs to train in seconds.
"""

# %%
from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from itertools import pairwise

import regex
import torch

# GPT-2's pre-tokenisation: contractions ('s, 't, 're, 've, 'm, 'll, 'd), letters,
# digits and other symbols, each with at most one leading space, then runs of
# whitespace (a run before a word leaves its last space to that word).
SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

FIRST_MERGE_ID = 256  # ids 0-255 are the bytes themselves
CACHE_LIMIT = 100_000  # distinct chunks whose ids encode() remembers


# %%
def split_text(text: str) -> list[str]:
    """The chunks of `text` under SPLIT_PATTERN, in order; joined, they are `text` again.

    >>> split_text("Hello world!! It's 42")
    ['Hello', ' world', '!!', ' It', "'s", ' 42']
    """
    _check_text(text)
    # -- your code below --
    raise NotImplementedError("not implemented yet: bpe.split_text")


# %%
def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """`ids` with every occurrence of `pair`, scanned left to right, replaced by `new_id`.

    new_id must be a new id, 256 or more (ids 0-255 are the bytes): a ValueError
    otherwise.

    >>> merge([97, 97, 97, 98], (97, 97), 256)
    [256, 97, 98]
    """
    if new_id < FIRST_MERGE_ID:  # inline, one comparison: merge runs for every word, every merge
        raise ValueError(
            f"new_id must be at least {FIRST_MERGE_ID} (ids 0..{FIRST_MERGE_ID - 1} are the "
            f"bytes), got {new_id!r}"
        )
    # -- your code below --
    raise NotImplementedError("not implemented yet: bpe.merge")


# %%
def train_bpe(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """The merges BPE learns from `text` for a vocabulary of `vocab_size` ids.

    Merge i creates id 256 + i from the pair merges[i]. Pairs are counted inside the
    chunks of `split_text` only; the most frequent pair wins, ties go to the smallest
    pair (a, b). Training stops early, with fewer merges, when no chunk has two ids
    left to merge. vocab_size below 256 is a ValueError.

    >>> train_bpe("ab ab cd cd", 259)
    [(32, 99), (97, 98), (256, 100)]
    """
    _check_vocab_size(vocab_size)
    _check_text(text)
    # -- your code below --
    raise NotImplementedError("not implemented yet: bpe.train_bpe")


# %%
class BPETokenizer:
    """Encodes text to ids and decodes ids to text with a list of BPE merges.

    `merges[i] = (a, b)` makes id 256 + i, whose bytes are vocab[a] + vocab[b]; each
    merge may only use ids that exist before it, and no pair may be merged twice.
    """

    def __init__(self, merges: list[tuple[int, int]]):
        """Set four attributes, which the other methods read by these names:

        - `self.merges`: the merges, each a tuple (a, b), in order;
        - `self.ranks`: a dict pair -> its merge number i (lower merges first);
        - `self.vocab`: a dict id -> its bytes (0-255 the bytes themselves, then
          vocab[256 + i] = vocab[a] + vocab[b] for merges[i] = (a, b));
        - `self.cache`: an empty dict chunk (str) -> its ids, which `encode` fills. It
          holds at most CACHE_LIMIT chunks: once full, a new chunk is encoded but not
          added, so the memory stays bounded on text with ever new chunks.
        """
        _check_merges(merges)
        # -- your code below --
        raise NotImplementedError("not implemented yet: bpe.BPETokenizer.__init__")

    @classmethod
    def train(cls, text: str, vocab_size: int):
        """The tokenizer of the merges `train_bpe(text, vocab_size)` learns."""
        raise NotImplementedError("not implemented yet: bpe.BPETokenizer.train")

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """The ids of one chunk's bytes: repeatedly merge the pair of lowest rank present.

        >>> BPETokenizer([(97, 98), (256, 99)]).encode_chunk(b"abcab")
        [257, 256]
        """
        raise NotImplementedError("not implemented yet: bpe.BPETokenizer.encode_chunk")

    def encode(self, text: str) -> list[int]:
        """The ids of `text`: each chunk of `split_text` encoded on its own, in order.

        A chunk seen before is looked up in `self.cache` instead of merged again; a
        new chunk is encoded with `encode_chunk` and stored there while the cache has
        fewer than CACHE_LIMIT entries.
        """
        _check_text(text)
        # -- your code below --
        raise NotImplementedError("not implemented yet: bpe.BPETokenizer.encode")

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """The text of `ids`: their bytes joined, decoded as UTF-8 with errors="replace".

        `ids` is a list of ints, or a 1-D integer tensor (a model's samples), which is
        read as its list of ints before your code runs (`_id_list`). An id that is not
        in the vocabulary is a ValueError naming it and its position.

        >>> BPETokenizer([]).decode([72, 105, 0xFF])
        'Hi\\ufffd'
        """
        ids = _id_list(ids)
        _check_ids(ids, len(self.vocab))
        # -- your code below --
        raise NotImplementedError("not implemented yet: bpe.BPETokenizer.decode")


# %%
def _check_text(text) -> None:
    """Raise ValueError unless `text` is a str."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")


# %%
def _check_vocab_size(vocab_size) -> None:
    """Raise ValueError unless vocab_size is an int of at least 256 (the bytes)."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ValueError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < FIRST_MERGE_ID:
        raise ValueError(
            f"vocab_size must be at least {FIRST_MERGE_ID} (one id per byte), got {vocab_size}"
        )


# %%
def _check_merges(merges) -> None:
    """Raise ValueError unless every merge is a new pair of ids that exist before it."""
    seen = set()
    for i, pair in enumerate(merges):
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        ):
            raise ValueError(f"merges[{i}] must be a pair of int ids, got {pair!r}")
        if not all(0 <= x < FIRST_MERGE_ID + i for x in pair):
            raise ValueError(
                f"merges[{i}] = {tuple(pair)} uses an id that does not exist yet "
                f"(merge {i} may use ids 0..{FIRST_MERGE_ID + i - 1})"
            )
        if tuple(pair) in seen:
            raise ValueError(f"merges[{i}] = {tuple(pair)} repeats an earlier merge")
        seen.add(tuple(pair))


# %%
def _id_list(ids):
    """`ids` itself, or, for a tensor, its list of ints: a 1-D integer tensor is read
    with `.tolist()` (iterating over it would give 0-d tensors, which are not keys of
    the vocabulary); a tensor of another shape or dtype is a ValueError naming both."""
    if not isinstance(ids, torch.Tensor):
        return ids
    if (
        ids.dim() != 1
        or ids.dtype.is_floating_point
        or ids.dtype.is_complex
        or ids.dtype == torch.bool
    ):
        raise ValueError(
            f"ids must be a list of ints or a 1-D integer tensor, got a tensor of shape "
            f"{tuple(ids.shape)} and dtype {ids.dtype}"
        )
    return ids.tolist()


# %%
def _check_ids(ids, vocab_size: int) -> None:
    """Raise ValueError naming the first id (and its position) outside 0..vocab_size-1."""
    for position, i in enumerate(ids):
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < vocab_size:
            raise ValueError(
                f"id {i!r} at position {position} is not in the vocabulary "
                f"(ids are 0..{vocab_size - 1})"
            )

"""The texts, the trained tokenizer and the specifications that the bpe kata's tests
(test_bpe.py) are built from and compare with.

The specifications are plain loops written here: training recounts every pair of
every chunk for every merge (slow, obviously right), and encoding applies the
merges one by one in training order. The implementation must agree with both.
"""

from collections import Counter
from functools import cache
from itertools import pairwise

from gptkata.kata.select import Lazy, implementation

bpe = Lazy(implementation, "bpe")

# Words that repeat, several bytes per character among them: an accent, a combining
# acute accent (e + U+0301), a dash, emoji with a skin tone and a flag.
TRAINING_TEXT = (
    "First Citizen: we are accounted poor citizens, the patricians good.\n"
    "Caf\u00e9, na\u00efve, cafe\u0301 \U0001f600\U0001f600 \U0001f44d\U0001f3fd \u2014 "
    "the the the 42 42 \U0001f1eb\U0001f1f7\n"
) * 3
UNICODE_EXAMPLES = (
    "\U0001f600\U0001f44d\U0001f3fd caf\u00e9 cafe\u0301 \U0001f1eb\U0001f1f7",
    "e\u0301\u0301\u0301 \u0915\u094d\u0937 \u4e2d\u6587 \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "",
    "   \n\n\t it's  ",
)


@cache
def trained():
    """The tokenizer of TRAINING_TEXT, 300 ids (learned once per run)."""
    return bpe.BPETokenizer.train(TRAINING_TEXT, 300)


def spec_merge(ids, pair, new_id):
    """The merge, as the specification: left to right, an id used at most once."""
    out, i = [], 0
    while i < len(ids):
        if tuple(ids[i : i + 2]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def spec_train(text, vocab_size):
    """BPE training the slow, obvious way: recount everything for every merge."""
    words = [list(chunk.encode("utf-8")) for chunk in bpe.split_text(text)]
    merges = []
    while len(merges) < vocab_size - 256:
        counts = Counter(pair for ids in words for pair in pairwise(ids))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
        merges.append(pair)
        words = [spec_merge(ids, pair, 255 + len(merges)) for ids in words]
    return merges


def spec_encode(merges, text):
    """Encoding as the specification: each chunk's bytes, then every merge in order."""
    out = []
    for chunk in bpe.split_text(text):
        ids = list(chunk.encode("utf-8"))
        for i, pair in enumerate(merges):
            ids = spec_merge(ids, pair, 256 + i)
        out.extend(ids)
    return out

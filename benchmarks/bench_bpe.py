"""The BPE rows of `make bench`: kata 12's tokenizer on the whole corpus.

One case, run in its own process like the others: the reference `train_bpe` learns a
vocabulary of `vocab_size` ids (1,024 by default: 768 merges) from all of tiny
Shakespeare, and a fresh `BPETokenizer` with those merges encodes all of it (an empty
cache, so every distinct chunk is merged once). Goal: each in at most 5 seconds.

Beside it, for scale, the naive algorithm - recount every pair of every chunk of the
corpus for each merge - timed over its first few merges (`NAIVE_MERGES`); its time for
all the merges is that per-merge time times the number of merges (each recount costs
about the same: the text shrinks only slowly). Both are measured in the same process,
one after the other.

The figures go into runs/bench.json as `bpe_train_seconds`, `bpe_encode_seconds`,
`bpe_naive_train_seconds_estimate` and the details under cases["bpe:reference"].
"""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise

from benchmarks.measure import best_seconds
from gptkata.data import CorpusError, read_corpus
from solutions import bpe

GOAL_SECONDS = 5.0
NAIVE_MERGES = 5


def naive_train(text: str, merges: int) -> float:
    """Seconds the recount-everything algorithm takes for its first `merges` merges."""
    words = [list(chunk.encode("utf-8")) for chunk in bpe.split_text(text)]
    start = time.perf_counter()
    for i in range(merges):
        counts = Counter(pair for ids in words for pair in pairwise(ids))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        words = [bpe.merge(ids, pair, 256 + i) for ids in words]
    return time.perf_counter() - start


def bpe_case(vocab_size: int, repeats: int) -> dict:
    """Training and encoding times of the reference BPE on the whole corpus."""
    try:
        text = read_corpus()
    except CorpusError as error:
        return {"skipped": str(error)}
    train_seconds, merges = best_seconds(lambda: bpe.train_bpe(text, vocab_size), repeats)
    # a fresh tokenizer (an empty cache) for each repeat, made before its clock starts
    fresh = iter([bpe.BPETokenizer(merges) for _ in range(repeats)])
    encode_seconds, ids = best_seconds(lambda: next(fresh).encode(text), repeats)
    naive = naive_train(text, NAIVE_MERGES)
    return {
        "vocab_size": vocab_size,
        "merges": len(merges),
        "characters": len(text),
        "bytes": len(text.encode("utf-8")),
        "tokens": len(ids),
        "round_trip": bpe.BPETokenizer(merges).decode(ids) == text,
        "train_seconds": train_seconds,
        "encode_seconds": encode_seconds,
        "naive_seconds_per_merge": naive / NAIVE_MERGES,
    }


def summary(case: dict | None) -> dict:
    """The top-level figures of runs/bench.json (nothing if the case did not run)."""
    if not case or "skipped" in case:
        return {}
    return {
        "bpe_train_seconds": case["train_seconds"],
        "bpe_encode_seconds": case["encode_seconds"],
        "bpe_naive_train_seconds_estimate": case["naive_seconds_per_merge"] * case["merges"],
    }


def verdict(seconds: float) -> str:
    """'goal <= 5 s: met' or 'goal <= 5 s: missed (7.2 s)'."""
    if seconds <= GOAL_SECONDS:
        return f"goal <= {GOAL_SECONDS:g} s: met"
    return f"goal <= {GOAL_SECONDS:g} s: missed ({seconds:.1f} s)"


def report_lines(case: dict | None, figures: dict) -> list[str]:
    """The BPE paragraph of the bench's report."""
    if not case:
        return []
    if "skipped" in case:
        return ["", f"BPE (kata 12): skipped, {case['skipped']}"]
    train, encode = figures["bpe_train_seconds"], figures["bpe_encode_seconds"]
    naive = figures["bpe_naive_train_seconds_estimate"]
    return [
        "",
        f"BPE (kata 12), the whole corpus ({case['characters']:,} characters): "
        f"{case['merges']} merges, vocabulary {case['vocab_size']:,}; "
        f"{case['tokens']:,} tokens, {case['characters'] / case['tokens']:.2f} characters "
        f"per token; decode(encode(text)) == text: {'yes' if case['round_trip'] else 'NO'}",
        f"  bpe_train_seconds  = {train:.2f} s   {verdict(train)}   (naive: about "
        f"{naive:.0f} s, {naive / train:.0f}x longer, from its first {NAIVE_MERGES} merges)",
        f"  bpe_encode_seconds = {encode:.2f} s   {verdict(encode)}",
    ]

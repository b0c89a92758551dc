"""Kata 12 - byte-level BPE: split, merge, train, encode and decode.

The texts and the specifications the implementation must agree with (training that
recounts every pair for every merge, encoding that applies the merges one by one in
training order) come from bpe_cases.py. Every text is small (at most a few thousand
characters): the corpus-sized figures are `make bench`'s job, never a test's.
"""

import pytest
import torch
from hypothesis import example, given

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies
from tests.katas.bpe_cases import TRAINING_TEXT, UNICODE_EXAMPLES, spec_encode, spec_train, trained

bpe = Lazy(implementation, "bpe")


def test_split_keeps_a_words_leading_space_and_splits_off_punctuation():
    expect.equal(
        'split_text("Hello world!! It\'s 42")',
        bpe.split_text("Hello world!! It's 42"),
        ["Hello", " world", "!!", " It", "'s", " 42"],
        "GPT-2's pattern: a word with its leading space, runs of punctuation, contractions, numbers",
    )


@given(strategies.any_text)
@example(UNICODE_EXAMPLES[0])
@example(UNICODE_EXAMPLES[1])
def test_split_chunks_join_back_to_the_text(text):
    chunks = bpe.split_text(text)
    expect.equal(
        f"''.join(split_text({text!r}))",
        "".join(chunks),
        text,
        "every character belongs to exactly one chunk, in order: nothing lost or repeated",
    )


def test_merge_replaces_each_pair_left_to_right():
    cases = [
        (([1, 2, 3, 1, 2], (1, 2), 256), [256, 3, 256]),
        (([97, 97, 97, 98], (97, 97), 256), [256, 97, 98]),
        (([97, 97, 97, 97], (97, 97), 256), [256, 256]),
        (([5, 6, 7], (6, 5), 300), [5, 6, 7]),
        (([], (1, 2), 256), []),
        (([1], (1, 2), 256), [1]),
    ]
    for (ids, pair, new_id), expected in cases:
        expect.equal(
            f"merge({ids}, {pair}, {new_id})",
            bpe.merge(ids, pair, new_id),
            expected,
            "scan left to right; a merged id is not reused by the next pair",
        )


def test_train_takes_the_most_frequent_pair_and_breaks_ties_by_the_smallest():
    expect.equal(
        "train_bpe('ab ab cd cd', 259)",
        bpe.train_bpe("ab ab cd cd", 259),
        [(32, 99), (97, 98), (256, 100)],
        "(32, 99), (97, 98) and (99, 100) occur twice each: (32, 99) is the smallest; then "
        "(97, 98) ties with (256, 100) and is smaller",
    )


def test_a_pair_whose_count_went_down_competes_with_its_new_count():
    expect.equal(
        "train_bpe('aa aa a', 258)",
        bpe.train_bpe("aa aa a", 258),
        [(32, 97), (97, 97)],
        "merge 0 is (32, 97) (2 times, tied with (97, 97) and smaller); it turns ' aa' into "
        "[256, 97], so (97, 97) is left once, in 'aa', and (256, 97) appears once: tied "
        "again, the smaller (97, 97) wins. Every pair a merge touched must be counted anew, "
        "the ones that lost occurrences as well as the new ones",
    )


def test_train_stops_when_no_chunk_has_two_ids_left():
    expect.equal(
        "train_bpe('aaaa', 1000)",
        bpe.train_bpe("aaaa", 1000),
        [(97, 97), (256, 256)],
        "(97, 97) occurs 3 times (overlapping); after it 'aaaa' is [256, 256], then one id",
    )
    expect.equal(
        "train_bpe('a b c', 300)",
        bpe.train_bpe("a b c", 300),
        [(32, 98), (32, 99)],
        "pairs are counted inside the chunks 'a', ' b', ' c' only, never across them",
    )


@given(strategies.bpe_texts, strategies.bpe_vocab_sizes)
def test_train_equals_recounting_every_pair_for_every_merge(text, vocab_size):
    expect.equal(
        f"train_bpe({text!r}, {vocab_size})",
        bpe.train_bpe(text, vocab_size),
        spec_train(text, vocab_size),
        "for each merge: count every neighbouring pair inside each chunk, take the most "
        "frequent (ties: the smallest pair), replace it everywhere with the next id",
    )


@given(strategies.bpe_texts)
def test_no_token_crosses_a_chunk(text):
    tokenizer = bpe.BPETokenizer.train(text, 320)
    chunks = [chunk.encode("utf-8") for chunk in bpe.split_text(text)]
    for new_id in range(256, len(tokenizer.vocab)):
        piece = tokenizer.vocab[new_id]
        expect.equal(
            f"token {new_id} = {piece!r} of BPETokenizer.train({text!r}, 320) lies inside a chunk",
            any(piece in chunk for chunk in chunks),
            True,
            "merges never cross the boundaries of split_text: every token is part of a chunk",
        )


def test_vocab_is_the_256_bytes_then_one_id_per_merge():
    merges = [(104, 101), (256, 108), (32, 257)]
    vocab = bpe.BPETokenizer(merges).vocab
    expect.equal(f"len(BPETokenizer({merges}).vocab)", len(vocab), 259, "256 bytes + 3 merges")
    expect.equal(
        "[vocab[i] for i in (0, 65, 255)]",
        [vocab[i] for i in (0, 65, 255)],
        [b"\x00", b"A", b"\xff"],
        "ids 0-255 are the single bytes",
    )
    expect.equal(
        "[vocab[i] for i in (256, 257, 258)]",
        [vocab[i] for i in (256, 257, 258)],
        [b"he", b"hel", b" hel"],
        "merge i makes id 256 + i, the bytes of its pair joined",
    )


def test_train_is_train_bpe_in_a_tokenizer():
    text = TRAINING_TEXT[:200]
    expect.equal(
        f"BPETokenizer.train({text!r}, 280).merges",
        bpe.BPETokenizer.train(text, 280).merges,
        bpe.train_bpe(text, 280),
        "train is a shortcut for BPETokenizer(train_bpe(text, vocab_size))",
    )


def test_encode_chunk_merges_the_earliest_merge_first():
    tokenizer = bpe.BPETokenizer([(98, 99), (97, 98), (256, 100)])
    expect.equal(
        "BPETokenizer([(98, 99), (97, 98), (256, 100)]).encode_chunk(b'abcd')",
        tokenizer.encode_chunk(b"abcd"),
        [97, 258],
        "(98, 99) was learned before (97, 98): 'bc' is merged first, then 'bc'+'d'",
    )


@given(strategies.any_text)
@example(UNICODE_EXAMPLES[0])
@example(UNICODE_EXAMPLES[1])
@example(UNICODE_EXAMPLES[2])
@example(UNICODE_EXAMPLES[3])
@example(TRAINING_TEXT)
def test_decode_of_encode_is_the_text(text):
    tokenizer = trained()
    ids = tokenizer.encode(text)
    expect.equal(
        f"decode(encode({text!r}))",
        tokenizer.decode(ids),
        text,
        "the bytes of the ids joined are the text's UTF-8 bytes: any string round-trips",
    )


@given(strategies.any_text)
@example(UNICODE_EXAMPLES[0])
@example(TRAINING_TEXT)
def test_encoding_is_never_longer_than_the_bytes(text):
    ids = trained().encode(text)
    expect.equal(
        f"len(encode({text!r})) <= len(text.encode())",
        len(ids) <= len(text.encode("utf-8")),
        True,
        f"{len(ids)} ids for {len(text.encode('utf-8'))} bytes: every merge makes a chunk shorter",
    )


@given(strategies.bpe_texts, strategies.bpe_texts)
def test_encoding_applies_the_merges_one_by_one_in_training_order(training_text, text):
    merges = bpe.train_bpe(training_text, 300)
    expect.equal(
        f"BPETokenizer(train_bpe({training_text!r}, 300)).encode({text!r})",
        bpe.BPETokenizer(merges).encode(text),
        spec_encode(merges, text),
        "in each chunk, merge 0 wherever it occurs, then merge 1, ... (or, the same: "
        "repeatedly the pair of lowest rank)",
    )


@given(strategies.bpe_merges(), strategies.bpe_texts)
def test_encoding_with_any_merges_applies_them_in_order(merges, text):
    expect.equal(
        f"BPETokenizer({merges}).encode({text!r})",
        bpe.BPETokenizer(merges).encode(text),
        spec_encode(merges, text),
        "the merges a tokenizer is given, in their order, whether learned or not",
    )


def test_encoding_twice_gives_the_same_ids():
    tokenizer = trained()
    first = tokenizer.encode(TRAINING_TEXT)
    expect.equal(
        "encode(text) a second time (chunks cached)",
        tokenizer.encode(TRAINING_TEXT),
        first,
        "a cache of encoded chunks must return exactly what encoding them gives",
    )


def test_the_encode_cache_stops_growing_at_cache_limit(monkeypatch):
    # CACHE_LIMIT is 100,000 chunks; the same rule is checked with a limit of 3
    monkeypatch.setattr(implementation("bpe"), "CACHE_LIMIT", 3, raising=False)
    tokenizer = bpe.BPETokenizer([(104, 101)])  # "he"
    text = " one two three four five six seven he he"  # nine chunks, eight distinct
    ids = tokenizer.encode(text)
    expect.equal(
        f"len(tokenizer.cache) after encode({text!r}) with CACHE_LIMIT = 3",
        len(tokenizer.cache),
        3,
        "the cache keeps a new chunk only while it holds fewer than CACHE_LIMIT chunks: "
        "on text with ever new chunks (a corpus, a chat) an unbounded cache grows "
        "without end",
    )
    expect.equal(
        f"encode({text!r}) once the cache is full",
        ids,
        spec_encode([(104, 101)], text),
        "a chunk the full cache does not hold is still encoded, only not stored",
    )
    expect.equal(
        "tokenizer.cache[' one'] after that encode",
        tokenizer.cache.get(" one"),
        [32, 111, 110, 101],
        "the cache maps each chunk it keeps to that chunk's ids",
    )


def test_encode_looks_a_chunk_it_has_seen_up_in_the_cache():
    tokenizer = bpe.BPETokenizer([])
    tokenizer.cache["hi"] = [7, 7]  # not what "hi" encodes to: shows where the ids came from
    expect.equal(
        "encode('hi') with tokenizer.cache['hi'] = [7, 7]",
        tokenizer.encode("hi"),
        [7, 7],
        "a chunk already in self.cache is looked up there, not merged again: a cache "
        "that is written but never read saves nothing",
    )


def test_byte_zero_is_an_id_like_any_other():
    tokenizer = bpe.BPETokenizer([(0, 0)])
    expect.equal(
        "BPETokenizer([(0, 0)]).encode('\\x00\\x00\\x00')",
        tokenizer.encode("\x00\x00\x00"),
        [256, 0],
        "ids 0..255 are the bytes, 0 included: a merge may use byte 0",
    )
    call, why = "BPETokenizer([(0, 0)]).decode([0, 72])", "id 0 is the byte 0, a valid id to decode"
    expect.equal(call, tokenizer.decode([0, 72]), "\x00H", why)


@given(strategies.id_sequences(vocab_size=300, min_len=0, max_len=40))
@example(torch.tensor([0xE2, 0x82]))
@example(torch.tensor([0xFF, 72]))
def test_decode_of_any_ids_replaces_invalid_utf8(ids):
    tokenizer = trained()
    ids = ids.tolist()
    expected = b"".join(tokenizer.vocab[i] for i in ids).decode("utf-8", errors="replace")
    expect.equal(
        f"decode({ids})",
        tokenizer.decode(ids),
        expected,
        "arbitrary ids need not be valid UTF-8: errors='replace' shows bad bytes as U+FFFD",
    )


def test_on_shakespeare_the_tokens_are_pieces_of_words(corpus_text):
    text = corpus_text[:10_000]  # a few seconds of the slow algorithm, at most
    tokenizer = bpe.BPETokenizer.train(text, 320)
    pieces = {tokenizer.vocab[i] for i in range(256, 320)}
    expect.equal(
        "{b' the', b' you', b' Citizen'} <= the tokens of BPETokenizer.train(text[:10000], 320)",
        {b" the", b" you", b" Citizen"} <= pieces,
        True,
        "frequent words become single tokens, with their leading space",
    )
    ratio = len(tokenizer.encode(text)) / len(text.encode("utf-8"))
    expect.equal(
        f"len(encode(text[:10000])) / len(bytes) = {ratio:.3f} below 0.7",
        ratio < 0.7,
        True,
        "64 merges learned from this very text shorten it by about a third (0.64)",
    )


def test_decode_reads_a_1d_tensor_of_ids_as_its_list():
    tokenizer = bpe.BPETokenizer([(104, 105)])
    call = "BPETokenizer([(104, 105)]).decode(torch.tensor([104, 105, 256]))"
    why = "a model's samples are a tensor: decode reads them as the ints they hold"
    expect.equal(call, tokenizer.decode(torch.tensor([104, 105, 256])), "hihi", why)


# -- bad input: given in the exercise, tested one by one ---------------------------


@pytest.mark.bad_input
def test_a_vocab_size_below_256_is_refused():
    expect.value_error(
        "train_bpe('abc', 255)", bpe.train_bpe, "abc", 255, mentions=("vocab_size", "255")
    )


@pytest.mark.bad_input
def test_text_that_is_not_a_str_is_refused():
    expect.value_error(
        "train_bpe(b'abc', 300)", bpe.train_bpe, b"abc", 300, mentions=("text", "bytes")
    )


def test_an_unknown_id_is_refused_naming_it_and_its_position():
    call, mentions = (
        "BPETokenizer([(97, 98)]).decode([97, 257, 98])",
        ("257", "position 1", "0..256"),
    )
    expect.value_error(call, bpe.BPETokenizer([(97, 98)]).decode, [97, 257, 98], mentions=mentions)


@pytest.mark.bad_input
def test_a_merge_of_ids_that_do_not_exist_yet_is_refused():
    call, mentions = "BPETokenizer([(97, 98), (257, 97)])", ("merges[1]", "257", "0..256")
    expect.value_error(call, bpe.BPETokenizer, [(97, 98), (257, 97)], mentions=mentions)


@pytest.mark.bad_input
def test_merge_refuses_a_new_id_below_256_naming_new_id():
    for bad in (255, 0):
        call, mentions = f"merge([1, 2], (1, 2), {bad})", ("new_id", "256", str(bad), "0..255")
        expect.value_error(call, bpe.merge, [1, 2], (1, 2), bad, mentions=mentions)


@pytest.mark.bad_input
def test_decode_refuses_a_tensor_that_is_not_1d_integer_ids():
    tokenizer = bpe.BPETokenizer([])
    for bad, shown in (
        (torch.tensor([[104, 105]]), "(1, 2)"),
        (torch.tensor([104.0, 105.0]), "torch.float32"),
        (torch.tensor([True, False]), "torch.bool"),
    ):
        call, mentions = (
            f"BPETokenizer([]).decode(tensor of {shown})",
            ("ids", "1-D integer tensor", shown),
        )
        expect.value_error(call, tokenizer.decode, bad, mentions=mentions)


@pytest.mark.bad_input
def test_a_vocab_size_that_is_not_an_int_is_refused():
    for bad in (300.0, True):
        call, mentions = f"train_bpe('abc', {bad!r})", ("vocab_size", "int", repr(bad))
        expect.value_error(call, bpe.train_bpe, "abc", bad, mentions=mentions)


@pytest.mark.bad_input
def test_a_merge_that_is_not_a_pair_of_int_ids_is_refused():
    for bad in ((97, 98, 99), (97, True), 97):
        call, mentions = f"BPETokenizer([{bad!r}])", ("merges[0]", "pair", repr(bad))
        expect.value_error(call, bpe.BPETokenizer, [bad], mentions=mentions)


@pytest.mark.bad_input
def test_a_merge_made_twice_is_refused():
    call, mentions = "BPETokenizer([(97, 98), (97, 98)])", ("merges[1]", "(97, 98)", "repeats")
    expect.value_error(call, bpe.BPETokenizer, [(97, 98), (97, 98)], mentions=mentions)


@pytest.mark.bad_input
def test_decode_refuses_true_as_an_id():
    call, mentions = "BPETokenizer([]).decode([72, True])", ("True", "position 1")
    expect.value_error(call, bpe.BPETokenizer([]).decode, [72, True], mentions=mentions)

"""Kata 1 - tokenizer: the vocabulary, the lookup tables, encode and decode."""

import pytest
import torch
from hypothesis import given

from gptkata.kata.select import Lazy, implementation
from tests import expect, seed_values, strategies

tokenizer = Lazy(implementation, "tokenizer")


# Hand-made tables, so encode and decode can be tested before build_vocab works.
STOI = {"a": 0, "b": 1, "c": 2}
ITOS = {0: "a", 1: "b", 2: "c"}


def lookup_for(text):
    return tokenizer.build_lookup(tokenizer.build_vocab(text))


def test_vocab_of_the_corpus_is_the_seeds_65_characters(corpus_text):
    vocab = tokenizer.build_vocab(corpus_text)
    expect.equal(
        "build_vocab(text)",
        vocab,
        seed_values.VOCAB,
        "the sorted distinct characters of tiny Shakespeare (the seed prints 65)",
    )


@given(strategies.any_text)
def test_vocab_is_sorted_distinct_and_covers_the_text(text):
    vocab = tokenizer.build_vocab(text)
    expect.equal(
        f"build_vocab({text!r})",
        vocab,
        sorted(set(text)),
        "every character that occurs, once each, in sorted order",
    )


@given(strategies.any_text)
def test_lookup_tables_are_inverse_bijections(text):
    vocab = tokenizer.build_vocab(text)
    stoi, itos = tokenizer.build_lookup(vocab)
    expect.equal(
        "sorted(stoi.values())",
        sorted(stoi.values()),
        list(range(len(vocab))),
        "ids are the positions 0..len(vocab)-1, each used once",
    )
    expect.equal(
        "{i: stoi[itos[i]] for i in itos}",
        {i: stoi[itos[i]] for i in itos},
        {i: i for i in range(len(vocab))},
        "itos must undo stoi",
    )
    expect.equal(
        "[stoi[ch] for ch in vocab]",
        [stoi[ch] for ch in vocab],
        list(range(len(vocab))),
        "stoi[ch] is the position of ch in the vocabulary",
    )


def test_encode_hola_gives_the_seeds_ids(corpus_text):
    stoi, _ = lookup_for(corpus_text)
    expect.equal(
        "encode('Hola', stoi)",
        tokenizer.encode("Hola", stoi),
        seed_values.HOLA,
        "the seed notebook prints [20, 53, 50, 39]",
    )


def test_first_100_ids_match_the_seed(corpus_text):
    stoi, _ = lookup_for(corpus_text)
    expect.equal(
        "encode(text[:100], stoi)",
        tokenizer.encode(corpus_text[:100], stoi),
        seed_values.FIRST_100,
        "the seed prints data[:100]",
    )


@given(strategies.non_empty_text, strategies.seeds)
def test_decode_inverts_encode_for_any_string_over_the_vocab(alphabet, seed):
    stoi, itos = lookup_for(alphabet)
    # a string over the vocabulary, with characters in any order and repeated
    order = torch.randint(
        len(alphabet), (3 * len(alphabet),), generator=torch.Generator().manual_seed(seed)
    )
    text = "".join(alphabet[i] for i in order.tolist())
    ids = tokenizer.encode(text, stoi)
    expect.equal(f"encode({text!r}, stoi)", type(ids), list, "encode returns a list of ints")
    expect.equal(
        f"decode(encode({text!r}))",
        tokenizer.decode(ids, itos),
        text,
        "decode must undo encode exactly",
    )
    expect.equal(
        f"decode(torch.tensor(encode({text!r})))",
        tokenizer.decode(torch.tensor(ids, dtype=torch.long), itos),
        text,
        "decode accepts a 1-D tensor too: convert it with .tolist() first",
    )


def test_encode_of_empty_text_is_empty():
    expect.equal("encode('', stoi)", tokenizer.encode("", STOI), [])
    expect.equal("decode([], itos)", tokenizer.decode([], ITOS), "")


def test_encode_and_decode_use_the_tables():
    expect.equal(
        "encode('cab', {'a': 0, 'b': 1, 'c': 2})", tokenizer.encode("cab", STOI), [2, 0, 1]
    )
    expect.equal(
        "decode([2, 0, 1], {0: 'a', 1: 'b', 2: 'c'})", tokenizer.decode([2, 0, 1], ITOS), "cab"
    )


@pytest.mark.bad_input
def test_unknown_character_names_the_character_and_its_position():
    expect.value_error(
        "encode('abzc', stoi)", tokenizer.encode, "abzc", STOI, mentions=("'z'", "2")
    )


@pytest.mark.bad_input
def test_unknown_id_names_the_id_and_its_position():
    expect.value_error(
        "decode([0, 1, 7], itos)", tokenizer.decode, [0, 1, 7], ITOS, mentions=("7", "2")
    )
    expect.value_error(
        "decode(torch.tensor([0, -1]), itos)",
        tokenizer.decode,
        torch.tensor([0, -1]),
        ITOS,
        mentions=("-1",),
    )


@pytest.mark.bad_input
def test_decode_rejects_a_2d_or_float_tensor():
    expect.value_error(
        "decode(torch.zeros(2, 2, dtype=torch.long), itos)",
        tokenizer.decode,
        torch.zeros(2, 2, dtype=torch.long),
        ITOS,
        mentions=("1-D",),
    )
    expect.value_error(
        "decode(torch.tensor([0.0, 1.0]), itos)",
        tokenizer.decode,
        torch.tensor([0.0, 1.0]),
        ITOS,
        mentions=("integer",),
    )
    expect.value_error(
        "decode(torch.tensor([True, False]), itos)",
        tokenizer.decode,
        torch.tensor([True, False]),
        ITOS,
        mentions=("1-D integer tensor", "torch.bool"),
    )


@pytest.mark.bad_input
def test_a_vocab_with_a_repeated_character_is_not_a_bijection():
    expect.value_error(
        "build_lookup(['a', 'b', 'a'])",
        tokenizer.build_lookup,
        ["a", "b", "a"],
        mentions=("repeats ['a']",),
    )
    expect.value_error("build_lookup(['ab'])", tokenizer.build_lookup, ["ab"], mentions=("'ab'",))


@pytest.mark.bad_input
def test_decode_rejects_ids_that_are_not_integers():
    expect.value_error(
        "decode([1.0, 2.0], itos)",
        tokenizer.decode,
        [1.0, 2.0],
        ITOS,
        mentions=("ids[0]", "1.0", "a float", "integers"),
    )
    expect.value_error(
        "decode([0, True], itos)", tokenizer.decode, [0, True], ITOS, mentions=("ids[1]", "True")
    )

"""Shared fixtures and hypothesis profiles for the whole suite.

Profiles: `fast` (the default: few examples, the same ones every run, so a learner's
rerun is quick and stable) and `thorough` (many random examples; `make check` uses
it). Choose with HYPOTHESIS_PROFILE=thorough.
"""

from __future__ import annotations

import gc
import os
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from gptkata.data import read_corpus
from gptkata.kata.select import dependency

# No explain phase in either profile: it reruns a failing test some 300 times under a
# line tracer (seconds for code that builds torch modules) for notes that the one-line
# kata report does not show (a kata that is all stubs: 2.3 s instead of 4).
NO_EXPLAIN = [phase for phase in Phase if phase is not Phase.explain]
settings.register_profile(
    "fast",
    max_examples=12,
    phases=NO_EXPLAIN,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=150,
    phases=NO_EXPLAIN,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# One thread: the suite's tensors are tiny, so a second thread saves nothing, and on a
# busy machine waiting for it made the suite several times slower (measured: 6 s with
# one thread, 30-45 s with two, on two shared cores).
torch.set_num_threads(1)

# Every object that exists by now (torch's, hypothesis's, pytest's: some 180,000) lives
# until the run ends, yet each full garbage collection would walk them all again: 75 ms
# for every gc.collect() that pytest and hypothesis call, and a third of the second it
# takes to import torch._dynamo, which PyTorch does when the first optimizer is built.
# Freezing them moves them out of the collector's sight (measured: 0.5 s off a kata run).
gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Freeze again what the tests brought in (torch._dynamo among them), once pytest has
    collected its garbage for the last time: otherwise Python walks it all on exit (0.3 s)."""
    gc.freeze()


def pytest_collection_modifyitems(items):
    """Every test file's bad-input tests (marked `bad_input`) after its concept tests,
    each group in file order: what the learner has to write is reported first, and
    the first failure shown is always about the concept."""
    files = {}
    for item in items:
        files.setdefault(item.path, len(files))
    items.sort(
        key=lambda item: (files[item.path], item.get_closest_marker("bad_input") is not None)
    )


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The tiny Shakespeare corpus; fails with the `make data` instruction if missing."""
    return read_corpus()


def prepare_corpus(text: str, tokenizer, batching) -> SimpleNamespace:
    """`text` prepared with the given tokenizer and batching modules: text, vocab,
    stoi, itos, data (long tensor), train and val (the 90/10 split)."""
    vocab = tokenizer.build_vocab(text)
    stoi, itos = tokenizer.build_lookup(vocab)
    data = batching.text_to_tensor(text, stoi)
    train, val = batching.train_val_split(data, 0.9)
    return SimpleNamespace(
        text=text, vocab=vocab, stoi=stoi, itos=itos, data=data, train=train, val=val
    )


# The corpus prepared with the reference tokenizer and batching, once, by a warm process
# (gptkata.kata.warm) before it forks its checks: {"text", "tokenizer", "batching",
# "prepared"}. Used only when a test session would build exactly the same thing.
WARM: dict = {}


@pytest.fixture(scope="session")
def shakespeare(corpus_text) -> SimpleNamespace:
    """The corpus prepared with the reference pieces (or yours, with CHAIN=mine):
    text, vocab, stoi, itos, data (long tensor), train and val (the 90/10 split)."""
    tokenizer, batching = dependency("tokenizer"), dependency("batching")
    if (
        WARM
        and WARM["tokenizer"] is tokenizer
        and WARM["batching"] is batching
        and WARM["text"] == corpus_text
    ):
        return WARM["prepared"]  # made by the reference modules before this process began
    return prepare_corpus(corpus_text, tokenizer, batching)


@pytest.fixture
def seeded():
    """Seed torch's global generator (the one the seed notebook uses) for one test."""

    def seed(value: int = 1337) -> torch.Generator:
        torch.manual_seed(value)
        return torch.Generator().manual_seed(value)

    return seed

"""Hypothesis strategies shared by the kata tests.

Tensors are drawn as (shape, seed) and made with torch's own generator: fast, and a
failing example prints as a small shape and a seed you can replay.
"""

from __future__ import annotations

import torch
from hypothesis import Phase
from hypothesis import strategies as st

# Any characters, including newlines, accents and emoji - a tokenizer must not care.
any_text = st.text(min_size=0, max_size=60)
non_empty_text = st.text(min_size=1, max_size=60)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def text_over(vocab: list[str], max_size: int = 60):
    """Strings whose characters all come from `vocab`."""
    return st.text(alphabet=st.sampled_from(vocab), max_size=max_size)


@st.composite
def float_tensors(draw, shape_strategy, scale: float = 1.0):
    """A float32 tensor of a drawn shape with standard-normal entries times `scale`."""
    shape = draw(shape_strategy)
    generator = torch.Generator().manual_seed(draw(seeds))
    return torch.randn(*shape, generator=generator) * scale


def btc_shapes(max_b: int = 4, max_t: int = 12, max_c: int = 8):
    """(B, T, C) shapes, each at least 1."""
    return st.tuples(st.integers(1, max_b), st.integers(1, max_t), st.integers(1, max_c))


def square_shapes(max_batch_dims: int = 2, max_t: int = 10):
    """(..., T, T) shapes with 0 to `max_batch_dims` leading dimensions."""
    return st.tuples(
        st.lists(st.integers(1, 3), max_size=max_batch_dims), st.integers(1, max_t)
    ).map(lambda lead_t: (*lead_t[0], lead_t[1], lead_t[1]))


@st.composite
def id_sequences(draw, vocab_size: int = 65, min_len: int = 2, max_len: int = 200):
    """A 1-D long tensor of ids in [0, vocab_size)."""
    n = draw(st.integers(min_len, max_len))
    generator = torch.Generator().manual_seed(draw(seeds))
    return torch.randint(vocab_size, (n,), generator=generator)


@st.composite
def attention_sizes(draw, max_head: int = 4, max_head_size: int = 8, max_block: int = 12):
    """(n_embd, n_head, block_size, B, T): n_embd = n_head * head_size, 1 <= T <= block_size."""
    n_head = draw(st.integers(1, max_head))
    n_embd = n_head * draw(st.integers(1, max_head_size))
    block_size = draw(st.integers(1, max_block))
    return n_embd, n_head, block_size, draw(st.integers(1, 3)), draw(st.integers(1, block_size))


# Hypothesis's explain phase reruns a failing example under a line tracer to report
# which of its parts matter. Code that builds torch modules is slow under a tracer
# (seconds per test), and a stub's "not implemented yet" needs no explaining, so
# tests that build models use @settings(phases=strategies.NO_EXPLAIN).
NO_EXPLAIN = tuple(phase for phase in Phase if phase is not Phase.explain)

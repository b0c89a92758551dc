"""Hypothesis strategies shared by the kata tests.

Tensors are drawn as (shape, seed) and made with torch's own generator: fast, and a
failing example prints as a small shape and a seed you can replay.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

# Any characters, including newlines, accents and emoji - a tokenizer must not care.
any_text = st.text(min_size=0, max_size=60)
non_empty_text = st.text(min_size=1, max_size=60)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


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


def btc_shapes_of_width(c: int, max_b: int = 3, max_t: int = 8):
    """(B, T, c) shapes for a layer built for c channels, B and T at least 1."""
    return st.tuples(st.integers(1, max_b), st.integers(1, max_t), st.just(c))


def feature_shapes(min_c: int = 1, max_c: int = 40, max_lead: int = 3):
    """(..., C) shapes: 1 to `max_lead` leading dimensions (each 1 to 4), then C."""
    return st.tuples(
        st.lists(st.integers(1, 4), min_size=1, max_size=max_lead), st.integers(min_c, max_c)
    ).map(lambda lead_c: (*lead_c[0], lead_c[1]))


# Sizes of attention layers: n_embd = n_head * head_size, so n_head always divides it.
def embd_and_heads(max_head: int = 4, max_head_size: int = 6):
    """(n_embd, n_head) with n_head dividing n_embd."""
    return st.tuples(st.integers(1, max_head), st.integers(1, max_head_size)).map(
        lambda heads_size: (heads_size[0] * heads_size[1], heads_size[0])
    )


# A spread and a shift for inputs that are not already normalised: x = offset + scale * z.
offsets = st.floats(min_value=-10.0, max_value=10.0)
scales = st.floats(min_value=0.1, max_value=10.0)


def id_batches(vocab_size: int = 65, max_b: int = 3, max_t: int = 8):
    """(B, T) long tensors of ids in [0, vocab_size), B and T at least 1."""
    return st.tuples(st.integers(1, max_b), st.integers(1, max_t), seeds).map(
        lambda b_t_seed: torch.randint(
            vocab_size, b_t_seed[:2], generator=torch.Generator().manual_seed(b_t_seed[2])
        )
    )


@st.composite
def future_edits(draw, tensors, vocab_size: int | None = None):
    """(x, t, edited): x drawn from `tensors` (time is dimension 1), a position t, and
    a copy of x whose positions after t are redrawn - ids below `vocab_size` when it
    is given, standard-normal floats times 3 otherwise. A causal model's outputs at
    positions 0..t must not notice the edit."""
    x = draw(tensors)
    t = draw(st.integers(0, max(x.shape[1] - 2, 0)))
    generator = torch.Generator().manual_seed(draw(seeds))
    edited = x.clone()
    future = edited[:, t + 1 :]
    if vocab_size is None:
        future.copy_(torch.randn(future.shape, generator=generator) * 3.0)
    else:
        future.copy_(torch.randint(vocab_size, future.shape, generator=generator))
    return x, t, edited


class FutureEdit(tuple):
    """(x, t, edited) as `future_edits` draws it, shown by the seed it was made from
    (one line in a failing example, not two whole tensors)."""

    def __new__(cls, shape: tuple[int, ...], seed: int, t: int):
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(shape, generator=generator) * 3.0
        edited = x.clone()
        edited[:, t + 1 :] = torch.randn(edited[:, t + 1 :].shape, generator=generator) * 3.0
        made = super().__new__(cls, (x, t, edited))
        made.shown = f"x of shape {shape} from seed {seed}, changed after t={t}"
        return made

    def __repr__(self) -> str:
        return self.shown

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis prints an example
        printer.text(self.shown)


@st.composite
def seeded_future_edits(draw, shape: tuple[int, ...]):
    """A FutureEdit of a float (standard normal times 3) x of `shape`, made from a drawn
    seed and position t: the same edit as `future_edits`, reported in one line."""
    t = draw(st.integers(0, max(shape[1] - 2, 0)))
    return FutureEdit(shape, draw(seeds), t)


@st.composite
def attention_sizes(draw, max_head: int = 4, max_head_size: int = 8, max_block: int = 12):
    """(n_embd, n_head, block_size, B, T): n_embd = n_head * head_size, 1 <= T <= block_size."""
    n_head = draw(st.integers(1, max_head))
    n_embd = n_head * draw(st.integers(1, max_head_size))
    block_size = draw(st.integers(1, max_block))
    return n_embd, n_head, block_size, draw(st.integers(1, 3)), draw(st.integers(1, block_size))


# Kata 12 (bpe): text with words that repeat, so BPE finds pairs worth merging. A small
# alphabet of one-byte letters, a two-byte accent, a three-byte combining mark and a
# four-byte emoji, words joined by spaces, newlines and punctuation.
bpe_words = st.text(alphabet="abcé\u0301😀'1", min_size=1, max_size=5)
bpe_texts = st.lists(
    st.tuples(bpe_words, st.sampled_from([" ", "  ", "\n", "!! ", ", "])), max_size=30
).map(lambda pairs: "".join(word + gap for word, gap in pairs))
bpe_vocab_sizes = st.integers(min_value=256, max_value=300)


@st.composite
def bpe_merges(draw, max_merges: int = 12):
    """A valid list of merges, not learned from any text: merge i pairs two ids that
    exist before it (a byte of 'a'-'d' or an earlier merge), no pair twice."""
    merges: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(0, max_merges))):
        ids = st.sampled_from([97, 98, 99, 100, *range(256, 256 + len(merges))])
        pair = (draw(ids), draw(ids))
        if pair not in merges:
            merges.append(pair)
    return merges


# Kata 13 (sampling): logits of shape (B, V), spread wide enough (x3) for peaked rows.
def logit_batches(max_b: int = 4, max_v: int = 20):
    """(B, V) float32 logits, B and V at least 1, standard normal times 3."""
    shapes = st.tuples(st.integers(1, max_b), st.integers(1, max_v))
    return float_tensors(shapes, scale=3.0)


temperatures = st.floats(min_value=0.05, max_value=5.0)
top_ps = st.floats(min_value=0.01, max_value=1.0)


# Kata 14 (optim): classification problems (logits (N, V), targets (N,)) and gradients.
@st.composite
def logits_and_targets(draw, max_n: int = 8, max_v: int = 20, scale: float = 3.0):
    """(logits (N, V) float32 of standard deviation `scale`, targets (N,) long ids < V)."""
    n, v = draw(st.integers(1, max_n)), draw(st.integers(1, max_v))
    generator = torch.Generator().manual_seed(draw(seeds))
    logits = torch.randn(n, v, generator=generator) * scale
    return logits, torch.randint(v, (n,), generator=generator)


@st.composite
def gradient_sets(draw, max_tensors: int = 4):
    """A list of 1 to `max_tensors` float32 tensors of small drawn shapes, entries of a
    drawn size (1e-3 to 1e2), to be used as gradients."""
    shapes = draw(st.lists(feature_shapes(max_c=6, max_lead=2), min_size=1, max_size=max_tensors))
    scale = draw(st.floats(min_value=1e-3, max_value=1e2))
    generator = torch.Generator().manual_seed(draw(seeds))
    return [torch.randn(*shape, generator=generator) * scale for shape in shapes]


@st.composite
def schedules(draw):
    """(max_lr, min_lr, warmup_steps, total_steps) of a warm-up and cosine schedule."""
    max_lr = draw(st.floats(min_value=1e-5, max_value=1.0))
    min_lr = max_lr * draw(st.floats(min_value=0.0, max_value=1.0))
    warmup = draw(st.integers(0, 50))
    return max_lr, min_lr, warmup, warmup + draw(st.integers(0, 200))

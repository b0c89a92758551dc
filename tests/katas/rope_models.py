"""The layers, vectors and hand-made computations that the rope kata's tests
(test_rope.py) are built from and compare with, and their tolerances.

Tolerance: a rotation changes nothing but the grouping of float32 sums, so a norm
or a dot product compared before and after turning agrees to about 1e-6 relative
(2.5e-7 measured on vectors of size ~1 over 1,000 random draws); ATOL = 1e-5 on
numbers of that size leaves forty times that. The attention outputs compared
across a shift come from angles p * f of different sizes (cos(1000 f) is rounded
differently from cos(10 f)), which moves them by at most 3.4e-6 on outputs of size
~1 over 500 random layers (at positions below 50); SHIFT_ATOL = 1e-4 leaves thirty
times that. The mistakes the tests are about (a missing rotation of the keys, the
pairs taken as neighbours, a window one too wide) change outputs by 1e-2 or more.
"""

import math

import torch
from hypothesis import strategies as st
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation

rope = Lazy(implementation, "rope")

ATOL = 1e-5
SHIFT_ATOL = 1e-4

head_sizes = st.integers(1, 8).map(lambda h: 2 * h)

# sliding_mask(arange(5), arange(5), window=3): query m (row) sees key n (column)
BAND_OF_3 = torch.tensor(
    [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
    ],
    dtype=torch.bool,
)


def vectors(shape, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def attention(n_embd, n_head, window, seed):
    torch.default_generator.manual_seed(seed)
    attn = rope.RopeAttention(n_embd, n_head, window).eval()
    with torch.no_grad():  # weights of size ~1, so every position visibly matters
        for w in attn.parameters():
            w.normal_(0.0, 0.5)
    return attn


def cos_and_sin_by_hand(head_size: int, positions: int, base: float):
    """cos(p * f_i) and sin(p * f_i), f_i = base ** (-2i / head_size), one row per p."""
    angles = [
        [p * base ** (-2 * i / head_size) for i in range(head_size // 2)] for p in range(positions)
    ]
    cos = torch.tensor([[math.cos(a) for a in row] for row in angles])
    return cos, torch.tensor([[math.sin(a) for a in row] for row in angles])


def score(q, k, cos, sin, i: int, j: int) -> torch.Tensor:
    """The dot product of q turned to position i and k turned to position j."""
    at = torch.tensor
    return (rope.apply_rope(q, cos, sin, at([i])) * rope.apply_rope(k, cos, sin, at([j]))).sum()


def banded_attention_by_hand(attn, x, n_head: int, window: int) -> torch.Tensor:
    """attn's output written out: q and k turned (pairs are first half against second),
    scaled dot products, a band of `window` positions under the diagonal, c_proj."""
    B, T, n_embd = x.shape
    hs = n_embd // n_head
    q, k, v = (
        t.view(B, T, n_head, hs).transpose(1, 2) for t in attn.c_attn(x).split(n_embd, dim=2)
    )
    angles = torch.arange(T)[:, None] * 10000.0 ** (-torch.arange(0, hs, 2) / hs)
    c, s = torch.cos(angles), torch.sin(angles)

    def turn(t):
        t1, t2 = t[..., : hs // 2], t[..., hs // 2 :]
        return torch.cat([t1 * c - t2 * s, t1 * s + t2 * c], dim=-1)

    scores = turn(q) @ turn(k).transpose(-2, -1) / math.sqrt(hs)
    d = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    scores = scores.masked_fill(~((d >= 0) & (d < window)), float("-inf"))
    y = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, n_embd)
    return attn.c_proj(y)

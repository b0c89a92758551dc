"""Kata 15 - rope: rotary positions, and attention over a sliding window.

The layers, vectors, hand-made computations and tolerances (ATOL, SHIFT_ATOL, with
their measurements) come from rope_models.py.
"""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies
from tests.katas.rope_models import (
    ATOL,
    BAND_OF_3,
    SHIFT_ATOL,
    attention,
    banded_attention_by_hand,
    cos_and_sin_by_hand,
    head_sizes,
    score,
    vectors,
)

rope = Lazy(implementation, "rope")


def test_the_frequencies_are_cos_and_sin_of_position_times_base_to_the_minus_2i_over_d():
    cos, sin = rope.rope_frequencies(6, 5, base=100.0)
    expect.tensor_like(
        "rope_frequencies(6, 5, base=100.0)[0]",
        cos,
        (5, 3),
        torch.float32,
        "one row per position, one column per pair of numbers (head_size // 2)",
    )
    expect.tensor_like("rope_frequencies(6, 5, base=100.0)[1]", sin, (5, 3), torch.float32)
    want_cos, want_sin = cos_and_sin_by_hand(6, 5, base=100.0)
    why = "cos(p * f_i) with f_i = base ** (-2i / head_size): pair 0 turns one radian a step"
    expect.close("rope_frequencies(6, 5, base=100.0)[0]", cos, want_cos, atol=ATOL, why=why)
    expect.close("rope_frequencies(6, 5, base=100.0)[1]", sin, want_sin, atol=ATOL)
    cos, _ = rope.rope_frequencies(4, 2)
    want = torch.tensor([math.cos(1.0), math.cos(0.01)])
    why = "the default base is 10000.0"
    expect.close("rope_frequencies(4, 2)[0][1]", cos[1], want, atol=ATOL, why=why)
    _, sin = rope.rope_frequencies(4, 1001)
    want = torch.tensor([math.sin(1000.0), math.sin(10.0)])
    expect.close(
        "rope_frequencies(4, 1001)[1][1000]",
        sin[1000],
        want,
        atol=ATOL,
        why="the default base is 10000.0: f_1 = 10000 ** -0.5 = 0.01, so 1000 steps turn "
        "pair 1 by 10 radians (a base of 10001 would be 5e-4 off there)",
    )
    cos, _ = rope.rope_frequencies(2, 2, base=0.5)
    want = torch.tensor([[1.0], [math.cos(1.0)]])
    why = "any positive finite base is a base, 1 or less too (pair 0 always turns 1 radian)"
    expect.close("rope_frequencies(2, 2, base=0.5)[0]", cos, want, atol=ATOL, why=why)


@given(head_sizes, st.integers(1, 6), st.integers(0, 20), strategies.seeds)
def test_each_pair_turns_in_its_own_plane_first_half_against_second(head_size, T, p, seed):
    h = head_size // 2
    i = seed % h
    x = torch.zeros(T, head_size)
    x[:, i] = 1.0
    cos, sin = rope.rope_frequencies(head_size, p + 1)
    positions = torch.full((T,), p)
    want = torch.zeros(T, head_size)
    want[:, i], want[:, i + h] = cos[p, i], sin[p, i]
    call = f"apply_rope(x = unit vector {i} of size {head_size}, cos, sin, positions all {p})"
    why = f"pair {i} is (x[{i}], x[{i + h}]): (x1 cos - x2 sin, x1 sin + x2 cos)"
    expect.close(call, rope.apply_rope(x, cos, sin, positions), want, atol=ATOL, why=why)


@given(head_sizes, st.lists(st.integers(1, 3), max_size=2), st.integers(1, 6), strategies.seeds)
def test_position_zero_is_the_identity(head_size, lead, T, seed):
    x = vectors((*lead, T, head_size), seed)
    cos, sin = rope.rope_frequencies(head_size, 4)
    call = f"apply_rope(x of shape {tuple(x.shape)}, cos, sin, positions all 0)"
    got = rope.apply_rope(x, cos, sin, torch.zeros(T, dtype=torch.long))
    why = "the angle at position 0 is 0 for every pair: nothing turns"
    expect.close(call, got, x, atol=ATOL, why=why)


def test_turning_keeps_xs_dtype():
    cos, sin = rope.rope_frequencies(4, 8)
    x = torch.ones(3, 4, dtype=torch.bfloat16)
    expect.tensor_like(
        "apply_rope(x of dtype bfloat16, cos and sin of float32, positions)",
        rope.apply_rope(x, cos, sin, torch.arange(3)),
        (3, 4),
        torch.bfloat16,
        "cos and sin are cast to x's dtype: under bf16 autocast, float32 tables would turn q "
        "and k into float32",
    )


@given(head_sizes, st.integers(1, 3), st.integers(1, 8), strategies.seeds)
def test_turning_keeps_every_vectors_length(head_size, B, T, seed):
    x = vectors((B, T, head_size), seed)
    cos, sin = rope.rope_frequencies(head_size, 64)
    positions = torch.randint(64, (T,), generator=torch.Generator().manual_seed(seed))
    turned = rope.apply_rope(x, cos, sin, positions)
    expect.tensor_like(
        f"apply_rope(x of shape {tuple(x.shape)}, ...)", turned, tuple(x.shape), torch.float32
    )
    expect.close(
        f"apply_rope(x of shape {tuple(x.shape)}, cos, sin, {positions.tolist()}).norm(dim=-1)",
        turned.norm(dim=-1),
        x.norm(dim=-1),
        atol=ATOL,
        rtol=ATOL,
        why="a rotation changes a vector's direction, never its length",
    )


@given(head_sizes, st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), strategies.seeds)
def test_a_query_key_score_depends_only_on_their_distance(head_size, m, n, shift, seed):
    q, k = vectors((1, head_size), seed), vectors((1, head_size), seed + 1)
    cos, sin = rope.rope_frequencies(head_size, 128)
    expect.close(
        f"q turned to {m + shift} . k turned to {n + shift} (head_size {head_size})",
        score(q, k, cos, sin, m + shift, n + shift),
        score(q, k, cos, sin, m, n),
        atol=ATOL,
        rtol=ATOL,
        why=f"the same as q at {m} . k at {n}: turning both by the same angle keeps the angle "
        "between them",
    )


def test_an_odd_head_size_is_refused():
    expect.value_error(
        "rope_frequencies(5, 8)", rope.rope_frequencies, 5, 8, mentions=("head_size", "5")
    )
    cos, sin = rope.rope_frequencies(4, 8)
    call = "apply_rope(x of shape (3, 5), cos, sin, positions)"
    x, positions = torch.zeros(3, 5), torch.arange(3)
    expect.value_error(call, rope.apply_rope, x, cos, sin, positions, mentions=("(3, 5)",))


def test_positions_outside_the_table_are_refused():
    cos, sin = rope.rope_frequencies(4, 8)
    x, mentions = torch.zeros(2, 4), ("positions", "8", "0 .. 7")
    call = "apply_rope(x of shape (2, 4), cos of 8 rows, sin, positions [7, 8])"
    expect.value_error(call, rope.apply_rope, x, cos, sin, torch.tensor([7, 8]), mentions=mentions)
    call = "apply_rope(x of shape (2, 4), cos, sin, positions of shape (3,))"
    expect.value_error(call, rope.apply_rope, x, cos, sin, torch.arange(3), mentions=("positions",))


def test_the_sliding_mask_is_a_band_under_the_diagonal():
    positions = torch.arange(5)
    call = "sliding_mask(arange(5), arange(5), window=3)"
    why = "query m sees key n when 0 <= m - n < window: itself and the window - 1 before it"
    expect.equal(call, rope.sliding_mask(positions, positions, 3), BAND_OF_3, why)
    call = "sliding_mask(tensor([7]), tensor([3, 4, 5, 6, 7]), window=3)"
    got = rope.sliding_mask(torch.tensor([7]), torch.tensor([3, 4, 5, 6, 7]), 3)
    want = torch.tensor([[0, 0, 1, 1, 1]], dtype=torch.bool)
    expect.equal(call, got, want, "positions, not indices: a cache holds keys of later positions")


def test_rope_attention_has_fused_projections_and_no_position_table():
    attn = rope.RopeAttention(16, 2, 4)
    shapes = {name: tuple(w.shape) for name, w in attn.named_parameters()}
    expect.equal(
        "{name: shape} of RopeAttention(16, 2, 4)'s parameters",
        shapes,
        {"c_attn.weight": (48, 16), "c_proj.weight": (16, 16)},
        "queries, keys and values from one Linear, no biases, and nothing per position: "
        "positions enter by turning q and k",
    )


def test_the_heads_are_merged_back_in_place_before_c_proj():
    n_embd, n_head, T = 8, 2, 5
    attn = rope.RopeAttention(n_embd, n_head, window=1).eval()
    with torch.no_grad():  # values = x and c_proj = the identity: the output is y itself
        attn.c_attn.weight.zero_()
        attn.c_attn.weight[2 * n_embd :] = torch.eye(n_embd)
        attn.c_proj.weight.copy_(torch.eye(n_embd))
    x = vectors((1, T, n_embd), 0)
    with torch.no_grad():
        got = attn(x)
    expect.close(
        f"RopeAttention({n_embd}, {n_head}, window=1)(x) with the values and c_proj the identity",
        got,
        x,
        atol=ATOL,
        why="with a window of 1 each position sees itself only, so y holds each position's "
        "own value and the output is x again - unless the heads are merged out of place: "
        "y (B, n_head, T, head_size) must be transposed to (B, T, n_head, head_size) "
        "before .view(B, T, n_embd), or the view mixes positions and heads",
    )


@given(
    strategies.embd_and_heads(max_head_size=4).map(lambda e: (2 * e[0], e[1])),
    st.integers(1, 5),
    st.integers(1, 14),
    strategies.seeds,
)
def test_rope_attention_is_banded_attention_over_turned_queries_and_keys(sizes, window, T, seed):
    n_embd, n_head = sizes
    attn = attention(n_embd, n_head, window, seed)
    x = vectors((2, T, n_embd), seed)
    with torch.no_grad():
        expect.close(
            f"RopeAttention({n_embd}, {n_head}, window={window})(x of shape {(2, T, n_embd)})",
            attn(x),
            banded_attention_by_hand(attn, x, n_head, window),
            atol=SHIFT_ATOL,
            why="q and k turned to their positions (v not), scaled by head_size ** -0.5, "
            "position t sees t - window + 1 .. t, the heads merged back in place, then c_proj",
        )


@given(
    strategies.seeded_future_edits((2, 12, 8)),
    st.integers(1, 6),
    strategies.seeds,
)
def test_rope_attention_is_causal(edit, window, seed):
    expect.causal(
        f"RopeAttention(8, 2, window={window})(x)",
        attention(8, 2, window, seed),
        edit,
        atol=ATOL,
        why="the band lies under the diagonal: position t sees no later position",
    )


@given(
    st.integers(1, 5),
    st.integers(0, 30),
    st.integers(1, 10),
    st.sampled_from([1, 2, 4]),  # heads of head_size 8, 4 or 2
    strategies.seeds,
)
def test_rope_attention_is_the_same_wherever_the_window_stands(window, s, extra, n_head, seed):
    attn = attention(8, n_head, window, seed)
    T = s + window + extra
    x = vectors((2, T, 8), seed)
    with torch.no_grad():
        whole, shifted = attn(x), attn(x[:, s:])
    t = s + window - 1  # from here on, the window of t lies inside x[:, s:]
    expect.close(
        f"RopeAttention(8, {n_head}, window={window})(x[:, {s}:])[:, {t - s}:]",
        shifted[:, t - s :],
        whole[:, t:],
        atol=SHIFT_ATOL,
        why=f"x has T = {T} positions; from t = s + window - 1 = {t} on, the window of "
        f"position t (t - window + 1 .. t) lies inside x[:, {s}:], and the output at t depends "
        "only on the inputs in its window, wherever it stands (scores depend on distances): "
        f"equal to attn(x)[:, {t}:]",
    )


def test_the_rotation_table_is_made_once_and_grows_to_twice_its_rows():
    attn = attention(8, 2, 3, 0)
    with torch.no_grad():
        attn(vectors((1, 5, 8), 0))
        table = attn._cos
        attn(vectors((1, 5, 8), 1))
        expect.equal(
            "attn._cos after a second forward of 5 positions is the first one's table",
            attn._cos is table,
            True,
            "forward takes its table from self._rope_table(T, x.device), which keeps it: a "
            "step of generation must not recompute a table as long as the text",
        )
        got = attn(vectors((1, 6, 8), 2))
    call = "len(attn._cos) after forwards of 5, then 6 positions"
    why = "a longer text makes the table again with twice the rows (max(6, 2 * 5))"
    expect.equal(call, len(attn._cos), 10, why)
    fresh = attention(8, 2, 3, 0)
    with torch.no_grad():
        want = fresh(vectors((1, 6, 8), 2))
    call = "attn(x of 6 positions) after x of 5 positions, against a fresh attention"
    why = "the table grows to the longer text: position p is row p, whatever came before"
    expect.close(call, got, want, atol=ATOL, why=why)


def test_rope_attention_reads_any_length_and_forgets_what_left_the_window():
    attn = attention(8, 2, 3, 0)
    x = vectors((1, 40, 8), 0)
    edited = x.clone()
    edited[:, :30] += 5.0
    with torch.no_grad():
        got, want = attn(edited), attn(x)
    expect.tensor_like("RopeAttention(8, 2, 3)(x of shape (1, 40, 8))", got, (1, 40, 8), x.dtype)
    call = "RopeAttention(8, 2, window=3)(x)[:, 32:] after changing x[:, :30]"
    why = "position 32 sees 30, 31, 32 only: what lies further back is out of its window"
    expect.close(call, got[:, 32:], want[:, 32:], atol=ATOL, why=why)


def test_there_is_no_dropout_unless_asked_for():
    attn = attention(16, 2, 4, 0).train()
    x = vectors((2, 8, 16), 0)
    with torch.no_grad():
        call = "RopeAttention(16, 2, 4) in training mode: attn(x) against attn.eval()(x)"
        why = "dropout defaults to 0.0: nothing is dropped, even while training"
        expect.equal(call, attn(x), attn.eval()(x), why)


@pytest.mark.parametrize("T", [3, 8])
def test_dropout_reaches_the_attention_weights_whatever_the_length(T):
    torch.default_generator.manual_seed(0)
    attn = rope.RopeAttention(16, 2, 4, dropout=0.5)
    x = vectors((2, T, 16), 0)
    with torch.no_grad():
        first = attn.eval()(x)
        trained = attn.train()(x)
    kept = trained != 0  # what resid_dropout kept it scaled by 1 / (1 - 0.5) = 2
    expect.equal(
        f"attn.train()(x of {T} positions) where resid_dropout kept it, against 2 * attn.eval()(x)",
        bool((trained[kept] - 2 * first[kept]).abs().max() > 1e-3),
        True,
        f"dropout_p=self.dropout goes to scaled_dot_product_attention while training, in both "
        f"branches (T = {T} {'<=' if T <= 4 else '>'} window 4): resid_dropout alone would only "
        f"zero or double each output",
    )


def test_dropout_acts_on_the_attention_weights_only_while_training():
    torch.default_generator.manual_seed(0)
    attn = rope.RopeAttention(16, 2, 4, dropout=0.5)
    x = vectors((2, 8, 16), 0)
    with torch.no_grad():
        first = attn.eval()(x)
        expect.equal("attn.eval(): attn(x) twice", attn(x), first, "no dropout in eval mode")
        call = "attn.train(): attn(x) differs from eval mode's"
        why = "pass dropout_p=self.dropout to scaled_dot_product_attention while training"
        expect.equal(call, bool((attn.train()(x) - first).abs().max() > 1e-3), True, why)


@pytest.mark.bad_input
def test_bad_attention_sizes_are_refused():
    expect.value_error(
        "RopeAttention(10, 3, 4)", rope.RopeAttention, 10, 3, 4, mentions=("10", "3")
    )
    mentions = ("head_size", "= 3 must be even")
    expect.value_error("RopeAttention(6, 2, 4)", rope.RopeAttention, 6, 2, 4, mentions=mentions)
    expect.value_error("RopeAttention(8, 2, 0)", rope.RopeAttention, 8, 2, 0, mentions=("window",))


@pytest.mark.bad_input
def test_a_base_that_is_not_a_positive_finite_number_is_refused_naming_the_base():
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "10000"):
        call, mentions = f"rope_frequencies(4, 8, base={bad!r})", ("base", repr(bad))
        expect.value_error(call, rope.rope_frequencies, 4, 8, base=bad, mentions=mentions)


@pytest.mark.bad_input
def test_a_window_that_is_not_a_whole_number_of_at_least_one_is_refused_naming_the_window():
    positions = torch.arange(4)
    for bad in (0, -1, 2.5):
        call, mentions = f"sliding_mask(arange(4), arange(4), window={bad})", ("window", str(bad))
        expect.value_error(call, rope.sliding_mask, positions, positions, bad, mentions=mentions)


@pytest.mark.bad_input
def test_x_with_another_channel_count_is_refused_naming_n_embd():
    attn = rope.RopeAttention(8, 2, 4)
    for shape in ((1, 3, 6), (1, 3, 12), (3, 8)):
        call = f"RopeAttention(8, 2, 4)(x of shape {shape})"
        mentions = ("x must have shape", "n_embd=8", str(shape))
        expect.value_error(call, attn, torch.zeros(shape), mentions=mentions)
        call = f"RopeAttention(8, 2, 4).split_heads(t of shape {shape})"
        mentions = ("t must have shape", "n_embd=8", str(shape))
        expect.value_error(call, attn.split_heads, torch.zeros(shape), mentions=mentions)


@pytest.mark.bad_input
def test_max_positions_below_one_is_refused_naming_it():
    expect.value_error(
        "rope_frequencies(4, 0)", rope.rope_frequencies, 4, 0, mentions=("max_positions", "0")
    )


@pytest.mark.bad_input
def test_cos_and_sin_that_do_not_fit_the_head_size_are_refused():
    cos, sin = rope.rope_frequencies(4, 8)
    wide = torch.zeros(8, 3)
    for name, c, s, shown in (
        ("cos and sin of 3 columns", wide, wide, "(8, 3) and (8, 3)"),
        ("sin of 7 rows", cos, sin[:7], "(8, 2) and (7, 2)"),
        ("cos of one dimension", cos[:, 0], sin, "(8,) and (8, 2)"),
    ):
        call = f"apply_rope(x of shape (2, 4), {name}, positions)"
        mentions = ("(max_positions, 2)", "head_size 4,", shown)
        x, positions = torch.zeros(2, 4), torch.arange(2)
        expect.value_error(call, rope.apply_rope, x, c, s, positions, mentions=mentions)

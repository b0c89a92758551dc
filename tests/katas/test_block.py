"""Kata 8 - block: LayerNorm from scratch, and the pre-norm residual block.

Tolerances: LayerNorm is compared with torch.nn.LayerNorm, which computes the same
formula with a different float32 algorithm. For inputs x = offset + scale * z with
|offset| up to 100 times the scale, subtracting the mean loses about two of
float32's seven digits, and gradients add up such errors over up to 64 positions:
the two differ by up to 1.6e-4 (measured over 3,000 random cases). LN_ATOL = 5e-4
accepts that, while the unbiased variance (C - 1) is off by 1e-2 or more and fails.
Gradients are taken with respect to the standard-normal z, so they are of size
about 1 at any scale. The block is compared with its own sub-layers applied by hand:
rounding only, ATOL.
"""

import pytest
import torch
import torch.nn as nn
from hypothesis import given

from gptkata.kata.select import Lazy, dependency, implementation
from tests import expect, strategies

block = Lazy(implementation, "block")
multihead = Lazy(dependency, "multihead")
LN_ATOL = 5e-4
ATOL = 1e-5
BLOCK_SIZE = 8


# Seeds the CPU generator that initialises layers: torch.manual_seed would also queue
# seeds for every accelerator, which costs milliseconds per call inside a test.
def make_block(n_embd, n_head, dropout=0.0, seed=0):
    torch.default_generator.manual_seed(seed)
    return block.Block(n_embd, n_head, BLOCK_SIZE, dropout)


def test_layer_norm_starts_as_a_plain_normalisation():
    ln = block.LayerNorm(5)
    for name, value in (("weight", torch.ones(5)), ("bias", torch.zeros(5))):
        parameter = getattr(ln, name, None)
        expect.equal(
            f"type(LayerNorm(5).{name})",
            type(parameter),
            nn.Parameter,
            "an nn.Parameter, so the optimizer learns it",
        )
        expect.equal(f"LayerNorm(5).{name}", parameter.data, value, "scale 1 and shift 0")
    expect.equal(
        "number of parameters of LayerNorm(5)", sum(p.numel() for p in ln.parameters()), 10
    )


# C >= 4: with one or two channels the normalised vector is all zeros or +-1, and
# its gradient is rounding noise.
@given(
    strategies.float_tensors(strategies.feature_shapes(min_c=4)),
    strategies.offsets,
    strategies.scales,
    strategies.seeds,
)
def test_layer_norm_equals_torch_layer_norm_in_values_and_gradients(z, offset, scale, seed):
    C = z.shape[-1]
    generator = torch.Generator().manual_seed(seed)
    weight, bias = torch.randn(C, generator=generator), torch.randn(C, generator=generator)
    upstream = torch.randn(z.shape, generator=generator)  # the gradient arriving from above
    ours, reference = block.LayerNorm(C), nn.LayerNorm(C)
    results = []
    for ln in (ours, reference):
        with torch.no_grad():
            ln.weight.copy_(weight)
            ln.bias.copy_(bias)
        z_ = z.clone().requires_grad_()
        out = ln(offset + scale * z_)
        (out * upstream).sum().backward()
        results.append((out.detach(), z_.grad, ln.weight.grad, ln.bias.grad))
    call = f"LayerNorm({C})(x = {offset:.3g} + {scale:.3g} * z, z of shape {tuple(z.shape)})"
    why = "mean and biased variance over the last dimension, eps inside the square root"
    for name, got, expected in zip(
        ("", ": gradient of z", ": gradient of weight", ": gradient of bias"),
        *results,
        strict=True,
    ):
        expect.close(call + name, got, expected, atol=LN_ATOL, why=why)


def test_layer_norm_takes_a_single_vector_and_an_eps_of_zero():
    x = torch.tensor([1.0, 2.0, 3.0, 6.0])
    ln = expect.returns(
        "LayerNorm(4, eps=0.0)",
        block.LayerNorm,
        4,
        eps=0.0,
        why="eps may be 0: only a negative, NaN or infinite eps is refused",
    )
    expect.close(
        "LayerNorm(4, eps=0.0)(tensor([1., 2., 3., 6.]))",
        expect.returns(
            "LayerNorm(4, eps=0.0)(x of shape (4,))",
            ln,
            x,
            why="(..., dim) includes a single vector: (dim,) -> (dim,)",
        ),
        torch.nn.functional.layer_norm(x, (4,), eps=0.0),
        atol=1e-6,
        why="one vector is normalised like every row of a batch",
    )


def test_layer_norm_puts_eps_inside_the_square_root():
    # Variance 1e-6 is ten times smaller than eps: here sqrt(var + eps) and
    # sqrt(var) + eps differ by a factor of three.
    x = 5.0 + 1e-3 * torch.randn(2, 3, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, expected = block.LayerNorm(16)(x), nn.LayerNorm(16)(x)
    expect.close(
        "LayerNorm(16)(x) for x of variance 1e-6",
        got,
        expected,
        atol=LN_ATOL,
        why="divide by torch.sqrt(var + eps), as torch.nn.LayerNorm does",
    )


def test_a_block_holds_attention_feed_forward_and_two_layer_norms():
    b = make_block(8, 2)
    for name, kind in (
        ("sa", multihead.MultiHeadAttention),
        ("ffwd", multihead.FeedForward),
        ("ln1", block.LayerNorm),
        ("ln2", block.LayerNorm),
    ):
        expect.equal(f"type(block.{name})", type(getattr(b, name, None)), kind)
    expect.equal("len(block.sa.heads)", len(b.sa.heads), 2, "n_head heads")


def test_a_block_hands_its_dropout_on_and_drops_nothing_unless_asked():
    blk = make_block(8, 2, dropout=0.5)
    expect.equal(
        "(blk.sa.dropout.p, blk.ffwd.net[-1].p) of Block(8, 2, ..., dropout=0.5)",
        (blk.sa.dropout.p, blk.ffwd.net[-1].p),
        (0.5, 0.5),
        "MultiHeadAttention(n_embd, n_head, block_size, dropout) and FeedForward(n_embd, "
        "dropout): both sub-layers get the block's dropout",
    )
    torch.default_generator.manual_seed(0)
    quiet = block.Block(8, 2, BLOCK_SIZE)
    x = torch.randn(2, BLOCK_SIZE, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expect.equal(
            "Block(8, 2, BLOCK_SIZE) in training mode: blk(x) against blk.eval()(x)",
            quiet.train()(x),
            quiet.eval()(x),
            "dropout defaults to 0.0: nothing is dropped, even while training",
        )


@given(strategies.embd_and_heads(max_head=3, max_head_size=4))
def test_a_block_has_12n_squared_plus_10n_parameters(sizes):
    n, n_head = sizes
    expect.equal(
        f"number of parameters of Block({n}, {n_head}, ...)",
        sum(p.numel() for p in make_block(n, n_head).parameters()),
        12 * n * n + 10 * n,
        "attention 4n^2 + n, feed-forward 8n^2 + 5n, two LayerNorms 2n each",
    )


def shaped_inputs(n_embd=8):
    """(B, T, n_embd) float inputs with T up to BLOCK_SIZE."""
    return strategies.float_tensors(strategies.btc_shapes_of_width(n_embd, max_t=BLOCK_SIZE))


@given(shaped_inputs(), strategies.seeds)
def test_a_block_is_pre_norm_attention_then_feed_forward_each_added_to_its_input(x, seed):
    b = make_block(8, 2, seed=seed)
    with torch.no_grad():
        got = b(x)
        h = x + b.sa(b.ln1(x))
        expected = h + b.ffwd(b.ln2(h))
    expect.close(
        f"Block(8, 2, ...)(x of shape {tuple(x.shape)})",
        got,
        expected,
        atol=ATOL,
        why="x = x + sa(ln1(x)), then x = x + ffwd(ln2(x)): normalise the input of each "
        "sub-layer, not the residual path; 1e-5 allows float32 rounding only",
    )


def test_a_block_with_all_weights_zero_is_the_identity():
    b = make_block(8, 2)
    with torch.no_grad():
        for parameter in b.parameters():
            parameter.zero_()
        x = torch.randn(2, BLOCK_SIZE, 8, generator=torch.Generator().manual_seed(0))
        out = b(x)
    expect.equal(
        "Block(8, 2, ...)(x) with every parameter set to 0",
        out,
        x,
        "each sub-layer then adds exactly 0, and the residual path carries x through unchanged",
    )


@given(strategies.future_edits(shaped_inputs()), strategies.seeds)
def test_no_output_of_a_block_depends_on_a_later_position(edit, seed):
    expect.causal(
        "block(x)",
        make_block(8, 2, seed=seed),
        edit,
        atol=ATOL,
        why="attention is causal, and LayerNorm and the feed-forward layer work on each "
        "position alone",
    )


@pytest.mark.bad_input
def test_x_with_another_channel_count_is_a_value_error():
    expect.value_error(
        "Block(8, 2, ...)(x of shape (2, 3, 6))",
        make_block(8, 2),
        torch.zeros(2, 3, 6),
        mentions=("x", "n_embd=8", "(2, 3, 6)"),
    )
    expect.value_error(
        "LayerNorm(8)(x of shape (2, 6))",
        block.LayerNorm(8),
        torch.zeros(2, 6),
        mentions=("x", "dim=8", "(2, 6)"),
    )


@pytest.mark.bad_input
def test_an_eps_that_is_not_a_finite_number_of_0_or_more_is_refused_naming_eps():
    for bad in (-1e-5, float("nan"), float("inf"), True, "1e-5"):
        expect.value_error(
            f"LayerNorm(8, eps={bad!r})", block.LayerNorm, 8, eps=bad, mentions=("eps", repr(bad))
        )

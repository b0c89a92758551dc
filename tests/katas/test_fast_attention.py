"""Kata 10 - fast attention: multi-head attention's function in a few large operations.

Tolerance: with the same weights, CausalSelfAttention and MultiHeadAttention add the
same float32 products in different groupings (one (3C, C) matmul instead of 3 *
n_head small ones, a fused softmax), so they agree only up to rounding: at most
2.4e-7 on outputs of size ~1 over 300 random sizes, about 1e-7 on the GPT's logits.
ATOL = 1e-5 leaves forty times that, while real mistakes measured on the same sizes
(keys and queries swapped, queries scaled twice, heads stacked in reverse order)
change outputs by 1e-3 at the very least and typically by 0.1 to 1.
"""

import pytest
import torch
import torch.nn as nn
from hypothesis import given

from gptkata.kata.select import Lazy, dependency, implementation
from tests import expect, strategies

fast_attention = Lazy(implementation, "fast_attention")
multihead = Lazy(dependency, "multihead")
gpt = Lazy(dependency, "gpt")

ATOL = 1e-5
TINY = dict(vocab_size=11, block_size=8, n_embd=16, n_head=4, n_layer=2)


def test_one_fused_projection_in_and_one_out():
    attn = fast_attention.CausalSelfAttention(32, 4, 16)
    expect.equal("type(attn.c_attn)", type(attn.c_attn), nn.Linear)
    expect.tensor_like(
        "attn.c_attn.weight",
        attn.c_attn.weight,
        (96, 32),
        torch.float32,
        "queries, keys and values of all heads: 3 * n_embd outputs (a weight is (out, in))",
    )
    expect.equal(
        "attn.c_attn.bias",
        attn.c_attn.bias,
        None,
        "bias=False, as the attention kata's key/query/value layers",
    )
    expect.tensor_like("attn.c_proj.weight", attn.c_proj.weight, (32, 32), torch.float32)
    expect.tensor_like(
        "attn.c_proj.bias", attn.c_proj.bias, (32,), torch.float32, "c_proj is MHA's proj"
    )


@given(strategies.attention_sizes(), strategies.seeds)
def test_with_mapped_weights_it_computes_what_multihead_attention_computes(sizes, seed):
    n_embd, n_head, block_size, B, T = sizes
    torch.manual_seed(seed)
    mha = multihead.MultiHeadAttention(n_embd, n_head, block_size).eval()
    attn = fast_attention.from_multihead(mha)
    call = f"from_multihead(MultiHeadAttention({n_embd}, {n_head}, {block_size}))"
    expect.equal(
        f"isinstance({call}, CausalSelfAttention)",
        isinstance(attn, fast_attention.CausalSelfAttention),
        True,
    )
    x = torch.randn(B, T, n_embd)
    with torch.no_grad():
        expect.close(
            f"{call}(x of shape {(B, T, n_embd)})",
            attn(x),
            mha(x),
            atol=ATOL,
            why="head h's query weight is rows h*hs..(h+1)*hs of c_attn's query third; "
            "then keys, then values; c_proj is proj",
        )


@given(strategies.attention_sizes(), strategies.seeds)
def test_the_future_never_changes_the_past(sizes, seed):
    n_embd, n_head, block_size, B, T = sizes
    torch.manual_seed(seed)
    attn = fast_attention.CausalSelfAttention(n_embd, n_head, block_size).eval()
    x = torch.randn(B, T, n_embd)
    t = T // 2
    changed = x.clone()
    changed[:, t + 1 :] += 10.0
    expect.causal(
        "attn(x)",
        attn,
        (x, t, changed),
        atol=ATOL,
        why="is_causal=True: position t attends to positions 0..t only",
    )


def test_dropout_acts_on_the_attention_weights_only_while_training():
    torch.manual_seed(0)
    attn = fast_attention.CausalSelfAttention(16, 2, 8, dropout=0.5)
    x = torch.randn(2, 8, 16)
    attn.eval()
    with torch.no_grad():
        first, second = attn(x), attn(x)
        expect.equal("attn.eval(): attn(x) twice", second, first, "no dropout in eval mode")
        attn.train()
        trained = attn(x)
    kept = trained != 0  # what resid_dropout kept it scaled by 1 / (1 - 0.5) = 2
    expect.equal(
        "attn.train()(x) where resid_dropout kept it, against 2 * attn.eval()(x)",
        bool((trained[kept] - 2 * first[kept]).abs().max() > 1e-3),
        True,
        "pass dropout_p=self.dropout to scaled_dot_product_attention while training: "
        "resid_dropout alone would only zero or double each output",
    )


def test_nothing_is_dropped_unless_asked_and_the_dropout_is_carried_over():
    torch.manual_seed(0)
    attn = fast_attention.CausalSelfAttention(16, 2, 8)
    x = torch.randn(2, 8, 16)
    with torch.no_grad():
        expect.equal(
            "CausalSelfAttention(16, 2, 8) in training mode: attn(x) against attn.eval()(x)",
            attn.train()(x),
            attn.eval()(x),
            "dropout defaults to 0.0: nothing is dropped, even while training",
        )
    mha = multihead.MultiHeadAttention(16, 2, 8, dropout=0.3)
    expect.equal(
        "from_multihead(MultiHeadAttention(16, 2, 8, dropout=0.3)).dropout",
        fast_attention.from_multihead(mha).dropout,
        0.3,
        "the sizes and the dropout come from mha: dropout = mha.dropout.p",
    )
    fused = fast_attention.FusedGPT(gpt.GPTConfig(**TINY, dropout=0.3))
    expect.equal(
        "[blk.sa.dropout for blk in FusedGPT(config with dropout=0.3).blocks]",
        [blk.sa.dropout for blk in fused.blocks],
        [0.3, 0.3],
        "each block's CausalSelfAttention(n_embd, n_head, block_size, dropout) from config",
    )


def test_a_fused_gpt_has_the_teaching_gpts_parameters():
    config = gpt.GPTConfig(**TINY)
    fused = fast_attention.FusedGPT(config)
    teaching = gpt.GPTLanguageModel(config)
    count = sum(w.numel() for w in fused.parameters())
    expect.equal(
        "number of parameters of FusedGPT(config)",
        count,
        sum(w.numel() for w in teaching.parameters()),
        "c_attn holds the heads' key/query/value weights, c_proj is proj: nothing more",
    )
    names = {n for n, _ in fused.named_parameters()}
    outside = {n for n, _ in teaching.named_parameters() if ".sa." not in n}
    expect.equal(
        "FusedGPT's parameter names outside attention",
        sorted(n for n in names if ".sa." not in n),
        sorted(outside),
        "reuse the teaching model: only each block's sa is replaced",
    )
    expect.equal(
        "FusedGPT's attention parameter names in block 0",
        sorted(n for n in names if n.startswith("blocks.0.sa.")),
        ["blocks.0.sa.c_attn.weight", "blocks.0.sa.c_proj.bias", "blocks.0.sa.c_proj.weight"],
    )
    expect.equal(
        "type(FusedGPT(config).blocks[0].sa)",
        type(fused.blocks[0].sa),
        fast_attention.CausalSelfAttention,
    )
    expect.equal(
        "type(FusedGPT(config).blocks[0].ln1)",
        type(fused.blocks[0].ln1),
        nn.LayerNorm,
        "torch's LayerNorm: the same computation in one kernel",
    )
    std = fused.blocks[0].sa.c_attn.weight.std().item()
    expect.equal(
        f"blocks[0].sa.c_attn.weight.std() = {std:.3f} is near 0.02",
        0.01 < std < 0.03,
        True,
        "initialise again after swapping attention in, so the new layers get N(0, 0.02) too",
    )


def test_from_gpt_gives_the_teaching_gpts_logits():
    torch.manual_seed(0)
    teaching = gpt.GPTLanguageModel(gpt.GPTConfig(**TINY, dropout=0.1)).eval()
    fused = fast_attention.from_gpt(teaching)
    expect.equal("from_gpt(model) keeps eval mode", fused.training, False)
    idx = torch.randint(11, (3, 8))
    targets = torch.randint(11, (3, 8))
    with torch.no_grad():
        logits, loss = fused(idx, targets)
        want_logits, want_loss = teaching(idx, targets)
    expect.close(
        "from_gpt(model)(idx)[0]",
        logits,
        want_logits,
        atol=ATOL,
        why="embeddings, LayerNorms, feed-forward and head copied; attention from_multihead",
    )
    expect.close("from_gpt(model)(idx, targets)[1]", loss, want_loss, atol=ATOL)


def test_every_parameter_of_a_fused_gpt_learns():
    torch.manual_seed(0)
    model = fast_attention.FusedGPT(gpt.GPTConfig(**TINY))
    data = torch.arange(9) % 11
    _, loss = model(data[:8].view(1, 8), data[1:9].view(1, 8))
    loss.backward()
    missing = [n for n, w in model.named_parameters() if w.grad is None or not w.grad.any()]
    expect.equal(
        "parameters without a gradient after loss.backward()",
        missing,
        [],
        "every layer must be on the path from the ids to the loss, so any trainer "
        "(the training kata's train, make train) trains all of them",
    )


@pytest.mark.bad_input
def test_bad_sizes_are_value_errors():
    expect.value_error(
        "CausalSelfAttention(10, 3, 8)",
        fast_attention.CausalSelfAttention,
        10,
        3,
        8,
        mentions=("10", "3"),
    )
    for n_embd, n_head in ((8, 0), (0, 1)):
        expect.value_error(
            f"CausalSelfAttention({n_embd}, {n_head}, 8)",
            fast_attention.CausalSelfAttention,
            n_embd,
            n_head,
            8,
            mentions=(f"n_embd={n_embd}", f"n_head={n_head}"),
        )
    attn = fast_attention.CausalSelfAttention(8, 2, 4)
    expect.value_error(
        "attn(x of length 5) with block_size 4",
        attn,
        torch.zeros(1, 5, 8),
        mentions=("5", "block_size"),
    )


@pytest.mark.bad_input
def test_x_with_another_channel_count_is_a_value_error():
    expect.value_error(
        "CausalSelfAttention(8, 2, 4)(x of shape (1, 3, 6))",
        fast_attention.CausalSelfAttention(8, 2, 4),
        torch.zeros(1, 3, 6),
        mentions=("x", "n_embd=8", "(1, 3, 6)"),
    )


@pytest.mark.bad_input
def test_a_fused_gpt_rejects_bad_ids_and_targets():
    torch.default_generator.manual_seed(0)
    model = fast_attention.FusedGPT(gpt.GPTConfig(**TINY, dropout=0.0))
    idx = torch.zeros((2, 3), dtype=torch.long)
    expect.value_error(
        "model(torch.tensor([[0, 11]])) with vocab_size 11",
        model,
        torch.tensor([[0, 11]]),
        mentions=("idx", "[0, 11)"),
    )
    for shape in ((3, 2), (6,)):
        expect.value_error(
            f"model(idx of (2, 3), targets of {shape})",
            model,
            idx,
            torch.zeros(shape, dtype=torch.long),
            mentions=("targets", str(shape)),
        )


@pytest.mark.bad_input
def test_split_heads_refuses_another_channel_count_naming_n_embd():
    attn = fast_attention.CausalSelfAttention(8, 2, 4)
    for shape in ((1, 3, 6), (1, 3, 9), (3, 8)):
        expect.value_error(
            f"CausalSelfAttention(8, 2, 4).split_heads(t of shape {shape})",
            attn.split_heads,
            torch.zeros(shape),
            mentions=("n_embd=8", str(shape)),
        )

"""Kata 16 - modern: RMSNorm, SwiGLU, a GPT without a position table, a sliding cache.

The models, ids and caches, what the tests compare with, and the tolerances (ATOL,
NORM_ATOL, each with its measurements) come from modern_models.py; the models for the
cache have weights of std 0.5 (see there).
"""

import math
from functools import partial

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies
from tests.katas.modern_models import (
    ATOL,
    NORM_ATOL,
    VOCAB,
    caches_for,
    generate_by_hand,
    id_takers,
    ids,
    in_pieces,
    model_for,
    modes_during,
    numbered_kv,
    parameter_count,
    parameter_shapes,
    rms_norms,
)

modern = Lazy(implementation, "modern")


def test_rms_norm_starts_as_a_plain_rescaling_without_a_bias():
    norm = modern.RMSNorm(5)
    call = "{name: shape} of RMSNorm(5)'s parameters"
    why = "a scale per channel and no bias: RMSNorm does not centre"
    expect.equal(call, parameter_shapes(norm), {"weight": (5,)}, why)
    expect.equal("RMSNorm(5).weight", norm.weight.detach(), torch.ones(5))
    expect.equal("RMSNorm(5).eps", norm.eps, 1e-6)
    why = "an eps of 0 is allowed (only a negative, NaN or infinite one is refused)"
    expect.returns("RMSNorm(5, eps=0)", modern.RMSNorm, 5, eps=0, why=why)
    call, why = "RMSNorm(5)(torch.ones(5)), one vector", "x is (..., dim): one vector is (dim,)"
    expect.equal(call, tuple(expect.returns(call, norm, torch.ones(5), why=why).shape), (5,))


@given(
    strategies.float_tensors(strategies.feature_shapes()),
    strategies.offsets,
    strategies.scales,
    strategies.seeds,
)
def test_rms_norm_equals_torch_rms_norm_in_values_and_gradients(z, offset, scale, seed):
    x = offset + scale * z
    dim = x.shape[-1]
    mine, theirs = rms_norms(dim, seed)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    got, want = mine(a), theirs(b)
    expect.close(
        f"RMSNorm({dim})(x), x = offset + scale * z of shape {tuple(x.shape)}, weight "
        f"drawn from seed",
        got.detach(),
        want.detach(),
        atol=NORM_ATOL,
        why="x / sqrt(mean(x^2, last dim) + eps) * weight: no mean subtracted",
    )
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1))
    got.backward(grad)
    want.backward(grad)
    for name, mine_grad, their_grad in (
        ("x", a.grad, b.grad),
        ("weight", mine.weight.grad, theirs.weight.grad),
    ):
        call = f"the gradient of {name} after backward"
        expect.close(call, mine_grad, their_grad, atol=NORM_ATOL * 10, rtol=1e-4)


@given(st.integers(1, 12), st.integers(1, 20), strategies.seeds)
def test_swiglu_gates_up_by_silu_of_gate_then_goes_down(n_embd, hidden, seed):
    torch.default_generator.manual_seed(seed)
    layer = modern.SwiGLU(n_embd, hidden)
    expect.equal(
        f"{{name: shape}} of SwiGLU({n_embd}, {hidden})'s parameters",
        parameter_shapes(layer),
        {"gate.weight": (hidden, n_embd), "up.weight": (hidden, n_embd)}
        | {"down.weight": (n_embd, hidden)},
        "three bias-free Linear layers",
    )
    x = torch.randn(2, 3, n_embd, generator=torch.Generator().manual_seed(seed))
    g, u = x @ layer.gate.weight.T, x @ layer.up.weight.T
    with torch.no_grad():
        expect.close(
            f"SwiGLU({n_embd}, {hidden})(x)",
            layer(x),
            (g * torch.sigmoid(g) * u) @ layer.down.weight.T,
            atol=1e-5,
            why="down(silu(gate(x)) * up(x)), silu(z) = z * sigmoid(z)",
        )


def test_the_default_config_is_the_lectures_sizes_with_a_window_and_a_1024_wide_swiglu():
    config = modern.ModernConfig()
    sizes = dict(vocab_size=65, window=256, n_embd=384, n_head=6, n_layer=6, dropout=0.2)
    expect.equal("ModernConfig()", config, modern.ModernConfig(**sizes))
    why = "8 * n_embd // 3: three matrices as large as the two of a 4n ReLU feed-forward"
    expect.equal("hidden_size(384)", modern.hidden_size(config.n_embd), 1024, why)


@given(
    strategies.embd_and_heads(max_head_size=4).map(lambda e: (2 * e[0], e[1])),
    st.integers(2, 70),
    st.integers(0, 3),
    st.integers(1, 9),
)
def test_the_parameter_count_follows_from_the_config(sizes, vocab_size, n_layer, window):
    n_embd, n_head = sizes
    sizes = dict(vocab_size=vocab_size, n_embd=n_embd, n_head=n_head, n_layer=n_layer)
    model = modern.ModernGPT(modern.ModernConfig(window=window, **sizes))
    expect.equal(
        f"number of parameters of ModernGPT(ModernConfig(window={window}, {sizes}))",
        sum(w.numel() for w in model.parameters()),
        parameter_count(**sizes),
        "V*n embedding, per block 4n^2 attention + 3*n*(8n//3) SwiGLU + 2n RMSNorm, n for "
        "norm_f, n*V head: no biases, no position table, nothing that grows with the window",
    )


def test_every_weight_starts_small():
    w = model_for(0, std=None).blocks[0].ffwd.gate.weight
    call = f"blocks[0].ffwd.gate.weight: mean {w.mean():.3f} near 0, std {w.std():.3f} near 0.02"
    why = "self.apply(self._init_weights): GPT-2's Normal(0, 0.02)"
    expect.equal(call, bool(abs(w.mean()) < 0.01 and 0.01 < w.std() < 0.03), True, why)


def test_dropout_reaches_every_blocks_attention_and_feed_forward_and_a_block_has_none_by_default():
    why = "ModernBlock(n_embd, n_head, window, dropout) passes dropout to RopeAttention"
    for name, block, p in (
        ("ModernGPT(config with dropout 0.2).blocks[1]", model_for(0, dropout=0.2).blocks[1], 0.2),
        ("ModernBlock(8, 2, 3)", modern.ModernBlock(8, 2, 3), 0.0),
    ):
        got = (block.attn.dropout, block.dropout.p)
        expect.equal(f"({name}.attn.dropout, {name}.dropout.p)", got, (p, p), why)


@given(st.integers(1, 3), st.integers(1, 20), strategies.seeds)
def test_forward_reads_any_length_and_gives_the_cross_entropy_loss(B, T, seed):
    model = model_for(seed)
    idx, targets = ids(B, T, seed), ids(B, T, seed + 1)
    with torch.no_grad():
        logits, loss = model(idx, targets)
        call = f"model(idx of shape {(B, T)}, targets)[0] with window 3"
        why = "no position table, so no block_size: any T"
        expect.tensor_like(call, logits, (B, T, VOCAB), torch.float32, why)
        expect.close(
            "model(idx, targets)[1]",
            loss,
            F.cross_entropy(logits.reshape(B * T, VOCAB), targets.reshape(B * T)),
            atol=1e-5,
            why="the cross-entropy over (B*T, vocab_size), as in the gpt kata",
        )
        expect.equal("model(idx)[1]", model(idx)[1], None, "no targets, no loss")
    names = [name for name, _ in model.named_parameters() if "position" in name]
    expect.equal("parameters with 'position' in their name", names, [], "RoPE is not learned")


@given(strategies.future_edits(strategies.id_batches(VOCAB, max_t=12), VOCAB), strategies.seeds)
def test_no_logit_depends_on_a_later_token(edit, seed):
    model = model_for(seed)
    why = "every layer's window ends at its own position"
    expect.causal("model(idx)[0]", lambda idx: model(idx)[0], edit, ATOL, why, argument="idx")


def test_generate_runs_the_whole_sequence_every_step_and_never_crops():
    model = model_for(1, window=2, n_layer=3)
    prompt = ids(2, 9, 1)
    expect.equal(
        "model.generate(prompt of shape (2, 9), 6) with window 2, 3 layers",
        model.generate(prompt, 6, generator=torch.Generator().manual_seed(7)),
        generate_by_hand(model, prompt, 6, torch.Generator().manual_seed(7)),
        "each step: softmax of model(idx)[0][:, -1] on the whole idx, one multinomial draw; "
        "three layers of window 2 look 4 positions back, so cropping to the window changes it",
    )


def test_the_rolling_cache_puts_position_p_in_slot_p_mod_window():
    cache = modern.RollingKVCache(3)
    expect.equal("len(RollingKVCache(3))", len(cache), 0, "nothing seen yet")
    held = (cache.k, cache.v, cache.positions)
    expect.equal("(cache.k, cache.v, cache.positions) of a new cache", held, (None,) * 3)
    keys, values, positions = cache.update(*numbered_kv(0, 2))
    expect.equal("cache.update(keys of positions 0, 1)[2]", positions, torch.tensor([0, 1]))
    why = "slot 2 is still empty: -1, the position no key has"
    expect.equal(
        "cache.positions after positions 0, 1", cache.positions, torch.tensor([0, 1, -1]), why
    )
    expect.equal("len(cache) after 2 positions", len(cache), 2)
    keys, values, positions = cache.update(*numbered_kv(2, 3))
    expect.equal(
        "cache.update(keys of positions 2, 3, 4)[2], after 0, 1",
        positions,
        torch.tensor([0, 1, 2, 3, 4]),
        "what the new queries attend over: the cached slots, then the new positions",
    )
    expect.equal("its keys", keys.flatten(), torch.arange(5, dtype=torch.float32))
    expect.equal("its values", values.flatten(), -torch.arange(5, dtype=torch.float32))
    call = "cache.positions after positions 0 .. 4 with window 3"
    why = "position p goes into slot p % 3: 3 overwrote 0, 4 overwrote 1"
    expect.equal(call, cache.positions, torch.tensor([3, 4, 2]), why)
    expect.equal("cache.k after positions 0 .. 4", cache.k.flatten(), torch.tensor([3.0, 4, 2]))
    expect.equal("len(cache) after 5 positions, window 3", len(cache), 3, "never more")
    expect.equal("cache.seen after 5 positions", cache.seen, 5)


def test_a_new_id_past_the_window_sits_at_position_cache_seen_not_len_cache():
    model = model_for(0, window=2, n_layer=1)
    attn = model.blocks[0].attn
    x = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(0))
    cache = modern.RollingKVCache(2)
    with torch.no_grad():
        modern.attend_sliding(attn, x[:, :4], cache)  # positions 0 .. 3: seen 4, holds 2
        got = modern.attend_sliding(attn, x[:, 4:], cache)
        want = attn(x)[:, 4:]
    call = "attend_sliding(attn, x[:, 4:5], cache) after x[:, :4] went through, window 2"
    expect.close(
        call,
        got,
        want,
        atol=ATOL,
        why="past the window the cache holds 2 slots but has seen 4 positions: the new id "
        "is position cache.seen = 4 (turned by its angles, seeing positions 3 and 4), not "
        "len(cache) = 2, which stops growing once the window is full",
    )


@given(st.integers(1, 2), st.integers(1, 4), st.integers(1, 3), st.data(), strategies.seeds)
def test_ids_fed_in_pieces_give_the_logits_of_feeding_them_at_once(B, window, n_layer, data, seed):
    model = model_for(seed, window=window, n_layer=n_layer)
    T = data.draw(st.integers(1, 16))
    idx = ids(B, T, seed)
    cuts = sorted(data.draw(st.sets(st.integers(1, T - 1), max_size=4)) if T > 1 else [])
    with torch.no_grad():
        want = model(idx)[0]
    expect.close(
        f"forward_sliding on idx[:, a:b] for the pieces {[0, *cuts, T]}, concatenated "
        f"(window {window}, {n_layer} layers)",
        in_pieces(model, idx, cuts),
        want,
        atol=ATOL,
        why="each layer's cache holds the keys and values made from that layer's inputs at "
        "the last window positions: the very ones the full forward sees",
    )


@given(st.integers(1, 4), st.integers(1, 4), strategies.seeds)
def test_every_step_has_the_full_forward_logits_far_past_the_window(window, n_layer, seed):
    model = model_for(seed, window=window, n_layer=n_layer)
    idx = ids(1, 4 * window + 3, seed)
    caches = caches_for(model)
    with torch.no_grad():
        for L in range(1, idx.shape[1] + 1):
            expect.close(
                f"forward_sliding(model, id {L - 1} alone, caches)[:, -1] after {L - 1} ids "
                f"(window {window}, {n_layer} layers)",
                modern.forward_sliding(model, idx[:, L - 1 : L], caches)[:, -1],
                model(idx[:, :L])[0][:, -1],
                atol=ATOL,
                why="the new id sits at position cache.seen, not at its slot, and sees the "
                "window's cached keys only",
            )
            call = f"len(caches[0]) after {L} ids, window {window}"
            why = "a rolling buffer of window positions: the cost of a step stays the same"
            expect.equal(call, len(caches[0]), min(L, window), why)


@given(
    st.integers(1, 3), st.integers(1, 12), st.integers(0, 14), st.integers(1, 3), strategies.seeds
)
def test_generate_sliding_gives_the_ids_of_generate_under_the_same_seed(B, T, n, n_layer, seed):
    model = model_for(seed, window=3, n_layer=n_layer)
    prompt = ids(B, T, seed)
    want = model.generate(prompt, n, generator=torch.Generator().manual_seed(seed))
    got = modern.generate_sliding(model, prompt, n, generator=torch.Generator().manual_seed(seed))
    call = f"generate_sliding(model, prompt of shape {(B, T)}, {n}), window 3, {n_layer} layers"
    why = "the same logits give the same probabilities, and the same generator the same draws"
    expect.equal(call, got, want, why)


def test_generate_sliding_runs_in_eval_mode_and_restores_the_mode():
    model = model_for(0, dropout=0.5).train()
    prompt = ids(2, 4, 0)
    generator = torch.Generator().manual_seed(1)
    got, modes = modes_during(model, lambda: modern.generate_sliding(model, prompt, 8, generator))
    call = "generate_sliding(model in training mode, prompt of shape (2, 4), 8)"
    why = "generation is inference: model.eval() before the first forward, so no dropout"
    ran = f"some module of the model ran in training mode during {call}"
    expect.equal(ran, any(modes), False, why)
    expect.equal("model.training after generate_sliding", model.training, True)
    want = model.eval().generate(prompt, 8, generator=torch.Generator().manual_seed(1))
    expect.equal(
        f"{call} against model.eval().generate(prompt, 8), the same seed",
        got,
        want,
        "the model ran in eval mode (checked above), so the ids differ for another reason: each new "
        "id must sit at its position cache.seen, cache.seen + 1, ... and be drawn from the "
        "last logits with the generator, as generate draws it",
    )


def test_bad_prompts_counts_and_caches_are_refused():
    model = model_for(0)
    prompt = ids(1, 2, 0)
    sliding = partial(modern.generate_sliding, model)
    for name, call in (("generate_sliding", sliding), ("generate", model.generate)):
        expect.value_error(f"{name}(..., prompt, -1)", call, prompt, -1, mentions=("-1",))
        expect.value_error(
            f"{name}(..., prompt.float(), 3)", call, prompt.float(), 3, mentions=("float32",)
        )
        mentions = ("max_new_tokens must", "whole number", "2.5")
        text = f"{name}(..., prompt, max_new_tokens=2.5)"
        expect.value_error(text, call, prompt, max_new_tokens=2.5, mentions=mentions)
    take, one_cache = partial(modern.forward_sliding, model), [modern.RollingKVCache(3)]
    call = "forward_sliding(model, idx, one cache for 2 blocks)"
    expect.value_error(call, take, prompt, one_cache, mentions=("1", "2"))
    expect.value_error("model(ids[0])", model, prompt[0], mentions=("(2,)",))
    expect.value_error("model([[0, 1]]), a list", model, [[0, 1]], mentions=("idx must", "list"))
    expect.value_error(
        "model(ids of shape (1, 0))", model, prompt[:, :0], mentions=("idx is empty",)
    )
    call, mentions = "model(ids of (1, 2), targets of (2, 1))", ("targets must", "(1, 2)", "(2, 1)")
    expect.value_error(call, model, prompt, prompt.view(2, 1), mentions=mentions)


def test_the_loss_of_an_untrained_model_is_near_ln_vocab_size():
    model = model_for(0, std=None)
    with torch.no_grad():
        _, loss = model(ids(4, 32, 0), ids(4, 32, 1))
    ln_vocab = math.log(VOCAB)
    call = f"the untrained loss {loss.item():.3f} is within 0.1 of ln {VOCAB} = {ln_vocab:.3f}"
    why = "small initial weights make every logit small: nearly uniform guesses"
    expect.equal(call, abs(loss.item() - ln_vocab) < 0.1, True, why)


@pytest.mark.bad_input
def test_ids_outside_the_vocabulary_are_refused_naming_idx():
    model = model_for(0)
    mentions = ("idx holds", f"[0, {VOCAB})")
    for bad in (VOCAB, -1):
        for template, take in id_takers(model):
            call = f"{template.format(f'torch.tensor([[0, {bad}]])')} with vocab_size {VOCAB}"
            expect.value_error(call, take, torch.tensor([[0, bad]]), mentions=mentions)
    call = f"model(idx, torch.tensor([[0, {VOCAB}]])), targets outside the vocabulary"
    idx, targets = torch.tensor([[0, 1]]), torch.tensor([[0, VOCAB]])
    expect.value_error(call, model, idx, targets, mentions=("targets holds", f"[0, {VOCAB})"))


@pytest.mark.bad_input
def test_rms_norm_refuses_a_bad_eps_and_x_with_another_channel_count_naming_them():
    for bad in (-1e-6, float("nan"), float("inf"), "1e-6"):
        call, mentions = f"RMSNorm(8, eps={bad!r})", ("eps must", str(bad))
        expect.value_error(call, modern.RMSNorm, 8, eps=bad, mentions=mentions)
    for shape in ((2, 6), (2, 3, 10)):
        call, mentions = f"RMSNorm(8)(x of shape {shape})", ("x", "dim=8", str(shape))
        expect.value_error(call, modern.RMSNorm(8), torch.zeros(shape), mentions=mentions)


@pytest.mark.bad_input
def test_a_size_or_window_that_is_not_a_whole_number_of_at_least_one_is_refused_naming_it():
    for bad, mentions in ((-3, ()), (0, ()), (2.5, ("whole number",))):
        mentions = ("n_embd must", *mentions, str(bad))
        expect.value_error(f"hidden_size({bad})", modern.hidden_size, bad, mentions=mentions)
        call, mentions = f"RollingKVCache({bad})", ("window must", str(bad))
        expect.value_error(call, modern.RollingKVCache, bad, mentions=mentions)


@pytest.mark.bad_input
def test_update_refuses_keys_and_values_of_different_shapes_naming_both():
    cache = modern.RollingKVCache(3)
    k, v = torch.zeros(1, 2, 1, 4), torch.zeros(1, 1, 1, 4)
    call = "RollingKVCache(3).update(k of (1, 2, 1, 4), v of (1, 1, 1, 4))"
    mentions = ("k and v", "(1, 2, 1, 4)", "(1, 1, 1, 4)")
    expect.value_error(call, cache.update, k, v, mentions=mentions)
    cache.update(k, k)
    k = torch.zeros(1, 2, 1, 6)
    call = "cache.update(k, v of (1, 2, 1, 6)) after keys of (1, 2, 1, 4)"
    expect.value_error(call, cache.update, k, k, mentions=("(1, 2, T, 4)", "(1, 2, 1, 6)"))


@pytest.mark.bad_input
def test_a_config_with_a_vocab_size_of_zero_or_a_dropout_of_one_is_refused():
    sizes = dict(vocab_size=VOCAB, window=3, n_embd=8, n_head=2, n_layer=1, dropout=0.0)
    bad = [("vocab_size", 0), ("window", 2.5), ("n_layer", -1)]
    for field, value in [*bad, ("dropout", 1.0), ("dropout", -0.1), ("dropout", "0.1")]:
        config = modern.ModernConfig(**{**sizes, field: value})
        call = f"ModernGPT(ModernConfig({field}={value!r}, ...))"
        expect.value_error(call, modern.ModernGPT, config, mentions=(field, str(value)))

"""Kata 14 - the loss and the optimiser by hand, against PyTorch's own.

The tolerances (CE_TOL, ADAM_TOL, CLIP_RTOL, each with its measurements) and the
small training runs compared step for step come from optim_cases.py.
"""

import math
from itertools import pairwise

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation
from tests import expect, strategies
from tests.katas.optim_cases import ADAM_TOL, CE_TOL, CLIP_RTOL, adamw_run, two_groups

optim = Lazy(implementation, "optim")


@given(strategies.logits_and_targets())
def test_cross_entropy_equals_torchs(problem):
    logits, targets = problem
    expect.close(
        f"cross_entropy(logits of shape {tuple(logits.shape)}, targets)",
        optim.cross_entropy(logits, targets),
        F.cross_entropy(logits, targets),
        atol=CE_TOL,
        rtol=CE_TOL,
        why="the mean over rows of log(sum(exp(logits))) - logits[target]",
    )


@given(strategies.logits_and_targets())
def test_cross_entropy_has_torchs_gradient(problem):
    logits, targets = problem
    mine = logits.clone().requires_grad_()
    optim.cross_entropy(mine, targets).backward()
    theirs = logits.clone().requires_grad_()
    F.cross_entropy(theirs, targets).backward()
    expect.close(
        f"the gradient of cross_entropy(logits of shape {tuple(logits.shape)}, targets)",
        mine.grad,
        theirs.grad,
        atol=CE_TOL,
        why="(softmax(logits) - one_hot(targets)) / N: written with tensor operations, "
        "autograd derives it",
    )


@given(strategies.logits_and_targets(scale=1e4))
def test_cross_entropy_is_finite_for_huge_logits(problem):
    logits, targets = problem
    loss = optim.cross_entropy(logits, targets)
    expect.equal(
        f"cross_entropy(logits of magnitude ~1e4, shape {tuple(logits.shape)}) is finite",
        bool(torch.isfinite(loss).all()),
        True,
        "exp(1e4) overflows float32: subtract each row's maximum before exp (log-sum-exp)",
    )
    expect.close(
        "cross_entropy(logits of magnitude ~1e4, targets)",
        loss,
        F.cross_entropy(logits, targets),
        atol=CE_TOL,
        rtol=CE_TOL,
        why="shifting a row by its maximum changes nothing but the overflow",
    )


@given(strategies.seeds, st.sampled_from([(0.9, 0.999), (0.9, 0.99), (0.8, 0.95)]))
def test_adamw_matches_torchs_step_for_step(seed, betas):
    mine = adamw_run(lambda w, b: optim.AdamW(two_groups(w, b, 3e-2), lr=1e-2, betas=betas), seed)
    theirs = adamw_run(
        lambda w, b: torch.optim.AdamW(two_groups(w, b, 3e-2), lr=1e-2, betas=betas), seed
    )
    for step, ((w, b), (w_ref, b_ref)) in enumerate(zip(mine, theirs, strict=True), start=1):
        for name, got, expected in (("w", w, w_ref), ("b", b, b_ref)):
            expect.close(
                f"{name} after step {step} of AdamW(two groups, lr=1e-2, betas={betas})",
                got,
                expected,
                atol=ADAM_TOL,
                why="decoupled decay p *= 1 - lr*wd, moving averages m and v, bias "
                "correction by 1 - beta**t, each group with its own lr and weight_decay",
            )


def test_adamw_defaults_are_torchs():
    p = torch.zeros(2, requires_grad=True)
    expect.equal(
        "AdamW([p]).defaults",
        optim.AdamW([p]).defaults,
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
        "the hyperparameters are the optimiser's defaults, copied into every group",
    )


def test_adamw_first_step_moves_every_weight_by_lr_against_its_gradient():
    p = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    p.grad = torch.tensor([1e-3, -50.0, 4.0])
    optim.AdamW([p], lr=0.1, weight_decay=0.0).step()
    expect.close(
        "p after one AdamW step, gradient [1e-3, -50, 4], lr=0.1",
        p.detach(),
        torch.tensor([0.9, -1.9, 2.9]),
        atol=1e-5,
        why="after bias correction m = g and v = g*g, so the step is lr * g / |g|: "
        "the same size for every weight, whatever its gradient's size",
    )


def test_adamw_weight_decay_is_decoupled_from_the_gradient():
    p = torch.tensor([2.0, -4.0], requires_grad=True)
    p.grad = torch.zeros(2)
    optim.AdamW([p], lr=0.1, weight_decay=0.5).step()
    expect.close(
        "p after one AdamW step with a zero gradient, lr=0.1, weight_decay=0.5",
        p.detach(),
        torch.tensor([1.9, -3.8]),
        atol=1e-6,
        why="the weights shrink by lr * weight_decay = 5%, even with no gradient at all",
    )


def test_adamw_skips_parameters_without_gradients_and_returns_the_closures_loss():
    p = torch.ones(3, requires_grad=True)
    q = torch.ones(3, requires_grad=True)
    opt = optim.AdamW([q, p])
    loss = opt.step(lambda: (p * 2).sum().backward() or torch.tensor(7.0))
    expect.equal("opt.step(closure)", loss, torch.tensor(7.0), "step returns what closure() does")
    expect.equal(
        "q, which has no gradient, after opt.step()",
        q.detach(),
        torch.ones(3),
        "a parameter without a gradient (p.grad is None) is left alone, decay included",
    )
    expect.close(
        "p, which comes after q in AdamW([q, p]), after opt.step()",
        p.detach(),
        torch.full((3,), 1.0 - 1e-3 * 0.01 - 1e-3),
        atol=1e-6,
        why="skipping q goes on with the next parameter (continue, not break): p decays "
        "and moves by lr against its gradient",
    )
    expect.equal(
        "opt.step() without a closure",
        opt.step(),
        None,
        "no closure, no loss: step returns None, as torch's optimisers do",
    )


def test_adamw_accepts_a_learning_rate_and_betas_of_zero():
    p = torch.tensor([1.0, -2.0], requires_grad=True)
    p.grad = torch.tensor([0.5, 0.5])
    opt = expect.returns(
        "AdamW([p], lr=0.0, betas=(0.0, 0.0))",
        optim.AdamW,
        [p],
        lr=0.0,
        betas=(0.0, 0.0),
        why="lr 0 (a frozen step) and betas of 0 (no averaging) are allowed: lr >= 0, "
        "0 <= beta < 1",
    )
    opt.step()
    expect.equal("p after a step with lr=0.0", p.detach(), torch.tensor([1.0, -2.0]))


def test_cosine_lr_warms_up_decays_and_stays():
    got = [round(optim.cosine_lr(s, 1.0, 0.1, 2, 6), 6) for s in range(8)]
    expected = [0.0, 0.5, 1.0, 0.868198, 0.55, 0.231802, 0.1, 0.1]
    expect.equal(
        "[cosine_lr(step, 1.0, 0.1, 2, 6) for step in range(8)]",
        got,
        expected,
        "0 to max_lr linearly over 2 steps, half a cosine down to min_lr at step 6, min_lr after",
    )
    expect.equal(
        "type(cosine_lr(3, 1.0, 0.1, 2, 6))", type(optim.cosine_lr(3, 1.0, 0.1, 2, 6)), float
    )


@given(strategies.schedules())
def test_cosine_lr_is_a_warm_up_then_never_increases_within_its_bounds(schedule):
    max_lr, min_lr, warmup, total = schedule
    lrs = [optim.cosine_lr(s, max_lr, min_lr, warmup, total) for s in range(total + 5)]
    call = f"cosine_lr(step, {max_lr!r}, {min_lr!r}, {warmup}, {total})"
    for s in range(warmup):
        expect.equal(
            f"{call} at step {s} is max_lr * {s}/{warmup}",
            math.isclose(lrs[s], max_lr * s / warmup, rel_tol=1e-9, abs_tol=1e-15),
            True,
            f"linear warm-up from 0; got {lrs[s]!r}",
        )
    decay = lrs[warmup:]
    expect.equal(
        f"{call} never increases from step {warmup} on",
        all(a >= b - 1e-12 for a, b in pairwise(decay)),
        True,
        f"the cosine only goes down; got {decay[:12]}...",
    )
    ends = [lrs[warmup] if warmup < total else max_lr, lrs[total], lrs[-1]]
    expect.equal(
        f"{call} at steps {warmup} (if < total) and {total}, {total + 4}: {ends}",
        all(
            math.isclose(a, b, rel_tol=1e-9)
            for a, b in zip(ends, [max_lr, min_lr, min_lr], strict=True)
        ),
        True,
        f"max_lr ({max_lr!r}) when the warm-up ends, min_lr ({min_lr!r}) from total_steps on",
    )


@given(strategies.gradient_sets(), st.floats(min_value=1e-2, max_value=1e3))
def test_clip_grad_norm_equals_torchs(grads, max_norm):
    mine = [torch.zeros_like(g, requires_grad=True) for g in grads]
    theirs = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, q, g in zip(mine, theirs, grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    norm = optim.clip_grad_norm(mine, max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm).item()
    call = f"clip_grad_norm({len(grads)} parameters, {max_norm!r})"
    expect.equal(f"type({call})", type(norm), float, "the norm as a Python number")
    expect.equal(
        f"{call} = {norm!r} against torch's {expected!r}",
        math.isclose(norm, expected, rel_tol=CLIP_RTOL),
        True,
        "the total norm: all gradients taken together as one vector, sqrt of the sum of "
        "every squared entry of every gradient (not a norm per parameter), before clipping",
    )
    for i, (p, q) in enumerate(zip(mine, theirs, strict=True)):
        expect.close(
            f"parameters[{i}].grad after {call}",
            p.grad,
            q.grad,
            atol=1e-6,
            rtol=CLIP_RTOL,
            why="every gradient scaled by max_norm / (norm + 1e-6) when the total norm (all "
            "gradients as one vector) is larger, else unchanged",
        )


def test_clip_grad_norm_skips_parameters_without_gradients():
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    p.grad = torch.tensor([3.0, 4.0])
    norm = optim.clip_grad_norm(iter([p, q]), 1.0)
    expect.equal(
        "clip_grad_norm(iter([p with grad [3, 4], q without]), 1.0)",
        round(norm, 5),
        5.0,
        "q.grad is None: it adds nothing; any iterable of parameters works (model.parameters())",
    )
    expect.close("p.grad", p.grad, torch.tensor([0.6, 0.8]), atol=1e-6, why="scaled to norm 1")


def test_clip_grad_norm_adds_1e_6_to_the_norm_before_dividing():
    p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    p.grad, q.grad = torch.tensor([2e-6]), torch.tensor([2e-6])
    optim.clip_grad_norm([p], 1e-6)
    torch.nn.utils.clip_grad_norm_([q], 1e-6)
    expect.close(
        "p.grad after clip_grad_norm([p with grad [2e-6]], 1e-6)",
        p.grad,
        q.grad,
        atol=0.0,
        rtol=CLIP_RTOL,
        why="scaled by max_norm / (norm + 1e-6) = 1e-6 / 3e-6, as torch's clip_grad_norm_: "
        "on a norm this small the 1e-6 is a third of the divisor",
    )
    expect.equal(
        "clip_grad_norm([a parameter without a gradient], 1.0)",
        optim.clip_grad_norm([torch.zeros(2, requires_grad=True)], 1.0),
        0.0,
        "no gradient at all is a norm of 0.0",
    )


def test_cosine_lr_with_min_lr_equal_to_max_lr_is_a_warm_up_then_constant():
    expect.equal(
        "[cosine_lr(step, 0.1, 0.1, 2, 6) for step in range(8)]",
        [round(optim.cosine_lr(s, 0.1, 0.1, 2, 6), 9) for s in range(8)],
        [0.0, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        "0 <= min_lr <= max_lr: min_lr may equal max_lr, and the decay is then flat",
    )


# -- bad input: given in the exercise, tested one by one ---------------------------


@pytest.mark.bad_input
def test_cross_entropy_of_mismatched_shapes_is_refused():
    call = "cross_entropy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))"
    logits, targets = torch.zeros(4, 3), torch.zeros(5, dtype=torch.long)
    mentions = ("targets", "(5,)", "(N,) = (4,)")
    expect.value_error(call, optim.cross_entropy, logits, targets, mentions=mentions)


@pytest.mark.bad_input
def test_cross_entropy_of_a_target_outside_the_vocabulary_is_refused():
    call = "cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))"
    logits, targets = torch.zeros(2, 3), torch.tensor([0, 3])
    mentions = ("targets[1]", "3", "0..2")
    expect.value_error(call, optim.cross_entropy, logits, targets, mentions=mentions)


@pytest.mark.bad_input
def test_adamw_with_a_negative_learning_rate_is_refused():
    p = torch.zeros(2, requires_grad=True)
    expect.value_error("AdamW([p], lr=-1.0)", optim.AdamW, [p], lr=-1.0, mentions=("lr", "-1.0"))


@pytest.mark.bad_input
def test_adamw_with_betas_outside_zero_to_one_is_refused():
    p = torch.zeros(2, requires_grad=True)
    expect.value_error(
        "AdamW([p], betas=(0.9, 1.0))", optim.AdamW, [p], betas=(0.9, 1.0), mentions=("betas",)
    )


@pytest.mark.bad_input
def test_cosine_lr_with_total_steps_below_warmup_is_refused():
    call, mentions = "cosine_lr(0, 1.0, 0.1, 10, 5)", ("total_steps", "warmup_steps")
    expect.value_error(call, optim.cosine_lr, 0, 1.0, 0.1, 10, 5, mentions=mentions)


@pytest.mark.bad_input
def test_cosine_lr_with_min_lr_above_max_lr_is_refused():
    call, mentions = "cosine_lr(0, 0.1, 1.0, 10, 50)", ("min_lr", "max_lr")
    expect.value_error(call, optim.cosine_lr, 0, 0.1, 1.0, 10, 50, mentions=mentions)


@pytest.mark.bad_input
def test_clip_grad_norm_with_a_max_norm_of_zero_is_refused():
    p = torch.zeros(2, requires_grad=True)
    expect.value_error(
        "clip_grad_norm([p], 0.0)", optim.clip_grad_norm, [p], 0.0, mentions=("max_norm",)
    )


@pytest.mark.bad_input
def test_cross_entropy_of_logits_that_are_not_a_float_matrix_is_refused():
    targets = torch.tensor([0, 1])
    for bad, shown in (
        ([[0.0, 1.0], [1.0, 0.0]], "list"),
        (torch.zeros(2), "(2,)"),
        (torch.zeros(2, 3, dtype=torch.long), "(2, 3)"),
    ):
        call = f"cross_entropy(logits: {shown}, targets)"
        mentions = ("logits", "float tensor of shape (N, V)", shown)
        expect.value_error(call, optim.cross_entropy, bad, targets, mentions=mentions)


@pytest.mark.bad_input
def test_cross_entropy_of_targets_that_are_not_long_ids_is_refused():
    for bad in ([0, 1], torch.tensor([0.0, 1.0])):
        call, mentions = f"cross_entropy(torch.zeros(2, 3), {bad!r})", ("targets", "long tensor")
        expect.value_error(call, optim.cross_entropy, torch.zeros(2, 3), bad, mentions=mentions)


@pytest.mark.bad_input
def test_cross_entropy_of_no_rows_is_refused():
    call = "cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))"
    logits, targets = torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)
    expect.value_error(call, optim.cross_entropy, logits, targets, mentions=("targets", "N >= 1"))


@pytest.mark.bad_input
def test_adamw_with_eps_or_weight_decay_out_of_range_is_refused():
    p = torch.zeros(2, requires_grad=True)
    for name, bad in (("eps", 0.0), ("weight_decay", -0.1)):
        call, mentions = f"AdamW([p], {name}={bad})", (name, str(bad))
        expect.value_error(call, optim.AdamW, [p], **{name: bad}, mentions=mentions)


@pytest.mark.bad_input
def test_cosine_lr_with_a_negative_step_or_warm_up_is_refused():
    for args, name in (((-1, 1.0, 0.1, 2, 6), "step"), ((0, 1.0, 0.1, -1, 6), "warmup_steps")):
        expect.value_error(
            f"cosine_lr{args}", optim.cosine_lr, *args, mentions=(f"{name} must", "-1")
        )

"""The machine and the lecture-size rows of `make bench`: which CPU ran the cases, and
training throughput at the lecture preset's sizes, where attention is most of a step.

At the `cpu` preset (block 64, 2 heads) attention is a small part of a training step:
the feed-forward layers, the embeddings, the head, the loss and AdamW are the same in
the teaching and the fused GPT, so fusing attention cannot make the step much
faster. At the lecture's sizes (block 256, 6 heads of 64, n_embd 384) every head of
every layer holds (T, T) = 65,536 scores per sequence, and attention is where the
teaching model spends its time. The fused GPT's speed-up over the teaching one there
is reported (`train_speedup_fused_lecture` in runs/bench.json) without a goal: the
matrix products both models must do bound it (docs/benchmarks.md), so the goal at
these sizes is the machine's own limit instead (benchmarks.bench_mfu).

The lecture trains with dropout 0.2, also on the attention weights. On a CPU,
PyTorch's flash kernel for `scaled_dot_product_attention` takes no dropout, so SDPA
falls back to its math kernel; the fused GPT then uses whichever of SDPA and the
lab's batched masked softmax was faster at these sizes (gptkata.lab.attention_paths),
and the report names the kernel and both timings. The batch is smaller than the
lecture's 64 (`--lecture-batch`, 8 by default) to keep the bench short; tokens per
second hardly depend on it at these sizes.
"""

from __future__ import annotations

from benchmarks.tables import describe_cpu, ratio, table
from gptkata.lab.presets import PRESETS

GOAL = 2.0  # the cpu preset's train_speedup_fused; the lecture's speed-up has none
TEACHING, FUSED = "train-lecture:teaching", "train-lecture:fused"


def summary(results: dict) -> dict:
    """The top-level figure of runs/bench.json (nothing if the cases did not run)."""
    if TEACHING not in results or FUSED not in results:
        return {}
    fused, teaching = results[FUSED]["tokens_per_s"], results[TEACHING]["tokens_per_s"]
    return {"train_speedup_fused_lecture": ratio(fused, teaching)}


def machine_lines(settings: dict) -> list[str]:
    """Which CPU, which features, which precision was asked for."""
    if "cpu" not in settings:
        return []
    return [
        f"CPU: {describe_cpu(settings['cpu'])}",
        f"Precision of the training cases: {settings.get('precision', 'fp32')} "
        "(auto: each case times a step in fp32 and in bf16 autocast and keeps the faster)",
    ]


def precision_lines(cases: dict, names: tuple[str, ...]) -> list[str]:
    """Each case's precision, where it was timed: the timings and why."""
    return [
        f"  {'fused' if name.endswith('fused') else 'teaching'} GPT: precision "
        f"{cases[name]['precision']} ({cases[name]['precision_why']})"
        for name in names
        if cases[name].get("precision_timings_ms")
    ]


def kernel_lines(case: dict) -> list[str]:
    """The fused case's kernel and, where the kernels were timed, both timings."""
    timings = case.get("attention_timings_ms")
    line = f"  fused attention: {case.get('attention_kernel', '?')}"
    if timings:
        each = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings.items())
        line += f" (timed at these sizes, forward and backward: {each}; the faster is used)"
    return [line]


def why_slower(
    speedup: float, fused: dict, teaching: dict | None = None, goal: float | None = GOAL
) -> list[str]:
    """Why the fused GPT is slower, or short of `goal` (None: no goal, always told):
    the kernel, and how much of the teaching model's step its attention is (Amdahl's
    bound on any speed-up)."""
    out = []
    kernel = fused.get("attention_kernel", "")
    if speedup < 1 and "math" in kernel:
        out.append(
            "  The fused GPT is slower here: with dropout on, a CPU has no flash kernel, so "
            "SDPA builds the (T, T) matrix as the teaching heads do, in more passes."
        )
    elif speedup < 1:
        out.append(
            "  The fused GPT is slower here: the rest of the step (feed-forward, head, AdamW) "
            "is the same in both models, and other work on the machine may have slowed it."
        )
    short = goal is None or speedup < goal
    if not short or not teaching or "attention_ms_per_step" not in teaching:
        return out
    step, attention = teaching["ms_per_step"], teaching["attention_ms_per_step"]
    share = min(attention / step, 0.999) if step > 0 else 0.0
    bound = 1 / (1 - share)
    line = (
        f"  Attention is {100 * share:.0f}% of the teaching model's step here ({attention:.0f} "
        f"of {step:.0f} ms, its layers timed alone, forward and backward); the rest is the "
        f"same in both models, so even attention at no cost would make a step at most "
        f"{bound:.2f}x faster"
    )
    if "attention_ms_per_step" in fused:
        line += f" (the fused layers took {fused['attention_ms_per_step']:.0f} ms)"
    if goal is not None and bound < goal:
        line += f": the {goal:g}x goal is out of reach on this machine"
    out.append(line + ".")
    return out


def report_lines(cases: dict, figures: dict, settings: dict) -> list[str]:
    """The lecture-size paragraph of the bench's report."""
    if TEACHING not in cases or FUSED not in cases:
        return []
    p = PRESETS["lecture"]
    teaching, fused = cases[TEACHING], cases[FUSED]
    out = [
        "",
        f"Training at the lecture's sizes: {p.n_layer} layers, {p.n_head} heads, n_embd "
        f"{p.n_embd}, block_size {p.block_size}, dropout {p.dropout:g}, batch "
        f"{teaching['batch_size']}; best of {settings['repeats']} x "
        f"{settings.get('lecture_steps', '?')} steps",
    ]
    out += table(
        ["", "tokens/s", "ms/step", "precision", "peak RSS MiB", "run added MiB"],
        [
            [
                name,
                f"{c['tokens_per_s']:.0f}",
                f"{c['ms_per_step']:.0f}",
                c.get("precision", "fp32"),
                f"{c['peak_rss_mib']:.0f}",
                f"{c['run_added_mib']:.0f}",
            ]
            for name, c in (("teaching GPT", teaching), ("fused GPT", fused))
        ],
    )
    out += kernel_lines(fused)
    out += precision_lines(cases, (TEACHING, FUSED))
    speedup = figures["train_speedup_fused_lecture"]
    out.append(
        f"  train_speedup_fused_lecture = {speedup:.2f}x   (reported, no goal: the MFU rows "
        "below hold this size's goal)"
    )
    return out + why_slower(speedup, fused, teaching, goal=None)

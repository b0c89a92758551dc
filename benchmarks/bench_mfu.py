"""The MFU rows of `make bench`: how close each training case comes to this machine's
limit, the rate at which it multiplies matrices.

Almost all of a GPT's arithmetic is matrix products, so a CPU's matrix-multiply rate
bounds how fast any implementation can train it. Each training case measures that rate
itself, in turns with its own timed steps (`PeakMeter`): 2048 x 2048 matrix products
in fp32 and in bf16, on the bench's threads, the best of at least TURNS of each. A
shared machine's rate drifts for minutes at a time, and a peak measured in another
minute than the steps would misstate the MFU either way; a peak measured in a dip
would flatter it. The faster of the two precisions is "the peak".

The work of a training step is counted as PaLM's paper (and nanoGPT) count it, per
token: 6 x parameters (a multiply and an add per parameter forward, twice that
backward) plus attention's 12 x layers x block x channels (q @ k^T and weights @ v,
forward and backward, over the whole block). Model FLOPs per second = that x tokens
per second, and MFU (model FLOPs utilisation) = model FLOPs per second / the peak.
The count is the model's, not the implementation's: recomputation, masked halves of
(T, T) matrices and element-wise work earn nothing, so MFU says how much of the
machine the implementation turns into training.

Goals: the fused GPT at the lecture's sizes >= 60% of the faster peak, at the cpu
preset's sizes >= 40% (`mfu_fused_lecture`, `mfu_fused_cpu` in runs/bench.json).
Where a case falls short, the report names its largest cost: the top line of a
per-operation profile of one training step (torch.profiler, self CPU time), and the
MFU its matrix products alone would give (the step's MFU over their share of the
profile): where that is under the goal, no saving outside them reaches it.
"""

from __future__ import annotations

import time

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.tables import table

TURNS = 12  # products of each precision; the best counts (about 1.5 s on 2 cores)
SIZE = 2048
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# case: (the key in runs/bench.json, the goal as a share of the faster peak)
GOALS = {"train-lecture:fused": ("mfu_fused_lecture", 0.60), "train:fused": ("mfu_fused_cpu", 0.40)}
NAMES = {
    "train:teaching": "teaching GPT, cpu-size case",
    "train:fused": "fused GPT, cpu-size case",
    "train-lecture:teaching": "teaching GPT, lecture sizes",
    "train-lecture:fused": "fused GPT, lecture sizes",
}


class PeakMeter:
    """The machine's matrix-multiply rate, measured in turns with a training case's
    own steps: `turn()` times a few (SIZE x SIZE) @ (SIZE x SIZE) products in fp32 and
    in bf16 on the threads set, and `gflops()` gives the best of all the turns' products
    of each precision. Taken in the same minutes as the steps it is set against, so a
    machine that runs slower for a while slows both - though not always alike: a step's
    element-wise work, bound by memory, drifts more than a large product's arithmetic."""

    def __init__(self, turns: int, size: int = SIZE):
        generator = torch.Generator().manual_seed(0)
        self.pairs = {
            name: [torch.randn(size, size, generator=generator).to(dtype) for _ in "ab"]
            for name, dtype in DTYPES.items()
        }
        self.per_turn = -(-TURNS // turns)  # at least TURNS products of each in all
        self.best = dict.fromkeys(DTYPES, float("inf"))
        self.size = size
        for a, b in self.pairs.values():
            torch.mm(a, b)  # a warm-up product, not counted

    def turn(self) -> None:
        """Time `per_turn` products of each precision, taking turns."""
        for _ in range(self.per_turn):
            for name, (a, b) in self.pairs.items():
                started = time.perf_counter()
                torch.mm(a, b)
                self.best[name] = min(self.best[name], time.perf_counter() - started)

    def gflops(self) -> dict:
        """{"fp32": GFLOPS, "bf16": GFLOPS} of the fastest product of each precision."""
        return {name: 2 * self.size**3 / s / 1e9 for name, s in self.best.items()}


def flops_per_token(parameters: int, n_layer: int, block_size: int, n_embd: int) -> int:
    """Model FLOPs of training on one token: 6 N + 12 L T C."""
    return 6 * parameters + 12 * n_layer * block_size * n_embd


MATRIX_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def profile_step(run_step, top: int = 3) -> dict:
    """A per-operation profile of one call of `run_step()` (self CPU time): "profile",
    the `top` operations (name, share of all the operations' self time, milliseconds),
    and "matrix_share", the matrix products' share (MATRIX_OPS). A first profiled call
    is thrown away: the profiler's own start-up slows it several times."""
    with profile(activities=[ProfilerActivity.CPU]):
        run_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run_step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    matrix = sum(e.self_cpu_time_total for e in events if e.key in MATRIX_OPS)
    return {
        "profile": [
            {"op": e.key, "share": e.self_cpu_time_total / total, "ms": e.self_cpu_time_total / 1e3}
            for e in events[:top]
        ],
        "matrix_share": matrix / total,
    }


def summary(results: dict) -> dict:
    """Every training case's MFU for runs/bench.json (nothing for a case without its
    measured peak): "mfu" per case - model GFLOPS, MFU against the faster of the
    case's own peaks, and against the peak of its own precision - and the goals' keys."""
    mfu = {}
    for name, case in results.items():
        if "flops_per_token" not in case or "peak_gflops" not in case:
            continue
        peaks = case["peak_gflops"]
        gflops = case["flops_per_token"] * case["tokens_per_s"] / 1e9
        own = peaks.get(case.get("precision", "fp32"), max(peaks.values()))
        mfu[name] = {
            "gflops": gflops,
            "mfu": gflops / max(peaks.values()),
            "of_own_peak": gflops / own,
            "peak_gflops": peaks,
        }
    if not mfu:
        return {}
    figures = {"mfu": mfu}
    figures.update({key: mfu[name]["mfu"] for name, (key, _) in GOALS.items() if name in mfu})
    return figures


def report_lines(report: dict) -> list[str]:
    """A row per training case with the peaks measured beside it, the goals' verdicts
    and, where a case falls short, its largest cost."""
    if not report.get("mfu"):
        return []
    cases, s = report["cases"], report["settings"]
    out = [
        "",
        f"Close to the machine's limit: each training case timed a {SIZE} x {SIZE} matrix "
        f"product on {s['threads']} thread(s), fp32 and bf16, in turns with its steps (the "
        "peak: the faster); a training step's model FLOPs are 6 x parameters + 12 x layers "
        "x block x channels per token",
    ]
    rows = []
    for name, figures in report["mfu"].items():
        case, peaks = cases[name], figures["peak_gflops"]
        goal = GOALS.get(name)
        rows.append(
            [
                NAMES.get(name, name),
                case.get("precision", "fp32"),
                f"{case['tokens_per_s']:,.0f}",
                f"{figures['gflops']:.1f}",
                f"{peaks['fp32']:.0f} / {peaks['bf16']:.0f}",
                f"{100 * figures['of_own_peak']:.0f}%",
                f"{100 * figures['mfu']:.0f}%",
                f">= {100 * goal[1]:.0f}%" if goal else "",
            ]
        )
    header = ["", "precision", "tokens/s", "model GFLOPS", "peak fp32 / bf16"]
    out += table(header + ["of its peak", "MFU", "goal"], rows)
    out.append(
        "  MFU: the model's GFLOPS as a share of the faster peak; 'of its peak': of the peak "
        "of the precision the case ran in (the same figure where that precision is the faster)"
    )
    for name, (key, goal) in GOALS.items():
        if name in report["mfu"]:
            out += goal_lines(key, report["mfu"][name]["mfu"], goal, cases[name])
    return out


def goal_lines(key: str, mfu: float, goal: float, case: dict) -> list[str]:
    """'  mfu_fused_cpu = 33%   goal >= 40%: missed; largest cost: aten::mm, 41% ...',
    and where a case falls short, the MFU its matrix products alone would give: the
    step's MFU over their share of it, the bound if all other work cost nothing."""
    if mfu >= goal:
        return [f"  {key} = {100 * mfu:.0f}%   goal >= {100 * goal:.0f}%: met"]
    line = f"  {key} = {100 * mfu:.0f}%   goal >= {100 * goal:.0f}%: missed"
    top = case.get("profile") or []
    if top:
        first = top[0]
        others = ", ".join(f"{p['op']} {100 * p['share']:.0f}%" for p in top[1:])
        line += (
            f"; largest cost (per-op profile of one step, self CPU time): {first['op']}, "
            f"{100 * first['share']:.0f}% ({first['ms']:.0f} ms)"
            + (f"; then {others}" if others else "")
        )
    lines = [line]
    share = case.get("matrix_share")
    if share:
        lines.append(
            f"    its matrix products ({', '.join(op[6:] for op in MATRIX_OPS)}) took "
            f"{100 * share:.0f}% of the step: with all else free it would reach "
            f"{100 * mfu / share:.0f}%"
        )
    return lines

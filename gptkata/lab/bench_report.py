"""The report of `make bench` (gptkata.lab.bench): the ratios, the verdicts against the
goals, and the table, from the figures of the cases (gptkata.lab.bench_cases)."""

from __future__ import annotations

from gptkata.lab import bench_bpe, bench_lecture
from gptkata.lab.presets import PRESETS

TRAIN_GOAL, GENERATE_GOAL = 2.0, 5.0


def ratio(faster: float, slower: float) -> float:
    """How many times `faster` exceeds `slower` (both rates, e.g. tokens/s)."""
    return faster / slower if slower > 0 else float("inf")


def verdict(value: float, goal: float) -> str:
    """'goal >= 2x: met' or 'goal >= 5x: missed (3.1x is 38% short)'."""
    if value >= goal:
        return f"goal >= {goal:g}x: met"
    return f"goal >= {goal:g}x: missed ({value:.2f}x is {100 * (1 - value / goal):.0f}% short)"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, the others right-aligned, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    return [line(header), *(line(r) for r in rows)]


def summarise(results: dict, settings: dict) -> dict:
    """The JSON report: every figure, the ratios, the settings."""
    teaching, fused = results["train:teaching"], results["train:fused"]
    naive, cached = results["generate:naive"], results["generate:kv_cache"]
    return {
        "train_speedup_fused": ratio(fused["tokens_per_s"], teaching["tokens_per_s"]),
        "generate_speedup_kv_cache": ratio(cached["tokens_per_s"], naive["tokens_per_s"]),
        "generate_speedup_kv_cache_inside_block": ratio(
            cached["inside_block_tokens_per_s"], naive["inside_block_tokens_per_s"]
        ),
        "generate_same_ids": naive["ids"] == cached["ids"],
        "step_speedup_kv_cache": {
            n: ratio(naive["ms_per_token"][n], cached["ms_per_token"][n])
            for n in naive["ms_per_token"]
        },
        **bench_bpe.summary(results.get("bpe:reference")),
        **bench_lecture.summary(results),
        "settings": settings,
        "cases": {name: {k: v for k, v in r.items() if k != "ids"} for name, r in results.items()},
    }


def report_lines(report: dict) -> list[str]:
    s, cases = report["settings"], report["cases"]
    teaching, fused = cases["train:teaching"], cases["train:fused"]
    naive, cached = cases["generate:naive"], cases["generate:kv_cache"]
    p = PRESETS[s["preset"]]
    out = [
        f"GPT Kata bench: torch {s['torch']}, {s['threads']} thread(s) on {s['cpus']} CPU(s), "
        f"load average {s['load_before']:.2f} before the run, other processes used "
        f"{s['others_cpu_percent']:.0f}% of the CPUs during it",
        *bench_lecture.machine_lines(s),
        "",
        f"Training, preset {s['preset']!r}: {p.n_layer} layers, {p.n_head} heads, n_embd "
        f"{p.n_embd}, block_size {p.block_size}, batch {p.batch_size}; "
        f"best of {s['repeats']} x {s['train_steps']} steps",
    ]
    out += table(
        ["", "tokens/s", "ms/step", "precision", "parameters", "peak RSS MiB", "run added MiB"],
        [
            [
                name,
                f"{c['tokens_per_s']:.0f}",
                f"{c['ms_per_step']:.1f}",
                c.get("precision", "fp32"),
                f"{c['parameters']:,}",
                f"{c['peak_rss_mib']:.0f}",
                f"{c['run_added_mib']:.0f}",
            ]
            for name, c in (("teaching GPT", teaching), ("fused GPT", fused))
        ],
    )
    out += bench_lecture.kernel_lines(fused)
    speedup = report["train_speedup_fused"]
    out += [f"  train_speedup_fused = {speedup:.2f}x   {verdict(speedup, TRAIN_GOAL)}"]
    out += bench_lecture.why_slower(speedup, fused, teaching)
    out += bench_lecture.report_lines(cases, report, s) + [""]
    inside = naive["inside_block_new_tokens"]
    out.append(
        f"Generation, the same FusedGPT (preset {s['generate_preset']!r} sizes, "
        f"{naive['parameters']:,} parameters, block_size {s['block_size']}), a one-id prompt; "
        "same ids from both: "
        f"{'yes' if report['generate_same_ids'] else 'NO'}"
    )
    contexts = list(naive["ms_per_token"])
    header = [
        "",
        f"{s['new_tokens']} new ids/s",
        f"{inside} new ids/s",
        *(f"ms/id @{n}" for n in contexts),
        "peak RSS MiB",
        "run added MiB",
    ]
    rows = [
        [
            name,
            f"{c['tokens_per_s']:.0f}",
            f"{c['inside_block_tokens_per_s']:.0f}",
            *(f"{c['ms_per_token'][n]:.2f}" for n in contexts),
            f"{c['peak_rss_mib']:.0f}",
            f"{c['run_added_mib']:.0f}",
        ]
        for name, c in (("naive generate", naive), ("KV cache", cached))
    ]
    rows.append(
        [
            "speedup",
            f"{report['generate_speedup_kv_cache']:.2f}x",
            f"{report['generate_speedup_kv_cache_inside_block']:.2f}x",
            *(f"{report['step_speedup_kv_cache'][n]:.1f}x" for n in contexts),
            "",
            "",
        ]
    )
    out += table(header, rows)
    speedup = report["generate_speedup_kv_cache"]
    out.append(f"  generate_speedup_kv_cache = {speedup:.2f}x   {verdict(speedup, GENERATE_GOAL)}")
    if s["new_tokens"] > inside:
        out += [
            f"  From context {s['block_size'] + 1} on, every id has moved to a new position, "
            "so the cache is rebuilt at every step",
            f"  (a full forward pass, as in naive generate): only the first {inside} of the "
            f"{s['new_tokens']} new ids are cheap.",
        ]
    out += bench_bpe.report_lines(cases.get("bpe:reference"), report)
    if s["others_cpu_percent"] > 10:
        out.append(
            f"  Note: other processes used {s['others_cpu_percent']:.0f}% of the CPUs during "
            "the run, so these timings are noisy: run it again on a quiet machine."
        )
    return out

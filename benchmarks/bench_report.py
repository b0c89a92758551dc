"""The report of `make bench` (benchmarks.bench): the ratios, the verdicts against the
goals, and the tables, from the figures of the cases (benchmarks.bench_cases).

    summarise        the figures of the fast cases (bench_cases) as runs/bench.json has them
    report_lines     their tables: the machine, training, then generation and BPE
    combined_report  whichever cases ran: the fast ones, the sliding cache's, or both
    combined_lines   the tables of those
"""

from __future__ import annotations

from benchmarks import bench_bpe, bench_cases, bench_lecture, bench_mfu, sliding_cache
from benchmarks.tables import ratio, table, verdict
from gptkata.lab.presets import PRESETS

TRAIN_GOAL, GENERATE_GOAL = 2.0, 5.0


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
        **bench_mfu.summary(results),
        "settings": settings,
        "cases": {name: {k: v for k, v in r.items() if k != "ids"} for name, r in results.items()},
    }


def training_lines(report: dict) -> list[str]:
    """The machine, then the training table of the teaching and the fused GPT at the
    bench's preset, its verdict, and the lecture-size rows (benchmarks.bench_lecture)."""
    s, cases = report["settings"], report["cases"]
    teaching, fused = cases["train:teaching"], cases["train:fused"]
    p = PRESETS[s["preset"]]
    out = [
        f"GPT Kata bench: torch {s['torch']}, {s['threads']} thread(s) on {s['cpus']} CPU(s), "
        f"load average {s['load_before']:.2f} before the run, other processes used "
        f"{s['others_cpu_percent']:.0f}% of the CPUs during it",
        "It times the reference code (solutions/), not your exercises: how fast the katas' "
        "ideas run on this machine.",
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
    out += bench_lecture.precision_lines(cases, ("train:teaching", "train:fused"))
    speedup = report["train_speedup_fused"]
    out += [f"  train_speedup_fused = {speedup:.2f}x   {verdict(speedup, TRAIN_GOAL)}"]
    out += bench_lecture.why_slower(speedup, fused, teaching)
    return out + bench_lecture.report_lines(cases, report, s) + bench_mfu.report_lines(report)


def generation_table(report: dict) -> list[str]:
    """The table of naive generation and the KV cache: ids/s over all the new ids and
    over those that fit into the context, ms per id at each context, memory, speed-ups."""
    s, cases = report["settings"], report["cases"]
    naive, cached = cases["generate:naive"], cases["generate:kv_cache"]
    contexts = list(naive["ms_per_token"])
    header = [
        "",
        f"ids/s, {s['new_tokens']} new",
        f"ids/s, {naive['inside_block_new_tokens']} new",
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
    return table(header, rows)


def generation_lines(report: dict) -> list[str]:
    """The generation paragraph: what was generated, the table, the verdict, and why
    only the ids that fit into the context are cheap."""
    s = report["settings"]
    naive = report["cases"]["generate:naive"]
    inside = naive["inside_block_new_tokens"]
    out = [
        f"Generation, the same FusedGPT (preset {s['generate_preset']!r} sizes, "
        f"{naive['parameters']:,} parameters, block_size {s['block_size']}), a one-id prompt; "
        "same ids from both: "
        f"{'yes' if report['generate_same_ids'] else 'NO'}",
        *generation_table(report),
    ]
    speedup = report["generate_speedup_kv_cache"]
    out.append(f"  generate_speedup_kv_cache = {speedup:.2f}x   {verdict(speedup, GENERATE_GOAL)}")
    if s["new_tokens"] > inside:
        out += [
            f"  From context {s['block_size'] + 1} on, every id has moved to a new position, "
            "so the cache is rebuilt at every step",
            f"  (a full forward pass, as in naive generate): only the first {inside} of the "
            f"{s['new_tokens']} new ids are cheap, which can keep the {GENERATE_GOAL:g}x goal "
            "out of reach;",
            f'  make bench ARGS="--block-size {1 << s["new_tokens"].bit_length()}" times the same '
            f"{s['new_tokens']} ids with a context that holds them.",
        ]
    return out


def report_lines(report: dict) -> list[str]:
    """The whole report of the fast cases: training, generation, BPE, and a note when
    other processes made the timings noisy."""
    s = report["settings"]
    out = [*training_lines(report), "", *generation_lines(report)]
    out += bench_bpe.report_lines(report["cases"].get("bpe:reference"), report)
    if s["others_cpu_percent"] > 10:
        out.append(
            f"  Note: other processes used {s['others_cpu_percent']:.0f}% of the CPUs during "
            "the run, so these timings are noisy: run it again on a quiet machine."
        )
    return out


def combined_report(results: dict, settings: dict) -> dict:
    """The report of the cases that ran: the fast ones (`summarise`), the sliding
    cache's (benchmarks.sliding_cache), or both."""
    report = {"settings": settings}
    optional = ("bpe:", "train-lecture:")  # reported when they ran
    if all(name in results for name in bench_cases.CASES if not name.startswith(optional)):
        report.update(summarise(results, settings))
    if all(name in results for name in sliding_cache.CASES):
        report.update(sliding_cache.summarise(results))
    report["cases"] = {n: {k: v for k, v in r.items() if k != "ids"} for n, r in results.items()}
    return report


def combined_lines(report: dict) -> list[str]:
    """The fast cases' tables if they ran, then the sliding cache's if it ran."""
    lines = report_lines(report) if "train_speedup_fused" in report else []
    if "generate_speedup_sliding_cache" in report:
        lines += [""] * bool(lines) + sliding_cache.report_lines(report)
    return lines

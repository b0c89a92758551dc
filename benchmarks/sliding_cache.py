"""The sliding cache's cases of `make bench`: the modern GPT's generate against
`modern.generate_sliding` (the modern kata), side by side, each in a fresh process.

Both run the same ModernGPT at the `lecture` preset's sizes (6 layers, 6 heads, 384
channels) with a window of 256 (`--block-size`), random weights, eval mode, a
one-id prompt and 500 new ids (`--new-tokens`). The naive `generate` runs the whole
text at every step, so its steps grow with the text; the sliding cache runs one
position per step against at most `window` cached keys per layer, so its steps
cost the same at 64 ids or 1,000. Goal: >= 5x for the 500 ids; both must give the
same ids. Then one step at contexts of 64, 256 and 512 ids.

`make bench` runs these cases after its own and adds `generate_speedup_sliding_cache`
(with `generate_sliding_same_ids` and `step_speedup_sliding_cache`) to
runs/bench.json (benchmarks.bench_report puts the tables together);
`python -m benchmarks.bench_modern` runs only these.
"""

from __future__ import annotations

import statistics
import time

import torch

from benchmarks.measure import best_seconds, peak_rss_mib, rss_mib
from benchmarks.tables import ratio, table, verdict
from gptkata.lab.presets import PRESETS
from solutions import modern

CASES = ("generate:modern", "generate:sliding_cache")
CONTEXTS = (64, 256, 512)
GOAL = 5.0


def modern_model(preset_name: str, window: int) -> modern.ModernGPT:
    """A ModernGPT at a preset's sizes with `window`, random weights, eval mode."""
    p = PRESETS[preset_name]
    torch.manual_seed(1337)
    config = modern.ModernConfig(
        vocab_size=65, window=window, n_embd=p.n_embd, n_head=p.n_head, n_layer=p.n_layer
    )
    config.dropout = 0.0
    return modern.ModernGPT(config).eval()


def sliding_case(method: str, preset_name: str, window: int, new_tokens: int, repeats: int):
    """Generation ids/s and per-step times of ModernGPT.generate or generate_sliding."""
    model = modern_model(preset_name, window)
    prompt = torch.zeros((1, 1), dtype=torch.long)

    def generate(n: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(1337)
        if method == "sliding_cache":
            return modern.generate_sliding(model, prompt, n, generator)
        return model.generate(prompt, n, generator)

    before = rss_mib()
    generate(8)  # warm up
    seconds, generated = best_seconds(lambda: generate(new_tokens), repeats)
    context = torch.randint(65, (1, max(CONTEXTS)), generator=torch.Generator().manual_seed(0))
    return {
        "ids": generated[0].tolist(),
        "parameters": sum(w.numel() for w in model.parameters()),
        "tokens_per_s": new_tokens / seconds,
        "seconds": seconds,
        "ms_per_token": {
            str(n): 1e3 * step_seconds(method, model, context[:, :n], 3 * repeats) for n in CONTEXTS
        },
        "peak_rss_mib": peak_rss_mib(),
        "run_added_mib": peak_rss_mib() - before,
    }


def step_seconds(method: str, model, context, repeats: int) -> float:
    """The median time of one step for the id after `context` (1, L): the whole
    context through the model, or one id through `forward_sliding` with caches that
    already hold the first L - 1 ids (filled before the clock starts)."""
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            if method == "sliding_cache":
                caches = [modern.RollingKVCache(model.config.window) for _ in model.blocks]
                modern.forward_sliding(model, context[:, :-1], caches)
                start = time.perf_counter()
                modern.forward_sliding(model, context[:, -1:], caches)
            else:
                start = time.perf_counter()
                model(context)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_case(variant: str, args) -> dict:
    """The case `generate:<variant>` with `make bench`'s flags."""
    return sliding_case(
        variant, args.generate_preset, args.block_size, args.new_tokens, args.repeats
    )


def summarise(results: dict) -> dict:
    """The sliding cache's figures for runs/bench.json."""
    naive, cached = results["generate:modern"], results["generate:sliding_cache"]
    return {
        "generate_speedup_sliding_cache": ratio(cached["tokens_per_s"], naive["tokens_per_s"]),
        "generate_sliding_same_ids": naive["ids"] == cached["ids"],
        "step_speedup_sliding_cache": {
            n: ratio(naive["ms_per_token"][n], cached["ms_per_token"][n])
            for n in naive["ms_per_token"]
        },
    }


def report_lines(report: dict) -> list[str]:
    """The table of the two cases, their ratios and the verdict."""
    s, cases = report["settings"], report["cases"]
    naive, cached = cases["generate:modern"], cases["generate:sliding_cache"]
    same = "yes" if report["generate_sliding_same_ids"] else "NO"
    out = [
        f"Generation, a ModernGPT (the modern kata; preset {s['generate_preset']!r} sizes, "
        f"{naive['parameters']:,} parameters, window {s['block_size']}), a one-id prompt; "
        f"same ids from both: {same}"
    ]
    contexts = list(naive["ms_per_token"])
    rows = [
        [
            name,
            f"{c['tokens_per_s']:.0f}",
            *(f"{c['ms_per_token'][n]:.2f}" for n in contexts),
            f"{c['peak_rss_mib']:.0f}",
            f"{c['run_added_mib']:.0f}",
        ]
        for name, c in (("generate (whole text)", naive), ("sliding cache", cached))
    ]
    speedup = report["generate_speedup_sliding_cache"]
    steps = report["step_speedup_sliding_cache"]
    rows.append(["speedup", f"{speedup:.2f}x", *(f"{steps[n]:.1f}x" for n in contexts), "", ""])
    out += table(
        [
            "",
            f"ids/s, {s['new_tokens']} new",
            *(f"ms/id @{n}" for n in contexts),
            "peak RSS MiB",
            "run added MiB",
        ],
        rows,
    )
    out.append(f"  generate_speedup_sliding_cache = {speedup:.2f}x   {verdict(speedup, GOAL)}")
    out.append(
        f"  {s['threads']} thread(s); other processes used {s['others_cpu_percent']:.0f}% of "
        "the CPUs during the run (timings are comparable only on a quiet machine)"
    )
    return out

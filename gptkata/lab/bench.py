"""`make bench`: the fast katas against the teaching code, side by side, on this machine.

Two comparisons, each case in its own fresh Python process (one after the other,
never in parallel), so the timings and the memory figures of one case do not leak
into the next:

* training throughput, in tokens per second, of the teaching GPTLanguageModel and
  of the FusedGPT (kata 10), at the `cpu` preset's model and batch sizes, with the
  training kata's `train_step` and AdamW, on batches of random ids (speed does not
  depend on the text, so the corpus is not needed). Goal: fused >= 2x teaching.
* generation throughput of `model.generate` (naive: the whole context every step)
  and `kv_cache.generate_cached` (kata 11) on the same FusedGPT: the `lecture`
  preset's sizes (the model whose block_size is 256; 10.8M parameters), random
  weights, eval mode, a one-id prompt and 500 new ids, and again 255 new ids, which
  fill the context exactly, so the cache is never rebuilt. Goal: >= 5x for 500 new
  ids. Both runs must give the same ids.
  Then the cost of one step as the context grows: the time of one next-id step at
  contexts of 64, 128 and 256 ids, and at 257, where the naive model sees the last
  256 and the cache must be rebuilt. (`--block-size 512` shows the same 500 ids
  with a context long enough never to be cropped.)

Memory: the peak resident set size of the case's process (ru_maxrss: everything
the process ever held at once, the Python interpreter and torch included) and how
much of it the measured run added over the resident size just before it began
(model, optimizer state, activations, caches). CPU tensors are ordinary process
memory, so this is what the run costs the machine.

Timings are the best of a few repeats (the least disturbed by other work on the
machine). The report says how much of the CPUs other processes used during the
run (from /proc/stat, less the cases' own CPU time): timings taken while other
processes use the cores are not comparable, so run it on a quiet machine.

Prints a table and writes everything to runs/bench.json, including the ratios
`train_speedup_fused` and `generate_speedup_kv_cache`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from gptkata import paths
from gptkata.lab import bench_modern
from gptkata.lab.presets import PRESETS

VOCAB_SIZE = 65  # tiny Shakespeare's characters
CONTEXTS = (64, 128, 256)  # plus block_size + 1, the first context that is cropped
TRAIN_GOAL, GENERATE_GOAL = 2.0, 5.0
CASES = ("train:teaching", "train:fused", "generate:naive", "generate:kv_cache")
ALL_CASES = CASES + bench_modern.CASES  # the sliding cache's row: gptkata/lab/bench_modern.py


# -- measuring, inside a case's process ------------------------------------------


def rss_mib() -> float:
    """The resident set size of this process now, in MiB (Linux; 0.0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """The largest resident set size this process has had, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together,
    from /proc/stat (Linux); (0.0, 0.0) elsewhere."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def children_cpu_seconds() -> float:
    """CPU seconds used so far by this process's finished children (the cases)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_seconds(run, repeats: int) -> tuple[float, object]:
    """The shortest wall time of `repeats` calls of `run()`, and what the last call returned."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def gpt_config(preset_name: str, block_size: int | None = None):
    from solutions import gpt

    p = PRESETS[preset_name]
    return gpt.GPTConfig(
        vocab_size=VOCAB_SIZE,
        block_size=block_size or p.block_size,
        n_embd=p.n_embd,
        n_head=p.n_head,
        n_layer=p.n_layer,
        dropout=p.dropout,
    )


def train_case(model_kind: str, preset_name: str, steps: int, repeats: int) -> dict:
    """Training tokens/s of the teaching or the fused GPT at a preset's sizes."""
    import torch

    from solutions import batching, fast_attention, gpt, training

    p = PRESETS[preset_name]
    model_class = fast_attention.FusedGPT if model_kind == "fused" else gpt.GPTLanguageModel
    torch.manual_seed(1337)
    model = model_class(gpt_config(preset_name)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=p.learning_rate)
    generator = torch.Generator().manual_seed(1337)
    data = torch.randint(VOCAB_SIZE, (100_000,), generator=generator)

    def run_steps(n: int) -> None:
        for _ in range(n):
            x, y = batching.get_batch(data, p.batch_size, p.block_size, generator)
            training.train_step(model, optimizer, x, y)

    before = rss_mib()
    run_steps(3)  # warm up: first calls allocate and pick kernels
    seconds = best_seconds(lambda: run_steps(steps), repeats)[0] / steps
    return {
        "tokens_per_s": p.batch_size * p.block_size / seconds,
        "ms_per_step": seconds * 1e3,
        "parameters": sum(w.numel() for w in model.parameters()),
        "peak_rss_mib": peak_rss_mib(),
        "run_added_mib": peak_rss_mib() - before,
    }


def generate_case(
    method: str, preset_name: str, block_size: int, new_tokens: int, repeats: int
) -> dict:
    """Generation ids/s and per-step times of naive generate or the KV cache."""
    import torch

    from solutions import fast_attention, kv_cache

    torch.manual_seed(1337)
    config = gpt_config(preset_name, block_size)
    config.dropout = 0.0
    model = fast_attention.FusedGPT(config).eval()
    prompt = torch.zeros((1, 1), dtype=torch.long)

    def generate(n: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(1337)
        if method == "kv_cache":
            return kv_cache.generate_cached(model, prompt, n, generator)
        return model.generate(prompt, n, generator)

    before = rss_mib()
    generate(8)  # warm up
    full, generated = best_seconds(lambda: generate(new_tokens), repeats)
    inside = block_size - prompt.shape[1]  # ids that still fit into the context
    inside_seconds, _ = best_seconds(lambda: generate(inside), repeats)
    contexts = sorted({*CONTEXTS, block_size + 1})
    context = torch.randint(
        VOCAB_SIZE, (1, max(contexts)), generator=torch.Generator().manual_seed(0)
    )
    return {
        "ids": generated[0].tolist(),
        "parameters": sum(w.numel() for w in model.parameters()),
        "tokens_per_s": new_tokens / full,
        "seconds": full,
        "inside_block_new_tokens": inside,
        "inside_block_tokens_per_s": inside / inside_seconds,
        "ms_per_token": {
            str(n): 1e3 * step_seconds(method, model, context[:, :n], 3 * repeats) for n in contexts
        },
        "peak_rss_mib": peak_rss_mib(),
        "run_added_mib": peak_rss_mib() - before,
    }


def step_seconds(method: str, model, context, repeats: int) -> float:
    """The median time of one generation step for the id after `context` (1, L): the
    naive model call on the last block_size ids, or `next_token_logits` with caches
    that already hold the first L - 1 ids (filled before the clock starts)."""
    import torch

    from solutions import kv_cache

    block_size = model.config.block_size
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            if method == "kv_cache":
                caches = [kv_cache.KVCache() for _ in model.blocks]
                kv_cache.next_token_logits(model, context[:, :-1], caches)
                start = time.perf_counter()
                kv_cache.next_token_logits(model, context, caches)
            else:
                start = time.perf_counter()
                model(context[:, -block_size:])
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_case(name: str, args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    kind, variant = name.split(":")
    if name in bench_modern.CASES:
        return bench_modern.run_case(variant, args)
    if kind == "train":
        return train_case(variant, args.preset, args.train_steps, args.repeats)
    return generate_case(
        variant, args.generate_preset, args.block_size, args.new_tokens, args.repeats
    )


# -- the report, in the parent process --------------------------------------------


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
        "",
        f"Training, preset {s['preset']!r}: {p.n_layer} layers, {p.n_head} heads, n_embd "
        f"{p.n_embd}, block_size {p.block_size}, batch {p.batch_size}; "
        f"best of {s['repeats']} x {s['train_steps']} steps",
    ]
    out += table(
        ["", "tokens/s", "ms/step", "parameters", "peak RSS MiB", "run added MiB"],
        [
            [
                name,
                f"{c['tokens_per_s']:.0f}",
                f"{c['ms_per_step']:.1f}",
                f"{c['parameters']:,}",
                f"{c['peak_rss_mib']:.0f}",
                f"{c['run_added_mib']:.0f}",
            ]
            for name, c in (("teaching GPT", teaching), ("fused GPT", fused))
        ],
    )
    speedup = report["train_speedup_fused"]
    out += [f"  train_speedup_fused = {speedup:.2f}x   {verdict(speedup, TRAIN_GOAL)}", ""]
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
    if s["others_cpu_percent"] > 10:
        out.append(
            f"  Note: other processes used {s['others_cpu_percent']:.0f}% of the CPUs during "
            "the run, so these timings are noisy: run it again on a quiet machine."
        )
    return out


def run_in_child(name: str, args: argparse.Namespace) -> dict:
    """Run one case in a fresh Python process; its last line of output is the JSON."""
    command = [
        sys.executable,
        "-m",
        "gptkata.lab.bench",
        "--case",
        name,
        "--preset",
        args.preset,
        "--generate-preset",
        args.generate_preset,
        "--threads",
        str(args.threads),
        "--train-steps",
        str(args.train_steps),
        "--new-tokens",
        str(args.new_tokens),
        "--block-size",
        str(args.block_size),
        "--repeats",
        str(args.repeats),
    ]
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench case {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None, cases: tuple[str, ...] = ALL_CASES) -> int:
    parser = argparse.ArgumentParser(prog="python -m gptkata.lab.bench", description=__doc__)
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="for training")
    parser.add_argument(
        "--generate-preset", default="lecture", choices=sorted(PRESETS), help="for generation"
    )
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--train-steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--new-tokens", type=int, default=500)
    parser.add_argument("--block-size", type=int, default=256, help="for generation")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=paths.RUNS / "bench.json")
    parser.add_argument("--case", choices=ALL_CASES, help=argparse.SUPPRESS)  # a child's one case
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args)))
        return 0

    import torch

    settings = {
        "preset": args.preset,
        "generate_preset": args.generate_preset,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "train_steps": args.train_steps,
        "new_tokens": args.new_tokens,
        "block_size": args.block_size,
        "repeats": args.repeats,
        "load_before": os.getloadavg()[0],
    }
    results = {}
    busy, total = machine_cpu_seconds()
    ours = children_cpu_seconds()
    for name in cases:
        print(f"running {name} ...", flush=True)
        results[name] = run_in_child(name, args)
    busy_after, total_after = machine_cpu_seconds()
    others = busy_after - busy - (children_cpu_seconds() - ours)
    settings["others_cpu_percent"] = max(0.0, 100 * others / max(total_after - total, 1e-9))
    report = bench_modern.combined_report(results, settings, summarise)
    print()
    print("\n".join(bench_modern.combined_lines(report, report_lines)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

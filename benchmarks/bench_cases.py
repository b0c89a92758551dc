"""The cases of `make bench` (benchmarks.bench), each run in a fresh Python process of
its own: training throughput of the teaching and the fused GPT, and generation
throughput of naive generation and the KV cache, with the memory each run added.
What they measure and why is told in benchmarks.bench; `run_case` also runs the
BPE case (benchmarks.bench_bpe) and the sliding cache's (benchmarks.sliding_cache).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks import bench_bpe, bench_mfu, sliding_cache
from benchmarks.measure import best_seconds, peak_rss_mib, rss_mib
from gptkata.lab import attention_paths, cpu, machine, optim, precision
from gptkata.lab.presets import PRESETS
from solutions import batching, fast_attention, gpt, kv_cache

CASES = ("train:teaching", "train:fused", "generate:naive", "generate:kv_cache", "bpe:reference")
CASES += ("train-lecture:teaching", "train-lecture:fused")  # benchmarks.bench_lecture
ALL_CASES = CASES + sliding_cache.CASES
VOCAB_SIZE = 65  # tiny Shakespeare's characters
CONTEXTS = (64, 128, 256)  # plus block_size + 1, the first context that is cropped


def gpt_config(preset_name: str, block_size: int | None = None) -> gpt.GPTConfig:
    """Kata 9's GPTConfig at a preset's sizes (and `block_size`, if given), for
    tiny Shakespeare's 65 characters."""
    p = PRESETS[preset_name]
    return gpt.GPTConfig(
        vocab_size=VOCAB_SIZE,
        block_size=block_size or p.block_size,
        n_embd=p.n_embd,
        n_head=p.n_head,
        n_layer=p.n_layer,
        dropout=p.dropout,
    )


def train_case(
    model_kind: str,
    preset_name: str,
    steps: int,
    repeats: int,
    batch_size: int | None = None,
    precision_wanted: str = "fp32",
) -> dict:
    """Training tokens/s of the teaching or the fused GPT at a preset's sizes (and
    `batch_size` sequences per step instead of the preset's, if given), in the
    precision `precision_wanted` ("auto": timed, as the trainer times it,
    gptkata.lab.precision). The fused GPT's attention kernel is chosen as the trainer
    chooses it: timed (gptkata.lab.attention_paths). Also the model FLOPs per token, the
    machine's matrix-multiply peak timed in turns with the steps, and a per-operation
    profile of one step (benchmarks.bench_mfu)."""
    p = PRESETS[preset_name]
    batch_size = batch_size or p.batch_size
    device = torch.device("cpu")
    model_class = fast_attention.FusedGPT if model_kind == "fused" else gpt.GPTLanguageModel
    torch.manual_seed(1337)
    model = model_class(gpt_config(preset_name)).train()
    chosen = case_precision(
        model, model_kind == "fused", batch_size, p.block_size, precision_wanted
    )
    bf16 = chosen["bf16"]
    kernel, timings = "the katas' heads one by one (a masked softmax each)", None
    if model_kind == "fused":
        attention = attention_paths.configure(model, "auto", batch_size, device, bf16)
        kernel, timings = attention["kernel"], attention["timings_ms"]
    run_steps = step_runner(model, p, batch_size, bf16)
    seconds, memory, peak_gflops = time_steps(run_steps, steps, repeats)
    attention_ms = attention_seconds(model, batch_size, p.block_size, bf16, repeats) * 1e3
    parameters = sum(w.numel() for w in model.parameters())
    return {
        "attention_ms_per_step": attention_ms,
        "tokens_per_s": batch_size * p.block_size / seconds,
        "ms_per_step": seconds * 1e3,
        "parameters": parameters,
        "flops_per_token": bench_mfu.flops_per_token(parameters, p.n_layer, p.block_size, p.n_embd),
        "peak_gflops": peak_gflops,
        **memory,
        "batch_size": batch_size,
        "precision": chosen["precision"],
        "precision_timings_ms": chosen["timings_ms"],
        "precision_why": chosen["why"],
        "attention_kernel": kernel,
        "attention_timings_ms": timings,
        **bench_mfu.profile_step(lambda: run_steps(1)),
    }


def step_runner(model, p, batch_size: int, bf16: bool):
    """`run_steps(n)`: n of make train's steps (gptkata.lab.loop) for `model` with the
    preset `p`'s optimiser and clipping, on batches of random ids."""
    device = torch.device("cpu")
    betas = (p.beta1, p.beta2)
    optimizer = optim.make_optimizer(model, p.learning_rate, p.weight_decay, betas, device)
    generator = torch.Generator().manual_seed(1337)
    data = torch.randint(VOCAB_SIZE, (100_000,), generator=generator)

    def run_steps(n: int) -> None:
        for _ in range(n):
            x, y = batching.get_batch(data, batch_size, p.block_size, generator)
            with machine.autocast(device, bf16):
                _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if p.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
            optimizer.step()

    return run_steps


def time_steps(run_steps, steps: int, repeats: int) -> tuple[float, dict, dict]:
    """Seconds per step of `run_steps(steps)`, the best of `repeats` turns after a
    warm-up; the memory the first turn took ("peak_rss_mib", "run_added_mib"); and the
    machine's matrix-multiply peak (bench_mfu.PeakMeter), timed in turns with the
    steps, its matrices made after the memory figures so that they are not counted."""
    before = rss_mib()
    run_steps(min(3, steps))  # warm up: first calls allocate and pick kernels
    times = [best_seconds(lambda: run_steps(steps), 1)[0]]
    memory = {"peak_rss_mib": peak_rss_mib(), "run_added_mib": peak_rss_mib() - before}
    peak = bench_mfu.PeakMeter(repeats)
    peak.turn()
    for _ in range(repeats - 1):  # a turn of steps, then a turn of the peak's products
        times.append(best_seconds(lambda: run_steps(steps), 1)[0])
        peak.turn()
    return min(times) / steps, memory, peak.gflops()


def case_precision(model, fused: bool, batch_size: int, block_size: int, wanted: str) -> dict:
    """The case's precision as the trainer decides it (gptkata.lab.precision): `wanted`,
    or on auto the faster of fp32 and bf16 for this model at these sizes, each timed
    on the attention kernel it would use."""
    device = torch.device("cpu")

    def timer() -> dict:
        path = "auto" if fused else None
        return precision.measure(model, batch_size, block_size, VOCAB_SIZE, device, path)

    return precision.decide(wanted, device, timer, cpu.report())


def attention_seconds(model, batch_size: int, block_size: int, bf16: bool, repeats: int) -> float:
    """The attention layers' share of a training step: one block's attention (the
    teaching heads, or the fused layer on its chosen kernel), forward and backward
    on random activations, timed alone (best of `repeats`), times the blocks."""
    layer = model.blocks[0].sa
    x = torch.randn(batch_size, block_size, model.config.n_embd, requires_grad=True)

    def once() -> None:
        with machine.autocast(torch.device("cpu"), bf16):
            out = layer(x)
        out.float().sum().backward()

    once()  # warm up
    return best_seconds(once, repeats)[0] * len(model.blocks)


def generate_case(
    method: str, preset_name: str, block_size: int, new_tokens: int, repeats: int
) -> dict:
    """Generation ids/s and per-step times of naive generate or the KV cache."""
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
    probe = torch.empty(1, config.n_head, block_size, config.n_embd // config.n_head)
    kernel = f"SDPA {attention_paths.sdpa_kernel(probe, 0.0)}"
    return {
        "precision": "fp32",
        "attention_kernel": kernel if method == "naive" else "SDPA over the cached keys (kata 11)",
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
    """The figures of the case `name` ("kind:variant", one of ALL_CASES) with the
    bench's flags `args`, on `--threads` threads."""
    torch.set_num_threads(args.threads)
    kind, variant = name.split(":")
    if name in sliding_cache.CASES:
        return sliding_cache.run_case(variant, args)
    if kind == "bpe":
        return bench_bpe.bpe_case(args.bpe_vocab_size, args.repeats)
    if kind == "train":
        return train_case(
            variant, args.preset, args.train_steps, args.repeats, precision_wanted=args.precision
        )
    if kind == "train-lecture":
        return train_case(
            variant, "lecture", args.lecture_steps, args.repeats, args.lecture_batch, args.precision
        )
    return generate_case(
        variant, args.generate_preset, args.block_size, args.new_tokens, args.repeats
    )

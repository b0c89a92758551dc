"""`make bench`: the fast katas against the teaching code, side by side, on this machine.

Two comparisons, each case in its own fresh Python process (one after the other,
never in parallel), so the timings and the memory figures of one case do not leak
into the next:

* training throughput, in tokens per second, of the teaching GPTLanguageModel and
  of the FusedGPT (kata 10), at the `cpu` preset's model and batch sizes, with make
  train's step (the preset's fused AdamW and clipping), on batches of random ids
  (speed does not depend on the text, so the corpus is not needed). Goal: fused >= 2x
  teaching.
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

How close training comes to the machine's limit (benchmarks.bench_mfu): each training
case measures the matrix-multiply rate of this machine in fp32 and bf16 (the peak) in
turns with its own timed steps, and reports its model FLOPs per second as a share of
the faster one (MFU; goals: the fused GPT >= 60% at the lecture's sizes, >= 40% at the
cpu preset's, `mfu_fused_lecture` and `mfu_fused_cpu`), with a per-operation profile's
top line where a case falls short.

Then kata 12's BPE tokenizer on the whole corpus (benchmarks.bench_bpe): training a
1,024-id vocabulary and encoding the corpus, each with a goal of 5 seconds.

Last, the modern preset against the cpu preset, 85 s of training each, side by side
(benchmarks.versus): with `--versus` measured now (about 4 minutes, written to
runs/bench.json as `modern_preset`), otherwise the last comparison it wrote.

Prints a table and writes everything to runs/bench.json, including the ratios
`train_speedup_fused` and `generate_speedup_kv_cache`, and `bpe_train_seconds` and
`bpe_encode_seconds`.

This module runs the cases and checks the flags first (a one-line error for a flag
that makes no sense); the cases themselves are benchmarks.bench_cases, the report
benchmarks.bench_report, and how they measure benchmarks.measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks import bench_report, versus
from benchmarks.bench_cases import ALL_CASES, VOCAB_SIZE, run_case
from benchmarks.measure import cpu_mark, others_share
from gptkata import outputs, paths
from gptkata.lab import cpu, sizes
from gptkata.lab.presets import PRESETS


class CaseFailed(Exception):
    """A case's process failed; the last line of what it printed says why."""


def run_in_child(name: str, args: argparse.Namespace) -> dict:
    """Run one case in a fresh Python process; its last line of output is the JSON."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench",
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
        "--bpe-vocab-size",
        str(args.bpe_vocab_size),
        "--precision",
        args.precision,
        "--lecture-batch",
        str(args.lecture_batch),
        "--lecture-steps",
        str(args.lecture_steps),
    ]
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise CaseFailed(f"the case {name} failed: {lines[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_args(args: argparse.Namespace) -> None:
    """A ValueError naming the first flag that makes no sense, before any case runs."""
    for name in (
        "threads",
        "train_steps",
        "new_tokens",
        "repeats",
        "lecture_batch",
        "lecture_steps",
    ):
        value = getattr(args, name)
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.bpe_vocab_size < 256:
        raise ValueError(f"--bpe-vocab-size must be at least 256, got {args.bpe_vocab_size}")
    if args.block_size < 2:
        raise ValueError(
            f"--block-size must be at least 2 (the prompt and one new id), got {args.block_size}"
        )
    p = PRESETS[args.generate_preset]
    spec = {"model": "gpt", "attention": "fused", "vocab_size": VOCAB_SIZE, "dropout": 0.0}
    spec.update(n_layer=p.n_layer, n_head=p.n_head, n_embd=p.n_embd, block_size=args.block_size)
    sizes.check_fits(
        sizes.model_bytes(spec),
        torch.device("cpu"),
        f"the generation model at --block-size {args.block_size}",
        "choose a smaller --block-size",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="for training")
    parser.add_argument(
        "--generate-preset", default="lecture", choices=sorted(PRESETS), help="for generation"
    )
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--train-steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--new-tokens", type=int, default=500)
    parser.add_argument("--block-size", type=int, default=256, help="for generation")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bpe-vocab-size", type=int, default=1024, help="for BPE training")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="of the training cases; auto: fp32 or bf16, whichever a timed step says is "
        "faster, as the trainer decides (gptkata.lab.precision)",
    )
    parser.add_argument(
        "--lecture-batch", type=int, default=8, help="sequences per step at the lecture's sizes"
    )
    parser.add_argument(
        "--lecture-steps", type=int, default=2, help="steps per timed repeat at the lecture's sizes"
    )
    parser.add_argument(
        "--versus",
        action="store_true",
        help="also train the modern and the cpu preset for 85 s each, side by side "
        "(benchmarks.versus, about 4 minutes)",
    )
    parser.add_argument("--out", type=Path, default=paths.RUNS / "bench.json")
    parser.add_argument("--case", choices=ALL_CASES, help=argparse.SUPPRESS)  # a child's one case
    return parser


def main(argv: list[str] | None = None, cases: tuple[str, ...] = ALL_CASES) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        if args.case:
            print(json.dumps(run_case(args.case, args)))
            return 0
        return run_all(args, cases)
    except (ValueError, CaseFailed) as error:
        print(f"make bench: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"make bench: cannot write {args.out} ({error.strerror or error})", file=sys.stderr)
        return 1


def run_all(args: argparse.Namespace, cases: tuple[str, ...] = ALL_CASES) -> int:
    """Every case, one after the other, each in its own process; the report."""
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
        "bpe_vocab_size": args.bpe_vocab_size,
        "load_before": os.getloadavg()[0],
        "precision": args.precision,
        "lecture_batch": args.lecture_batch,
        "lecture_steps": args.lecture_steps,
        "cpu": cpu.report(),
    }
    results = {}
    mark = cpu_mark()
    for name in cases:
        print(f"running {name} ...", flush=True)
        results[name] = run_in_child(name, args)
    settings["others_cpu_percent"] = 100 * others_share(mark)
    report = bench_report.combined_report(results, settings)
    modern_preset = None
    if getattr(args, "versus", False):
        print("running the cpu and the modern preset, 85 s each ...", flush=True)
        try:
            modern_preset = versus.compare(paths.RUNS / "versus", [])
            report["modern_preset"] = modern_preset
        except SystemExit as failed:  # one preset's run failed: the rest is still reported
            print(failed, flush=True)
    print()
    print("\n".join(bench_report.combined_lines(report)))
    print("\n".join(versus.bench_lines(modern_preset, paths.RUNS / "versus.json")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_json(args.out, report)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

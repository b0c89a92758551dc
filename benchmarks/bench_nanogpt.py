"""`make bench-nanogpt`: the default `make train` against nanoGPT's CPU recipe, side by
side on this machine.

nanoGPT's README trains its character-level Shakespeare model on a CPU with 4
layers, 4 heads, 128 channels, block 64, batch 12 and 2,000 steps, in float32, and
reports a val loss of about 1.88. The `nanogpt` preset is that recipe in this
trainer. This command trains it (`--precision fp32`, as nanoGPT runs it), then the
`cpu` preset as `make train` runs it, one after the other, each in its own process,
and prints for each: the val loss, the training time, the final estimate's time,
their sum (the total wall time the goal is about), the process's whole life
(start-up and the sample included), steps, tokens/s, precision and attention kernel.

Goal: the `cpu` preset's val loss at least 0.05 below the recipe's, in no more total
wall time. Both runs count steps (2,000 and the cpu preset's 1,500), so their val
losses do not depend on the machine's speed; their times do, and both runs share the
machine with whatever else runs on it, so the report says how much of the CPUs other
processes used during each run. The runs write into a temporary folder
(nothing is kept but runs/bench-nanogpt.json).

    make bench-nanogpt                                  both runs, three to four minutes
    make bench-nanogpt ARGS="--precision fp32"          the cpu preset without bf16 units
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.measure import cpu_mark, others_share
from benchmarks.tables import describe_cpu, table
from gptkata import outputs, paths
from gptkata.data import CorpusError, read_corpus
from gptkata.lab import cpu, presets

PUBLISHED = {"val_loss": 1.88, "source": "nanoGPT's README, 2,000 steps on a CPU"}
MARGIN = 0.05  # nats: the least the default must beat the recipe by


class RunFailed(Exception):
    """A training run failed; the last line it printed says why."""


def train_command(preset: str, out: Path, flags: list[str], data_dir: Path | None) -> list[str]:
    # a run of this benchmark before is moved into previous-<n>/ (the trainer's --overwrite)
    command = [sys.executable, "-m", "gptkata.lab.train", "--preset", preset, "--out", str(out)]
    command.append("--overwrite")
    command += ["--data-dir", str(data_dir)] if data_dir else []
    return command + flags


def run_training(name: str, command: list[str], out: Path) -> dict:
    """One training run in its own process: its log.json, how long the process took,
    and how much of the CPUs other processes used meanwhile."""
    mark = cpu_mark()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    share = others_share(mark)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RunFailed(f"the {name} run failed: {lines[-1]}")
    log = json.loads((out / "log.json").read_text(encoding="utf-8"))
    return summarise_run(log, process_seconds, share)


def summarise_run(log: dict, process_seconds: float, others_share: float) -> dict:
    """The figures of one run that the comparison prints."""
    return {
        "val_loss": log["val_loss"],
        "train_seconds": log["wall_seconds"],
        "final_eval_seconds": log["final_eval_seconds"],
        "total_seconds": log["wall_seconds"] + log["final_eval_seconds"],
        "process_seconds": process_seconds,
        "steps": log["steps"],
        "tokens_per_second": log["tokens_per_second"],
        "precision": log["precision"],
        "attention_kernel": log.get("attention_kernel") or "the katas' heads",
        "final_eval_sequences": log.get("final_eval_sequences"),
        "others_cpu_percent": max(0.0, 100 * others_share),
    }


def verdict(recipe: dict, default: dict) -> str:
    """Whether the default met the goal: a val loss lower by MARGIN, its total time
    (training and final estimate) no longer than the recipe's training alone - nanoGPT's
    own train.py ends without a final estimate, so the recipe is not charged for one."""
    gain = recipe["val_loss"] - default["val_loss"]
    faster = default["total_seconds"] <= recipe["train_seconds"]
    met = gain >= MARGIN and faster
    return (
        f"goal (val at least {MARGIN} lower, total time no longer): {'met' if met else 'missed'}"
        f" - {gain:+.3f} nats lower, {default['total_seconds']:.1f} s in all against the "
        f"recipe's {recipe['train_seconds']:.1f} s of training"
    )


def report_lines(report: dict) -> list[str]:
    s, runs = report["settings"], report["runs"]
    rows = [
        [
            name,
            f"{r['val_loss']:.4f}",
            f"{r['train_seconds']:.1f}",
            f"{r['final_eval_seconds']:.1f}",
            f"{r['total_seconds']:.1f}",
            f"{r['process_seconds']:.1f}",
            f"{r['steps']:,}",
            f"{r['tokens_per_second']:,.0f}",
            r["precision"],
            f"{r['others_cpu_percent']:.0f}%",
        ]
        for name, r in runs.items()
    ]
    rows.append(
        [f"nanoGPT as published ({PUBLISHED['source']})", f"~{PUBLISHED['val_loss']}"] + [""] * 8
    )
    header = ["run", "val loss", "train s", "estimate s", "total s", "process s", "steps"]
    header += ["tokens/s", "precision", "others"]
    out = [
        f"make bench-nanogpt: torch {s['torch']}, {s['threads']} thread(s) on {s['cpus']} "
        f"CPU(s), load average {s['load_before']:.2f} before the runs",
        f"CPU: {describe_cpu(s['cpu'])}",
        "",
        *table(header, rows),
        "",
    ]
    for name, r in runs.items():
        out.append(f"  {name}: attention {r['attention_kernel']}")
    recipe, default = runs[s["recipe_name"]], runs[s["default_name"]]
    out.append("  " + verdict(recipe, default))
    out.append(
        "  total s = training + the final estimate; process s adds start-up, the sample and "
        "the pictures; others: the CPUs other processes used during the run."
    )
    if max(r["others_cpu_percent"] for r in runs.values()) > 10:
        out.append(
            "  Note: other processes used the CPUs during a run, which buys the time-budgeted "
            "preset fewer steps: run it again on a quiet machine."
        )
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench-nanogpt", description=__doc__)
    parser.add_argument("--preset", default="cpu", help="the preset to compare (default: cpu)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="of the compared preset (the recipe always runs in fp32, as nanoGPT does)",
    )
    parser.add_argument("--data-dir", type=Path, help="the folder holding tinyshakespeare.txt")
    parser.add_argument("--out", type=Path, default=paths.RUNS / "bench-nanogpt.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        presets.get(args.preset)
        read_corpus(args.data_dir)  # a one-line error before anything runs
        settings = {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg()[0],
            "cpu": cpu.report(),
            "recipe_name": "nanogpt preset (fp32)",
            "default_name": f"{args.preset} preset ({args.precision})",
        }
        runs = {}
        with tempfile.TemporaryDirectory(prefix="bench-nanogpt-") as scratch:
            planned = (
                (settings["recipe_name"], "nanogpt", ["--precision", "fp32"]),
                (settings["default_name"], args.preset, ["--precision", args.precision]),
            )
            for name, preset, flags in planned:
                out = Path(scratch) / preset
                print(f"training {name} ...", flush=True)
                command = train_command(preset, out, flags, args.data_dir)
                runs[name] = run_training(name, command, out)
        report = {"settings": settings, "runs": runs}
        print()
        print("\n".join(report_lines(report)))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_json(args.out, report)
        print(f"\nwritten to {args.out}")
    except (CorpusError, RunFailed, ValueError) as error:
        print(f"make bench-nanogpt: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"make bench-nanogpt: cannot write {args.out} ({error.strerror or error})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench-nanogpt`: the cpu preset against nanoGPT's CPU recipe, given the same
wall time, side by side on this machine.

nanoGPT's README trains its character-level Shakespeare model on a CPU with 4
layers, 4 heads, 128 channels, block 64, batch 12 and 2,000 steps, in float32, and
reports a val loss of about 1.88. The `nanogpt` preset is that recipe in this
trainer. This command first trains it as nanoGPT runs it (2,000 steps, `--precision
fp32`) and measures how long that took on this machine, in all: from the start of
its process to the end of its training - start-up included, its final estimate not
(nanoGPT's train.py has none). Then it trains the `cpu` preset, in its own process,
given that same wall time in all: its time budget (`--max-seconds`, with the step
limit lifted; the learning-rate schedule follows the elapsed time) is the recipe's
training time less the recipe's final estimate, which is kept free for the preset's
own (the same amount of text, through a smaller model), and less a margin of
MARGIN_SHARE. Its own start-up costs about what the recipe's did; the precision and
attention timings count in its budget. Each run's times come from the moments its
process printed its lines (`timestamps`).

For each run the report prints the val loss, the start-up, training and final
estimate times, the time in all, steps, tokens/s, precision and the CPUs other
processes used, with the machine's CPU line, and the verdict. Goal: the cpu preset's
val loss at least GAIN nats below the recipe's in no more time in all. It also says
how long `make train`'s own step budget (the preset's max_steps) would take here,
from the preset's tokens/s: that budget must end within the recipe's time too.

    make bench-nanogpt                                  both runs, about four minutes
    make bench-nanogpt ARGS="--precision fp32"          the cpu preset without bf16
    make bench-nanogpt ARGS="--budget steps"            the cpu preset as make train runs it

The runs write into a temporary folder (nothing is kept but runs/bench-nanogpt.json).
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
GAIN = 0.05  # nats: the least the cpu preset must beat the recipe by
MARGIN_SHARE = 0.02  # of the recipe's time, kept back from the preset's budget for noise
RECIPE = "nanogpt"


class RunFailed(Exception):
    """A training run failed; the last line it printed says why."""


def train_command(preset: str, out: Path, flags: list[str], data_dir: Path | None) -> list[str]:
    # a run of this benchmark before is moved into previous-<n>/ (the trainer's --overwrite)
    command = [sys.executable, "-m", "gptkata.lab.train", "--preset", preset, "--out", str(out)]
    command.append("--overwrite")
    command += ["--data-dir", str(data_dir)] if data_dir else []
    return command + flags


def launch(command: list[str]) -> tuple[int, list[tuple[float, str]], str]:
    """Run `command` in a fresh process: its exit status, each line it printed with the
    seconds since it started (unbuffered, so each line is timed when it is written),
    and the last of what it wrote to stderr."""
    environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=errors, text=True, env=environ
        )
        lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in child.stdout]
        child.wait()
        lines.append((time.perf_counter() - started, ""))  # the process's end
        errors.seek(0)
        return child.returncode, lines, errors.read()[-4000:]


def timestamps(lines: list[tuple[float, str]]) -> dict:
    """When the trainer printed its announcement ("preset ...": start-up done) and the
    final estimate's line ("... (final)"), and when the process ended (None where a
    line is missing)."""
    announced = next((t for t, text in lines if text.startswith("preset ")), None)
    final = next((t for t, text in lines if text.endswith("(final)")), None)
    return {"announced": announced, "final": final, "process": lines[-1][0] if lines else None}


def run_training(name: str, command: list[str], out: Path) -> dict:
    """One training run in its own process: its figures (`summarise_run`)."""
    mark = cpu_mark()
    code, lines, errors = launch(command)
    share = others_share(mark)
    if code != 0:
        last = errors.strip().splitlines() or [f"exit status {code}"]
        raise RunFailed(f"the {name} run failed: {last[-1]}")
    log = json.loads((out / "log.json").read_text(encoding="utf-8"))
    return summarise_run(log, timestamps(lines), share)


def summarise_run(log: dict, marks: dict, others_share: float) -> dict:
    """The figures of one run that the comparison prints. The final estimate's line
    marks the end of the run in all (start-up, timings, training, final estimate);
    start-up is what came before the training clock (without its timings)."""
    train, estimate = log["wall_seconds"], log["final_eval_seconds"]
    in_all = marks["final"] if marks.get("final") is not None else train + estimate
    return {
        "val_loss": log["val_loss"],
        "startup_seconds": max(0.0, in_all - train - estimate),
        "train_seconds": train,
        "final_eval_seconds": estimate,
        "total_seconds": in_all,
        "process_seconds": marks.get("process") or in_all,
        "steps": log["steps"],
        "tokens_per_second": log["tokens_per_second"],
        "tokens_per_step": log["settings"]["batch_size"] * log["settings"]["block_size"],
        "precision": log["precision"],
        "precision_why": timed_why(log),
        "attention_kernel": log.get("attention_kernel") or "the katas' heads",
        "others_cpu_percent": max(0.0, 100 * others_share),
    }


def timed_why(log: dict) -> str | None:
    """Why a run's precision was chosen, where it was timed (gptkata.lab.precision)."""
    chosen = log.get("history", {}).get("precision")
    return chosen["why"] if isinstance(chosen, dict) and chosen.get("timings_ms") else None


def recipe_seconds(recipe: dict) -> float:
    """The recipe's time in all, as nanoGPT's train.py spends it: start-up and
    training, not the final estimate it does not make."""
    return recipe["total_seconds"] - recipe["final_eval_seconds"]


def budget(recipe: dict) -> float:
    """The cpu preset's --max-seconds: the recipe's training time, less its final
    estimate (kept free for the preset's own) and MARGIN_SHARE of its time in all."""
    spare = recipe["final_eval_seconds"] + MARGIN_SHARE * recipe_seconds(recipe)
    return max(1.0, recipe["train_seconds"] - spare)


def verdict(recipe: dict, default: dict) -> str:
    """Whether the preset met the goal: a val loss lower by GAIN, in no more time in
    all than the recipe's (`recipe_seconds`)."""
    gain = recipe["val_loss"] - default["val_loss"]
    limit = recipe_seconds(recipe)
    met = gain >= GAIN and default["total_seconds"] <= limit
    return (
        f"goal (val at least {GAIN} lower, no more time in all): {'met' if met else 'missed'}"
        f" - {gain:+.3f} nats lower, {default['total_seconds']:.1f} s in all against the "
        f"recipe's {limit:.1f} s"
    )


def step_budget_line(recipe: dict, default: dict, preset: presets.Preset) -> str:
    """How long the preset's own step budget (make train) would take here, from the
    run's tokens/s, start-up and final estimate, against the recipe's time."""
    steps = preset.max_steps
    estimate = default["startup_seconds"] + default["final_eval_seconds"]
    estimate += steps * default["tokens_per_step"] / default["tokens_per_second"]
    within = "within" if estimate <= recipe_seconds(recipe) else "NOT within"
    return (
        f"  make train's own budget, {steps:,} steps at these tokens/s: about {estimate:.0f} s "
        f"in all, {within} the recipe's {recipe_seconds(recipe):.1f} s"
    )


def report_lines(report: dict) -> list[str]:
    s, runs = report["settings"], report["runs"]
    rows = [
        [
            name,
            f"{r['val_loss']:.4f}",
            f"{r['startup_seconds']:.1f}",
            f"{r['train_seconds']:.1f}",
            f"{r['final_eval_seconds']:.1f}",
            f"{r['total_seconds']:.1f}",
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
    header = ["run", "val loss", "start-up s", "train s", "estimate s", "in all s", "steps"]
    header += ["tokens/s", "precision", "others"]
    recipe, default = runs[s["recipe_name"]], runs[s["default_name"]]
    out = [
        f"make bench-nanogpt: torch {s['torch']}, {s['threads']} thread(s) on {s['cpus']} "
        f"CPU(s), load average {s['load_before']:.2f} before the runs",
        f"CPU: {describe_cpu(s['cpu'])}",
        f"The {s['preset']} preset's budget: {s['budget']}",
        "",
        *table(header, rows),
        "",
    ]
    for name, r in runs.items():
        out.append(f"  {name}: attention {r['attention_kernel']}")
        if r.get("precision_why"):
            out.append(f"  {name}: precision {r['precision']} ({r['precision_why']})")
    out.append("  " + verdict(recipe, default))
    out.append(step_budget_line(recipe, default, presets.get(s["preset"])))
    out.append(
        "  in all = start-up + training (the timings before it included) + the final "
        "estimate, which the recipe is not charged (nanoGPT's train.py makes none); "
        "others: the CPUs other processes used during the run."
    )
    if max(r["others_cpu_percent"] for r in runs.values()) > 10:
        out.append(
            "  Note: other processes used the CPUs during a run, so the times are noisy: "
            "run it again on a quiet machine."
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
    parser.add_argument(
        "--budget",
        default="time",
        choices=("time", "steps"),
        help="time: the preset gets the recipe's wall time; steps: its own step budget, "
        "as make train runs it",
    )
    parser.add_argument("--data-dir", type=Path, help="the folder holding tinyshakespeare.txt")
    parser.add_argument("--out", type=Path, default=paths.RUNS / "bench-nanogpt.json")
    return parser


def compare(args: argparse.Namespace, settings: dict, scratch: Path) -> dict:
    """The recipe, then the preset given the recipe's time (or its own steps)."""
    runs = {}
    name = settings["recipe_name"]
    print(f"training {name} ...", flush=True)
    command = train_command(RECIPE, scratch / RECIPE, ["--precision", "fp32"], args.data_dir)
    runs[name] = recipe = run_training(name, command, scratch / RECIPE)
    flags = ["--precision", args.precision]
    if args.budget == "time":
        seconds = budget(recipe)
        flags += ["--max-seconds", f"{seconds:.1f}", "--max-steps", "1000000"]
        settings["budget"] = (
            f"{seconds:.1f} s of training (the recipe's {recipe_seconds(recipe):.1f} s in "
            f"all, less its start-up, its final estimate and {MARGIN_SHARE:.0%})"
        )
    name = settings["default_name"]
    print(f"training {name}, {settings['budget']} ...", flush=True)
    out = scratch / args.preset
    runs[name] = run_training(name, train_command(args.preset, out, flags, args.data_dir), out)
    return runs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        preset = presets.get(args.preset)
        read_corpus(args.data_dir)  # a one-line error before anything runs
        settings = {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_before": os.getloadavg()[0],
            "cpu": cpu.report(),
            "preset": args.preset,
            "budget": f"its own {preset.max_steps:,} steps, as make train runs it",
            "recipe_name": f"{RECIPE} preset (fp32)",
            "default_name": f"{args.preset} preset ({args.precision})",
        }
        with tempfile.TemporaryDirectory(prefix="bench-nanogpt-") as scratch:
            runs = compare(args, settings, Path(scratch))
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

"""The modern GPT against kata 10's fused GPT, side by side: `make train PRESET=cpu`
and `make train PRESET=modern` on this machine, one after the other, each in its own
process.

Both presets train for the same 85 seconds (the modern preset's time budget; the
cpu preset's own budget of 1,400 steps is lifted for it) with the same recipe (batch,
learning rate and schedule, 96 channels, 64 characters); the modern one swaps the position
table for rotary positions and a sliding window, the LayerNorms for RMSNorm and the
ReLU feed-forward for SwiGLU; both have 3 layers of 3 heads. Each
run writes its own runs/versus/<preset>/ (log.json, checkpoint, samples) and the
comparison goes to runs/versus.json: the final val loss (the trainer's final
estimate), steps, tokens/s and wall time of each, and how much of the CPUs other
processes used meanwhile.

    .venv/bin/python -m benchmarks.versus                        # about 4 minutes
    .venv/bin/python -m benchmarks.versus --args "--max-seconds 30"
    make bench ARGS=--versus                 # the same, as the last rows of make bench

Without `--versus`, `make bench` shows the comparison last written to
runs/versus.json, saying when it was measured, or how to measure it.

A time budget buys fewer steps on a busy machine, so compare figures from one run
of this command, and only on a quiet machine with figures from elsewhere.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import bench_nanogpt
from benchmarks.measure import cpu_mark, others_share
from benchmarks.tables import table
from gptkata import paths

PRESETS = ("cpu", "modern")
SAME_TIME = ["--max-seconds", "85", "--max-steps", "1000000"]  # before --args: they may override
FIGURES = ("val_loss", "train_loss", "steps", "tokens_per_second", "wall_seconds")


def train_command(preset: str, out: Path, extra: list[str]) -> list[str]:
    """`make train PRESET=<preset>` into `out` for 85 s, then `extra`'s flags."""
    return bench_nanogpt.train_command(preset, out, [*SAME_TIME, *extra], data_dir=None)


def run_preset(preset: str, out: Path, extra: list[str]) -> dict:
    """`make train PRESET=<preset>` into `out` in a fresh process; its log.json."""
    done = subprocess.run(train_command(preset, out, extra), cwd=paths.ROOT)
    if done.returncode != 0:
        raise SystemExit(f"make train PRESET={preset} failed (exit {done.returncode})")
    return json.loads((out / "log.json").read_text(encoding="utf-8"))


def summary(logs: dict, others_cpu_percent: float, extra: list[str]) -> dict:
    """The figures of both runs and the difference of their val losses."""
    return {
        "runs": {name: {k: log[k] for k in FIGURES} for name, log in logs.items()},
        "val_loss_gain_modern": logs["cpu"]["val_loss"] - logs["modern"]["val_loss"],
        "others_cpu_percent": others_cpu_percent,
        "args": extra,
    }


def report_lines(report: dict) -> list[str]:
    rows = [
        [
            name,
            f"{r['val_loss']:.3f}",
            f"{r['train_loss']:.3f}",
            f"{r['steps']:,}",
            f"{r['tokens_per_second']:,.0f}",
            f"{r['wall_seconds']:.1f}",
        ]
        for name, r in report["runs"].items()
    ]
    header = ["preset", "val loss", "train loss", "steps", "tokens/s", "wall s"]
    gain = report["val_loss_gain_modern"]
    verdict = "lower" if gain > 0 else "NOT lower"
    out = table(header, rows)
    out.append(f"  the modern preset's val loss is {abs(gain):.3f} {verdict} than cpu's")
    out.append(f"  other processes used {report['others_cpu_percent']:.0f}% of the CPUs meanwhile")
    return out


def compare(out: Path, extra: list[str]) -> dict:
    """Both presets, one after the other, into `out`/<preset>; the comparison, also
    written to `out`.json."""
    mark = cpu_mark()
    logs = {name: run_preset(name, out / name, extra) for name in PRESETS}
    report = summary(logs, 100 * others_share(mark), extra)
    report["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def bench_lines(report: dict | None, path: Path) -> list[str]:
    """make bench's rows: the comparison it ran, or the last one in `path`, or how to
    measure one."""
    title = "The modern preset against cpu, 85 s each, side by side (goal: a lower val loss)"
    if report is not None:
        return ["", title, *report_lines(report)]
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        lines = report_lines(stored)
    except (OSError, ValueError, KeyError, TypeError):
        return [
            "",
            f"{title}: not measured on this machine yet; make bench ARGS=--versus adds it "
            "(about 4 minutes)",
        ]
    when = stored.get("measured_at") or time.strftime(
        "%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime)
    )
    return [
        "",
        f"{title}: from {path} ({when}; make bench ARGS=--versus measures it again)",
        *lines,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.versus", description=__doc__)
    parser.add_argument("--args", default="", help="more flags for both runs, e.g. '--seed 7'")
    parser.add_argument("--out", type=Path, default=paths.RUNS / "versus")
    args = parser.parse_args(argv)
    report = compare(args.out, shlex.split(args.args))
    print("\n".join(report_lines(report)))
    print(f"written to {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

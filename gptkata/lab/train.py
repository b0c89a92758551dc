"""`make train`: train the reference GPT (or the bigram model) for real.

    make train                                 the cpu preset: 1,500 steps, 1-2 minutes
    make train PRESET=bigram                   the seed notebook's bigram model, seconds
    make train PRESET=lecture                  the lecture's 10.8M-parameter GPT, for a GPU
    make train ARGS="--max-seconds 30"         any setting of a preset, as a flag
    make train ARGS="--resume"                 continue runs/cpu/ckpt.pt where it stopped
    torchrun --nproc_per_node=2 -m gptkata.lab.train --preset cpu     data parallel (DDP)

This module is the command line: every setting of a preset is a flag of the same
name (`--help` lists each with every preset's value), checked before anything runs.
The run itself is gptkata.lab.trainer's `train`. This is the entry point, run as
`python -m gptkata.lab.train` (or through `python -m gptkata train`); nothing it
imports imports it back, so it is loaded once, even as __main__.

A run writes into its output directory (--out, by default runs/<preset>/), which it
holds locked while it trains, and which must not hold another run's checkpoint
unless --resume or --overwrite says what to do with it (gptkata.lab.rundir):

    ckpt.pt        a checkpoint at every evaluation and at the end (gptkata.lab.checkpoint)
    log.json       the settings, the loss history, and the final train_loss, val_loss
                   (estimated on final_eval_iters batches), wall_seconds (training time)
                   and tokens_per_second
    loss.png       the loss curve
    sample.txt     text sampled at the end (also printed)
    attention.png  the attention heatmap of the start of the sample (GPT only)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from gptkata import outputs
from gptkata.data import CorpusError
from gptkata.lab import checkpoint, presets
from gptkata.lab.loop import TrainingStopped
from gptkata.lab.presets import Preset
from gptkata.lab.trainer import train


def flag_help(setting) -> str:
    """A setting's help, followed by its value in every preset."""
    values = ", ".join(f"{name} {getattr(p, setting.name)}" for name, p in presets.PRESETS.items())
    return f"{setting.metadata['help']} [{values}]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make train",
        description="Train the reference GPT. Every setting of a preset can be overridden by "
        "its flag; [brackets] show each preset's value.",
    )
    parser.add_argument(
        "--preset",
        default="cpu",
        choices=presets.PRESETS,
        help="the preset to start from (default: cpu; with make: make train PRESET=<name>)",
    )
    parser.add_argument("--out", type=Path, help="the output directory (default: runs/<preset>/)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in an --out that holds a checkpoint, after moving the earlier "
        "run's files into --out/previous-<n>/",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="the folder holding tinyshakespeare.txt (default: data/)"
    )
    for setting in presets.settings():
        flag = presets.flag(setting.name)
        kind = type(setting.default)
        options = {"default": argparse.SUPPRESS, "help": flag_help(setting)}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        else:
            parser.add_argument(flag, type=kind, choices=setting.metadata["choices"], **options)
    return parser


@dataclass
class Command:
    """What the command line asks for."""

    preset: str
    settings: Preset  # the preset with the flags given applied
    out: Path | None
    resume: bool
    data_dir: Path | None
    overwrite: bool = False


def parse(argv: list[str] | None = None) -> Command:
    """The command line as a Command; a ValueError for settings that make no sense."""
    options = vars(build_parser().parse_args(argv))
    name = options.pop("preset")
    out, resume, data_dir = options.pop("out"), options.pop("resume"), options.pop("data_dir")
    overwrite = options.pop("overwrite")
    if resume and overwrite:
        raise ValueError(
            "--resume continues the run in --out and --overwrite starts over: give one"
        )
    settings = presets.override(presets.get(name), **options)  # only the flags given
    presets.check(settings)
    return Command(name, settings, out, resume, data_dir, overwrite)


def main(argv: list[str] | None = None) -> int:
    """Train as the command line `argv` says; 0, or 1 after a one-line error."""
    try:
        command = parse(argv)
        train(
            command.preset,
            command.settings,
            command.out,
            command.resume,
            command.data_dir,
            command.overwrite,
        )
    except (
        CorpusError,
        checkpoint.CheckpointError,
        outputs.OutputError,
        TrainingStopped,
        ValueError,
    ) as error:
        print(f"make train: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make train`: train the reference GPT (or the bigram model) for real - or your own.

    make train                                 the cpu preset: 1,400 steps, about a minute
    make train MINE=1 [MODEL=fused|modern]     your own GPT on your katas (gptkata.lab.mine)
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

A run writes into its output directory (--out, by default runs/<preset>/, and
runs/mine/ for --mine), which it
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
from dataclasses import asdict, dataclass
from pathlib import Path

from gptkata import outputs, paths
from gptkata.data import CorpusError
from gptkata.kata import blame, select
from gptkata.lab import checkpoint, mine, models, presets
from gptkata.lab.loop import NotFinite, TrainingStopped
from gptkata.lab.presets import Preset
from gptkata.lab.trainer import train


def flag_help(setting) -> str:
    """A setting's help, followed by its value in every preset."""
    values = ", ".join(f"{name} {getattr(p, setting.name)}" for name, p in presets.PRESETS.items())
    return f"{setting.metadata['help']} [{values}]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make train",
        description="Train the reference GPT, or with --mine your own. Every setting of a "
        "preset can be overridden by its flag; [brackets] show each preset's value.",
    )
    parser.add_argument(
        "--preset",
        choices=presets.PRESETS,
        help="the preset to start from (default: cpu; with make: make train PRESET=<name>)",
    )
    parser.add_argument(
        "--mine",
        nargs="?",
        const="gpt",
        choices=mine.MODELS,
        help="train your own model from exercises/ - kata 9's gpt, kata 10's fused or kata "
        "16's modern - with your katas where they are done (with make: make train MINE=1 "
        "[MODEL=fused|modern]); each model follows a preset's recipe: "
        + ", ".join(f"{name} {model.recipe}" for name, model in mine.MODELS.items()),
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
    mine: str | None = None  # the learner's model: gpt, fused or modern


def parse(argv: list[str] | None = None) -> Command:
    """The command line as a Command; a ValueError for settings that make no sense."""
    options = vars(build_parser().parse_args(argv))
    name, model = options.pop("preset"), options.pop("mine")
    out, resume, data_dir = options.pop("out"), options.pop("resume"), options.pop("data_dir")
    overwrite = options.pop("overwrite")
    if resume and overwrite:
        raise ValueError(
            "--resume continues the run in --out and --overwrite starts over: give one"
        )
    if model is not None:
        check_mine(name, options)
        base, name = mine.settings(model), mine.NAME
    else:
        name = name or "cpu"
        base = presets.get(name)
    settings = presets.override(base, **options)  # only the flags given
    presets.check(settings)
    return Command(name, settings, out, resume, data_dir, overwrite, model)


def check_mine(preset: str | None, options: dict) -> None:
    """A ValueError for flags that choose what --mine chooses itself."""
    if preset is not None:
        raise ValueError(
            "--mine trains your own model with its own recipe: drop --preset (with make: "
            "PRESET=), and choose the model with MODEL=gpt, fused or modern"
        )
    for flag in ("model", "attention"):
        if flag in options:
            raise ValueError(
                f"--mine chooses the model: drop --{flag}, use MODEL=gpt, fused or modern"
            )
    if options.get("tokenizer", "char") != "char":
        raise ValueError("--mine trains on characters, with your tokenizer of kata 1")


def train_mine(command: Command) -> None:
    """`make train MINE=1`: the table of whose code runs, a note if the model is far
    slower than the reference's, then the run; one line if it trains to nan."""
    print("make train MINE=1: checking which of your katas are done (as make progress does)")
    parts = mine.training_kit(command.mine)
    print(mine.table(parts, "make train MINE=1"))
    spec = {**models.model_spec(command.settings, mine.vocab_size(command.data_dir)), **parts.model}
    try:
        note = mine.speed_note(spec, command.settings)
        if note:
            print(note)
        train(
            command.preset,
            command.settings,
            command.out,
            command.resume,
            command.data_dir,
            command.overwrite,
            parts,
        )
    except NotFinite as error:
        raise TrainingStopped(mine.not_finite_line(error, parts)) from error
    except Exception as error:  # the learner's code raised while it trained: its line
        frames = blame.frames_in(error, paths.EXERCISES)
        if not frames:
            raise
        where = blame.at(frames[-1])
        raise TrainingStopped(
            f"your code raised {type(error).__name__}: {error} ({where}), although its kata "
            "passes its tests"
        ) from error


def check_reference(settings: Preset) -> None:
    """A ValueError where the reference the run trains is not here (a student edition)."""
    needed = ("tokenizer", "batching", "training", "sampling", models.model_kata(asdict(settings)))
    missing = [kata for kata in needed if not select.provided(kata, "solutions")]
    if missing:
        raise ValueError(
            f"this edition has no reference of {', '.join(missing)} to train: "
            "make train MINE=1 trains your own GPT"
        )


def main(argv: list[str] | None = None) -> int:
    """Train as the command line `argv` says; 0, or 1 after a one-line error."""
    try:
        command = parse(argv)
        if command.mine is not None:
            train_mine(command)
            return 0
        check_reference(command.settings)
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
        select.KataBroken,
    ) as error:
        print(f"make train: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

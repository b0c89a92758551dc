"""The command line of `make train`: every setting of a preset is a flag of the same
name; `--help` lists each with every preset's value."""

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
from gptkata.lab.train import train


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

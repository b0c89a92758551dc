"""Checkpoints: everything needed to continue a run, or to sample from it, as plain data.

A checkpoint is one file written by `torch.save`, holding a dict of tensors,
strings, numbers, lists and dicts only - no classes, no functions. It is read with
`torch.load(path, weights_only=True)`, which refuses anything else. That matters: a
general pickle file can run any code while it is being loaded, so a checkpoint
downloaded from somewhere could take over your machine; a weights-only load cannot.

What is inside:

    format            "gptkata-checkpoint-1"
    spec              how to build the model (see gptkata.lab.models)
    vocab             the vocabulary as one string, in id order
    model             the model's state_dict
    optimizer         the optimizer's state_dict (AdamW's moving averages and step counts)
    step              optimiser steps done
    elapsed_seconds   seconds of training so far
    tokens            training tokens seen so far, by all processes together
    settings          the run's Preset, as a dict
    rng               one entry per process: its batch generator's and torch's RNG states
    history           the losses so far (see gptkata.lab.train)
    checksum          SHA-256 of all of the above

Saving is atomic (see gptkata.outputs): a crash mid-save leaves the previous
checkpoint intact. Loading checks the checksum, because `torch.load` itself only
notices a damaged file *structure*: a flipped bit inside a tensor would load as a
silently wrong weight.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from gptkata.lab.models import SHAPE_FIELDS
from gptkata.outputs import write_atomically

FORMAT = "gptkata-checkpoint-1"
FILENAME = "ckpt.pt"
CONTENTS = (
    "format",
    "spec",
    "vocab",
    "model",
    "optimizer",
    "step",
    "elapsed_seconds",
    "tokens",
    "settings",
    "rng",
    "history",
)


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, damaged or for another model. One line."""


def checksum(checkpoint: dict) -> str:
    """SHA-256 over every entry of CONTENTS: tensors by their dtype, shape and bytes,
    everything else by its repr, walking dicts and lists in order."""
    digest = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor {value.dtype} {tuple(value.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(f"dict {len(value)}".encode())
            for key, item in value.items():
                feed(key)
                feed(item)
        elif isinstance(value, (list, tuple)):
            digest.update(f"list {len(value)}".encode())
            for item in value:
                feed(item)
        else:
            digest.update(repr(value).encode())

    for name in CONTENTS:
        feed(name)
        feed(checkpoint[name])
    return digest.hexdigest()


def save(path: Path, checkpoint: dict) -> Path:
    """Write `checkpoint` (a dict with every entry of CONTENTS) atomically to `path`."""
    missing = [name for name in CONTENTS if name not in checkpoint]
    if missing:
        raise ValueError(f"a checkpoint needs {', '.join(missing)}")
    complete = {**{name: checkpoint[name] for name in CONTENTS}, "checksum": checksum(checkpoint)}
    return write_atomically(path, lambda f: torch.save(complete, f))


def load(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint at `path`, verified; a CheckpointError saying what is wrong otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"there is no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path} was refused by the weights-only load ({_refusal(error)}): it is damaged, "
            "or it holds pickled objects or code, which are never run"
        ) from error
    except Exception as error:  # zip, EOF and read errors of a truncated or damaged file
        raise CheckpointError(
            f"{path} is truncated or corrupted and cannot be read "
            f"({type(error).__name__}: {_first_line(error)})"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a GPT Kata checkpoint (format {FORMAT!r})")
    missing = [name for name in (*CONTENTS, "checksum") if name not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it has no {', '.join(missing)}")
    if checksum(checkpoint) != checkpoint["checksum"]:
        raise CheckpointError(
            f"{path} is corrupted: its contents do not match the checksum written with them"
        )
    return checkpoint


def check_compatible(path: Path, checkpoint: dict, spec: dict, vocab: str) -> None:
    """A CheckpointError naming every field in which the checkpoint's model differs
    from `spec` (and the vocabulary from `vocab`); nothing if they match."""
    saved = checkpoint["spec"]
    differences = [
        f"{name} is {saved.get(name)!r} there but {spec.get(name)!r} here"
        for name in SHAPE_FIELDS
        if saved.get(name) != spec.get(name)
    ]
    if checkpoint["vocab"] != vocab:
        differences.append(
            f"vocab has {len(checkpoint['vocab'])} characters there and {len(vocab)} here "
            "(another corpus)"
        )
    if differences:
        raise CheckpointError(
            f"{path} holds another model: {'; '.join(differences)}. Resume with the "
            "settings it was trained with, or train a new one in another --out"
        )


def _refusal(error: BaseException) -> str:
    """The reason in torch's long weights-only message: 'Unsupported global: ...'."""
    _, _, reason = str(error).partition("WeightsUnpickler error:")
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    return lines[0].split(". ")[0] if lines else _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

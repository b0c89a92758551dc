"""Checkpoints: everything needed to continue a run, or to sample from it, as plain data.

A checkpoint is one file written by `torch.save`, holding a dict of tensors,
strings, numbers, lists and dicts only - no classes, no functions. It is read with
`torch.load(path, weights_only=True)`, which refuses anything else. That matters: a
general pickle file can run any code while it is being loaded, so a checkpoint
downloaded from somewhere could take over your machine; a weights-only load cannot.

What is inside:

    format            "gptkata-checkpoint-1"
    spec              how to build the model (see gptkata.lab.models)
    vocab             the tokenizer as one string: the characters in id order, or
                      "bpe " and the BPE merges as JSON (gptkata.lab.tokenizers)
    model             the model's state_dict
    optimizer         the optimizer's state_dict (AdamW's moving averages and step counts)
    step              optimiser steps done
    elapsed_seconds   seconds of training so far
    tokens            training tokens seen so far, by all processes together
    settings          the run's Preset, as a dict
    rng               one entry per process: its batch generator's and torch's RNG states
    history           the losses so far (see gptkata.lab.run_state)
    checksum          SHA-256 of all of the above

Saving is atomic (see gptkata.outputs): a crash mid-save leaves the previous
checkpoint intact. Loading checks the checksum, because `torch.load` itself only
notices a damaged file *structure*: a flipped bit inside a tensor would load as a
silently wrong weight.

A valid checksum proves only that the file is what its writer wrote, not that the
writer was this trainer: anyone can compute one. So loading also checks every entry
(its type, its range), the model's description (gptkata.lab.sizes: sizes that make
sense, a model that fits into memory) and that the weights have exactly the model's
names and shapes, all before a model is built. A refusal is one line that says what
is wrong; it never suggests turning the weights-only load off, nor allowing the
function a file asks for (torch's `add_safe_globals` advice): a pickle names every
function it wants called as a GLOBAL (`builtins.exec`, `posix.system`), and calling
one is running the file's code.

Plain data can still hold numbers that break a run: weights that are nan or inf
(what a diverged run computes, and what this trainer never saves) would sample a
traceback and resume into a loss of nan at once, so they are refused too, and so is
a loss history of another shape, which the loop and the loss curve read.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import re
from pathlib import Path

import torch

from gptkata.lab import sizes, tokenizers
from gptkata.lab.models import SHAPE_FIELDS, state_dict_problems
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
        name = _refused_global(error)
        if name is not None:
            raise CheckpointError(
                f"{path} was refused by the weights-only load because it asks to run code, "
                f"the global {name}, which was not run: a GPT Kata checkpoint is plain data, "
                "never pickled objects or code, so use one written by `make train`"
            ) from error
        raise CheckpointError(
            f"{path} was refused by the weights-only load ({_refusal(error)}): it holds "
            "pickled objects or code, which are never run, or it is damaged; a GPT Kata "
            "checkpoint is plain data, so use one written by `make train`"
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
    problem = _contents_problem(checkpoint, torch.device(map_location))
    if problem:
        raise CheckpointError(f"{path} cannot be used: {problem}")
    return checkpoint


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _contents_problem(checkpoint: dict, device: torch.device) -> str | None:
    """What is wrong with the entries of a checkpoint, in words; None if nothing is.
    Everything is checked by looking, before any model is built."""
    spec, vocab, weights = checkpoint["spec"], checkpoint["vocab"], checkpoint["model"]
    try:
        sizes.check_spec(spec)
    except ValueError as error:
        return f"its model description makes no sense ({error})"
    problem = tokenizers.vocab_problem(vocab, spec["vocab_size"])
    if problem:
        return problem
    for name in ("step", "tokens"):
        if not _is_count(checkpoint[name]):
            return f"its {name} is {checkpoint[name]!r}, not a whole number of 0 or more"
    seconds = checkpoint["elapsed_seconds"]
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return f"its elapsed_seconds is {seconds!r}, not a number of 0 or more"
    kinds = {"model": dict, "optimizer": dict, "settings": dict, "rng": list, "history": dict}
    for name, kind in kinds.items():
        if not isinstance(checkpoint[name], kind):
            return f"its {name} is a {type(checkpoint[name]).__name__}, not a {kind.__name__}"
    optimizer, history = checkpoint["optimizer"], checkpoint["history"]
    if not isinstance(optimizer.get("state"), dict) or not isinstance(
        optimizer.get("param_groups"), list
    ):
        return "its optimizer has no state and param_groups"
    problem = _history_problem(history)
    if problem:
        return problem
    if not all(isinstance(entry, dict) for entry in checkpoint["rng"]):
        return "its rng is not a list of random generator states"
    try:
        sizes.check_fits(
            sizes.model_bytes(spec),
            device,
            f"its model ({sizes.parameter_count(spec):,} parameters)",
            "it was trained on a bigger machine, or it is not a real checkpoint",
        )
    except ValueError as error:
        return str(error)
    problems = state_dict_problems(spec, weights)
    if problems:
        return f"its weights do not fit its model description: {'; '.join(problems[:3])}"
    broken = not_finite(weights)
    if broken:
        return (
            f"its weights are not all finite numbers ({broken} holds nan or inf), as after "
            "a run that diverged: use another checkpoint, or train a new one"
        )
    return None


def not_finite(tensors: dict) -> str | None:
    """The name of the first floating-point tensor of `tensors` holding a nan or an inf;
    None when every number is finite (a nan would spread to every weight at the first
    step, and make the softmax of sampling a nan)."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return str(name)
    return None


# What an eval entry of the history holds (gptkata.lab.loop.eval_entry): the loop and
# the loss curve read step, train and val; the others came later, so an older
# checkpoint may lack them, but where they are they must be of their kind.
EVAL_NEEDS = {"step": "count", "train": "number", "val": "number"}
EVAL_MAY_HAVE = {"batches": "count", "lr": "number or None", "seconds": "number"}


def _kind_problem(value, kind: str) -> str | None:
    """'not a <kind>' when `value` is not of `kind` (count, number, number or None)."""
    if kind == "number or None" and value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "count" and not _is_count(value):
        return "not a whole number of 0 or more"
    if kind != "count" and not is_number:
        return f"not a {kind}"
    return None


def _history_problem(history: dict) -> str | None:
    """What is wrong with a loss history (gptkata.lab.run_state.Progress.history), in
    words: `evals` a list of eval entries (gptkata.lab.loop.eval_entry), `step_losses` a
    list of numbers, and `attention_path`, if there, a string; None if nothing is."""
    for name in ("evals", "step_losses"):
        if not isinstance(history.get(name), list):
            return f"its history has no list of {name}"
    needs = ", ".join(EVAL_NEEDS)
    for i, entry in enumerate(history["evals"]):
        where = f"its history.evals[{i}]"
        if not isinstance(entry, dict):
            return f"{where} is a {type(entry).__name__}, not a dict of {needs}"
        for key, kind in (EVAL_NEEDS | EVAL_MAY_HAVE).items():
            if key not in entry and key in EVAL_NEEDS:
                return f"{where} has no {key} (each entry has at least {needs})"
            problem = _kind_problem(entry[key], kind) if key in entry else None
            if problem:
                return f"{where}.{key} is {entry[key]!r}, {problem}"
    for i, loss in enumerate(history["step_losses"]):
        if _kind_problem(loss, "number"):
            return f"its history.step_losses[{i}] is {loss!r}, not a number"
    path = history.get("attention_path")
    if path is not None and not isinstance(path, str):
        return f"its history.attention_path is {path!r}, not a string"
    return None


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


# Sentences of torch's weights-only message that are advice, not the reason. One
# suggests loading with weights_only=False, another allowing the refused function with
# add_safe_globals: either would run the code in the file.
_ADVICE = ("weights only load failed", "weights_only", "check the documentation", "re-running")
_ADVICE += ("safe_globals", "allowlist", "trust")
# How torch names the function a pickle asks for: "GLOBAL posix.system", "GLOBAL exec"
# (torch drops the "builtins." of Python's own functions).
_GLOBAL = re.compile(r"\bGLOBAL ([A-Za-z_][\w.]*)")


def _refused_global(error: BaseException) -> str | None:
    """The full name of the function whose GLOBAL the weights-only load refused, such as
    'builtins.exec' or 'posix.system'; None for a refusal of anything else."""
    match = _GLOBAL.search(str(error))
    if match is None:
        return None
    name = match.group(1).rstrip(".")
    return name if "." in name else f"builtins.{name}"


def _refusal(error: BaseException) -> str:
    """The reason in torch's long weights-only message, such as 'unsupported operand
    149', without torch's advice around it (whole sentences of it are dropped)."""
    text = str(error).partition("WeightsUnpickler error:")[2] or str(error)
    for line in (line.strip() for line in text.splitlines()):
        sentences = [s for s in re.split(r"(?<=\.)\s+", line) if s]
        kept = [s for s in sentences if not any(a in s.lower() for a in _ADVICE)]
        if kept:
            reason = " ".join(kept).removeprefix("Trying to load ").rstrip(".")
            return reason[0].lower() + reason[1:]
    return "something other than plain data"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

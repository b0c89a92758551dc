"""What a training run holds: `Setup`, everything it needs that never changes while it
trains, and `Progress`, what changes with every step and what a checkpoint must
remember of it.

The trainer (gptkata.lab.trainer) makes both; the loop (gptkata.lab.loop), the
checkpoint's extra state (gptkata.lab.resume) and the report at the end
(gptkata.lab.report) read them. They live here, apart from all of those, so that each
of them can name them without importing the trainer back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from gptkata.lab.distributed import Cluster
from gptkata.lab.kit import Kit
from gptkata.lab.presets import Preset


@dataclass
class Setup:
    """Everything a run needs that does not change while it trains."""

    name: str
    settings: Preset
    out: Path
    device: torch.device
    bf16: bool
    cluster: Cluster
    vocab: str  # the tokenizer, as gptkata.lab.tokenizers stores it
    spec: dict
    splits: dict  # {"train": (N_train,), "val": (N_val,)} long tensors on the device
    kit: Kit  # whose code each part of the run is (gptkata.lab.kit)
    val_characters: int = 0  # characters of the validation text, for bits per character


@dataclass
class Progress:
    """What changes while training, and what a checkpoint must remember of it."""

    step: int = 0  # optimiser steps done
    elapsed_seconds: float = 0.0  # training time so far (evaluations included)
    tokens: int = 0  # training tokens seen, all processes together
    history: dict = field(default_factory=lambda: {"evals": [], "step_losses": []})
    saved_step: int | None = None  # the step of the last good checkpoint in the folder

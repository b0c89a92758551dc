"""What a checkpoint must remember to continue a run exactly: the random number
generators of every process, gathered on rank 0 and written with the model, the
optimiser and the progress (the file format itself is gptkata.lab.checkpoint)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
from tqdm import tqdm

from gptkata.lab import checkpoint, distributed

if TYPE_CHECKING:
    from gptkata.lab.train import Progress, Setup


def rng_states(batches: torch.Generator, device: torch.device) -> dict:
    """This process's random number generators: the batch sampler's, and torch's global
    one (dropout), with the GPU's."""
    return {
        "batches": batches.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def restore_rng(saved: list[dict], batches: torch.Generator, setup: Setup) -> None:
    if len(saved) != setup.cluster.world_size:
        tqdm.write(
            f"note: the checkpoint was written by {len(saved)} process(es) and this run has "
            f"{setup.cluster.world_size}: batches and dropout continue from fresh seeds"
        )
        return
    mine = saved[setup.cluster.rank]
    batches.set_state(mine["batches"].cpu())
    torch.set_rng_state(mine["torch"].cpu())
    if setup.device.type == "cuda" and mine["cuda"] is not None:
        torch.cuda.set_rng_state(mine["cuda"].cpu(), setup.device)


def save_checkpoint(
    setup: Setup,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    batches: torch.Generator,
) -> None:
    """Every rank hands in its RNG states; rank 0 writes the checkpoint."""
    rng = distributed.gather(setup.cluster, rng_states(batches, setup.device))
    if not setup.cluster.is_main:
        return
    checkpoint.save(
        setup.out / checkpoint.FILENAME,
        {
            "format": checkpoint.FORMAT,
            "spec": setup.spec,
            "vocab": setup.vocab,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": progress.step,
            "elapsed_seconds": progress.elapsed_seconds,
            "tokens": progress.tokens,
            "settings": asdict(setup.settings),
            "rng": rng,
            "history": progress.history,
        },
    )

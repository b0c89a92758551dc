"""What a checkpoint must remember to continue a run exactly: the random number
generators of every process, gathered on rank 0 and written with the model, the
optimiser and the progress (the file format itself is gptkata.lab.checkpoint)."""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn as nn
from tqdm import tqdm

from gptkata.lab import checkpoint, distributed
from gptkata.lab.run_state import Progress, Setup


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


def check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """A ValueError if a loaded optimiser state does not fit its parameters: AdamW's
    averages must have each parameter's shape, and be finite numbers. `load_state_dict`
    checks only the number of parameters, so a wrong shape would otherwise fail at the
    first step, and a nan would turn every weight into nan there."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for name, value in optimizer.state.get(parameter, {}).items():
                if name == "step":
                    continue
                if not isinstance(value, torch.Tensor) or value.shape != parameter.shape:
                    shape = tuple(value.shape) if isinstance(value, torch.Tensor) else value
                    raise ValueError(
                        f"its optimizer's {name} is {shape!r} for a parameter of shape "
                        f"{tuple(parameter.shape)}"
                    )
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise ValueError(
                        f"its optimizer's {name} holds nan or inf, as after a run that "
                        "diverged: resume another checkpoint, or train a new run"
                    )


def restore(
    saved: dict,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: torch.Generator,
    setup: Setup,
) -> None:
    """Load a checkpoint's weights, optimiser state and random generators; a
    CheckpointError saying which part does not fit (a checkpoint that was not written
    by this trainer can be plain data and still be nonsense)."""
    path = setup.out / checkpoint.FILENAME
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        check_optimizer_state(optimizer)
        restore_rng(saved["rng"], batches, setup)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise checkpoint.CheckpointError(f"{path} cannot be resumed: {reason}") from error


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

"""The training loop: one optimisation step, the loss estimates, and the loop that
repeats them until the step or time budget is spent.

One optimisation step is kata 4's `train_step` with three additions: a learning rate
that changes with every step (gptkata.lab.optim), gradient clipping, and bf16
autocast where the machine has it. The batches, the loss estimates, the schedule and
the clipping are the run's kit's (gptkata.lab.kit): the reference's, or the learner's.

Gradient clipping: now and then a batch produces a huge gradient (a loss spike), and
one huge step can undo hours of training. If the norm of all gradients together is
above `grad_clip`, they are all scaled down to that norm: the direction is kept,
only the step is shortened.

When training breaks anyway - a learning rate so high that the weights overflow -
the loss becomes inf or nan, and a nan spreads to every weight at the next step. The
loop checks the loss of every step and stops at the first that is not a finite
number, and a checkpoint is never written from weights that are not finite: the
last good checkpoint stays as it was.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
from tqdm import tqdm

from gptkata.lab import distributed
from gptkata.lab.checkpoint import FILENAME
from gptkata.lab.machine import autocast
from gptkata.lab.optim import set_learning_rate
from gptkata.lab.presets import Preset
from gptkata.lab.resume import save_checkpoint
from gptkata.lab.run_state import Progress, Setup


class TrainingStopped(Exception):
    """Training cannot go on: a loss that is not a finite number, or a checkpoint that
    cannot be written at the end. One line, saying what is left and what to do."""


class NotFinite(TrainingStopped):
    """The loss or the weights became nan or inf at `step`."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def last_good(setup: Setup, progress: Progress) -> str:
    if progress.saved_step is None:
        return "no checkpoint of this run was written"
    return f"the last good checkpoint, of step {progress.saved_step}, is intact at {setup.out / FILENAME}"


def save_or_stop(
    setup: Setup,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    batches: torch.Generator,
    final: bool = False,
) -> None:
    """Write a checkpoint, but never one of weights that are not finite numbers.

    A folder that cannot be written any more (full, read-only, gone): during the run a
    warning, and training goes on (the next evaluation tries again); at the end
    (`final`) a TrainingStopped that names the last good checkpoint, to continue with
    --resume - or, when not one was saved, that says so, since --resume would find
    nothing to continue, and how to make the folder writable before starting again.
    """
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise NotFinite(
            f"the weights are not finite numbers any more after step {progress.step}, so "
            f"they were not saved; {last_good(setup, progress)}. Lower --learning-rate",
            progress.step,
        )
    try:
        save_checkpoint(setup, model, optimizer, progress, batches)
    except OSError as error:
        problem = (
            f"could not write the checkpoint of step {progress.step} into {setup.out} "
            f"({error.strerror or error})"
        )
        if final and progress.saved_step is None:
            raise TrainingStopped(
                f"{problem}; nothing of this run was saved: make the folder writable "
                f"(chmod u+w {setup.out}, or free space on its disk) or choose another "
                "--out, then train again"
            ) from error
        if final:
            raise TrainingStopped(
                f"{problem}; {last_good(setup, progress)}: make the folder writable and "
                "continue with --resume"
            ) from error
        tqdm.write(f"warning: {problem}; training goes on ({last_good(setup, progress)})")
        return
    progress.saved_step = progress.step


def optimisation_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    setup: Setup,
) -> float:
    """Forward, backward, clip, step; returns the loss of the batch (before the step)."""
    with autocast(setup.device, setup.bf16):
        _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # under DDP the gradients of all ranks are averaged here
    if setup.settings.grad_clip > 0:
        setup.kit.clip_grad_norm(model.parameters(), setup.settings.grad_clip)
    optimizer.step()
    return loss.item()


def evaluate(model: nn.Module, setup: Setup, batches: int) -> dict[str, float]:
    """The mean train and val loss over `batches` batches of `eval_batch_size` sequences
    per split (on every rank, averaged over the ranks).

    Under torch.inference_mode: no autograd bookkeeping at all (no_grad still tracks
    versions of tensors), and dropout off, so the fused attention uses its fastest
    kernel. Fewer, larger batches of the same text cost less than many small ones.

    The evaluation batches come from a generator seeded the same way every time, so
    every estimate of a run scores the model on the same text: two estimates differ
    only because the model changed.
    """
    s = setup.settings
    generator = torch.Generator().manual_seed(s.seed + 1_000_003 * (setup.cluster.rank + 1))
    batch_size = s.eval_batch_size or s.batch_size
    with torch.inference_mode(), autocast(setup.device, setup.bf16):
        losses = setup.kit.estimate_loss(
            model, setup.splits, batch_size, s.block_size, batches, generator
        )
    return distributed.mean(setup.cluster, losses)


def eval_entry(progress: Progress, losses: dict, batches: int, lr: float | None) -> dict:
    """One point of the loss history."""
    return {
        "step": progress.step,
        "train": losses["train"],
        "val": losses["val"],
        "batches": batches,
        "lr": lr,
        "seconds": progress.elapsed_seconds,
    }


def describe(entry: dict) -> str:
    return (
        f"step {entry['step']:>6}: train {entry['train']:.4f}, val {entry['val']:.4f} "
        f"({entry['batches']} batches each), {entry['seconds']:.1f} s"
    )


def progress_of(step: int, elapsed: float, settings: Preset) -> float:
    """How much of the run is done, 0 .. 1: by steps, or by time with a time budget."""
    decay_steps = settings.decay_steps or settings.max_steps
    done = step / decay_steps
    if math.isfinite(settings.max_seconds):
        done = max(done, elapsed / settings.max_seconds)
    return done


def train_loop(
    setup: Setup,
    model: nn.Module,
    stepper: nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    batches: torch.Generator,
) -> str:
    """Train until max_steps or max_seconds; evaluate and checkpoint every eval_interval
    steps. `stepper` is the model as trained (compiled, wrapped by DDP), `model` the
    plain one. Returns what stopped the run: "max_steps" or "max_seconds"; a loss
    that is not finite is a TrainingStopped."""
    s, cluster = setup.settings, setup.cluster
    evals, step_losses = progress.history["evals"], progress.history["step_losses"]
    first_step = progress.step
    tokens_per_step = s.batch_size * s.block_size * cluster.world_size
    bar = tqdm(
        total=s.max_steps,
        initial=progress.step,
        unit="step",
        desc=setup.name,
        disable=None if cluster.is_main else True,  # None: only on a terminal
        dynamic_ncols=True,
    )
    clock_start = time.perf_counter() - progress.elapsed_seconds  # continues a resumed clock
    with bar:  # closed however the loop ends
        while True:
            progress.elapsed_seconds = time.perf_counter() - clock_start
            if math.isfinite(s.max_seconds):  # all ranks stop at the same step: rank 0's clock
                progress.elapsed_seconds = distributed.from_main(cluster, progress.elapsed_seconds)
            out_of_time = progress.elapsed_seconds >= s.max_seconds
            done = progress.step >= s.max_steps or out_of_time
            fraction = progress_of(progress.step, progress.elapsed_seconds, s)
            lr = setup.kit.schedule(progress.step, fraction, s)
            if done:
                return "max_seconds" if out_of_time else "max_steps"
            evaluated = evals and evals[-1]["step"] == progress.step  # e.g. just resumed
            if progress.step % s.eval_interval == 0 and not evaluated:
                losses = evaluate(model, setup, s.eval_iters)
                evals.append(eval_entry(progress, losses, s.eval_iters, lr))
                bar.write(describe(evals[-1]))
                if progress.step > first_step:
                    save_or_stop(setup, model, optimizer, progress, batches)
            set_learning_rate(optimizer, lr)
            x, y = setup.kit.get_batch(setup.splits["train"], s.batch_size, s.block_size, batches)
            loss = optimisation_step(stepper, optimizer, x, y, setup)
            if not distributed.all_true(cluster, math.isfinite(loss)):  # all ranks stop together
                raise NotFinite(
                    f"the loss became {loss} at step {progress.step}, so training stopped; "
                    f"{last_good(setup, progress)}. Lower --learning-rate (this step's was "
                    f"{lr:.3g}) or use more --warmup-steps",
                    progress.step,
                )
            step_losses.append(loss)
            progress.step += 1
            progress.tokens += tokens_per_step
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", refresh=False)

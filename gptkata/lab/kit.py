"""Whose code a run uses for each of its parts: the reference's, torch's, or the learner's.

A training run has a handful of parts, each of which some kata teaches:

    part        the reference run (make train)             a run of your own (MINE=1)
    tokenizer   kata 1's build_vocab, encode, decode        yours where kata 1 is done
    batches     kata 2's get_batch                          yours where kata 2 is done
    model       kata 9's GPT (10's, 16's)                   yours: the kata must be done
    estimates   kata 4's estimate_loss                      yours where kata 4 is done
    optimizer   torch.optim.AdamW                           kata 14's AdamW where done
    schedule    the lab's warmup and cosine (lab.optim)     kata 14's cosine_lr where done
    clipping    torch.nn.utils.clip_grad_norm_              kata 14's clip_grad_norm where done
    sampling    kata 13's sample_next                       yours where kata 13 is done

A `Kit` holds the code of every part and, for the table at the start of a run and
for log.json, a `Part` saying whose it is. `reference()` is the kit of `make train`;
gptkata.lab.mine makes the learner's. The model itself is not in the kit: it is
built from its spec (gptkata.lab.models), whose "code" entry says which folder its
class comes from ("exercises"; the reference's by default), so that `make sample`
rebuilds the model a checkpoint was trained with.

A kata module is loaded through the harness's seam (gptkata.kata.select), under the
chain asked for: a learner's module binds the earlier katas it builds on when it is
imported, to the learner's own (chain "mine") or to the reference's ("reference").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from types import ModuleType

import torch
import torch.nn as nn

from gptkata.kata import manifest, select
from gptkata.lab import optim
from gptkata.lab.presets import Preset

PARTS = (
    "tokenizer",
    "batches",
    "model",
    "estimates",
    "optimizer",
    "schedule",
    "clipping",
    "sampling",
)


@dataclass(frozen=True)
class Part:
    """Whose code one part of a run is: `implementation` "exercises" (the learner's),
    "solutions" (the reference), "torch" or "lab"; `code` what runs, in words."""

    name: str
    kata: str
    implementation: str
    code: str
    why: str = ""  # why not the learner's: "kata 14 not done"

    def line(self, width: int = 10) -> str:
        """'  tokenizer: yours (kata 1, exercises/tokenizer.py)': one row of the table."""
        number = manifest.get(self.kata).number
        if self.implementation == "exercises":
            who = f"yours (kata {number}, {self.code})"
        else:
            who = f"{self.code} ({self.why or f'kata {number}'})"
        return f"  {self.name + ':':<{width + 1}} {who}"


@dataclass(frozen=True)
class Kit:
    """The code of each part of a run (the module docstring has the list). A kit that
    only samples (`make sample`) leaves the training parts None."""

    tokenizer: ModuleType  # kata 1's module: build_vocab, build_lookup, encode, decode
    sample_next: Callable  # (logits, temperature, top_k, top_p, generator) -> (B, 1) ids
    get_batch: Callable | None = None
    estimate_loss: Callable | None = None
    make_optimizer: Callable | None = None  # (model, lr, weight_decay, betas, device)
    schedule: Callable | None = None  # (step, fraction of the run done, settings) -> lr
    clip_grad_norm: Callable | None = None  # (parameters, max_norm) -> the norm before
    model: dict = field(default_factory=dict)  # what a spec adds: {"code": ..., "chain": ...}
    parts: tuple[Part, ...] = ()

    def log(self) -> dict:
        """The parts as log.json keeps them: {part: {kata, implementation, code, why}}."""
        return {p.name: {k: v for k, v in asdict(p).items() if k != "name"} for p in self.parts}


@contextlib.contextmanager
def chain(name: str):
    """GPTKATA_CHAIN set to `name` while kata modules are imported, then as it was."""
    before = os.environ.get("GPTKATA_CHAIN")
    os.environ["GPTKATA_CHAIN"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GPTKATA_CHAIN", None)
        else:
            os.environ["GPTKATA_CHAIN"] = before


def load(impl: str, kata: str, chain_name: str = "reference") -> ModuleType:
    """The module of `kata` from `impl` ("solutions" or "exercises"), its earlier katas
    bound under `chain_name` when this is its first import."""
    with chain(chain_name):
        return select.load(impl, kata)


def lab_schedule(step: int, fraction: float, s: Preset) -> float:
    """The lab's learning rate (gptkata.lab.optim.learning_rate) at `step`."""
    return optim.learning_rate(step, fraction, s.learning_rate, s.min_lr, s.warmup_steps)


def cosine_schedule(cosine_lr: Callable) -> Callable:
    """A schedule of the kit's form from kata 14's `cosine_lr(step, max_lr, min_lr,
    warmup_steps, total_steps)`. The total is the run's steps; a run on a time budget
    passes the total it is on course for (steps done / fraction of the budget spent)."""

    def schedule(step: int, fraction: float, s: Preset) -> float:
        total = round(step / fraction) if fraction > 0 else (s.decay_steps or s.max_steps)
        return cosine_lr(
            step, s.learning_rate, s.min_lr, s.warmup_steps, max(total, s.warmup_steps)
        )

    return schedule


def adamw(optimizer_class: Callable) -> Callable:
    """An optimiser maker of the kit's form for an AdamW class such as kata 14's: weight
    decay on the matrices only (gptkata.lab.optim.parameter_groups)."""

    def make(
        model: nn.Module, lr: float, weight_decay: float, betas, device
    ) -> torch.optim.Optimizer:
        return optimizer_class(optim.parameter_groups(model, weight_decay), lr=lr, betas=betas)

    return make


def torch_sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Sampling with torch alone, where kata 13 is neither done nor in the edition: the
    argmax at temperature 0, else one torch.multinomial draw from softmax(logits / T).
    top-k and top-p are kata 13's: asking for them here is a ValueError."""
    if top_k is not None or top_p is not None:
        raise ValueError(
            "--top-k and --top-p are kata 13's (sampling), which is not done yet: see make progress"
        )
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def reference() -> Kit:
    """The kit of `make train`: the reference solutions, torch's AdamW and clipping, and
    the lab's schedule."""
    batching, training = load("solutions", "batching"), load("solutions", "training")
    parts = (
        Part("tokenizer", "tokenizer", "solutions", "solutions/tokenizer.py"),
        Part("batches", "batching", "solutions", "solutions/batching.py"),
        Part("estimates", "training", "solutions", "solutions/training.py"),
        Part("optimizer", "optim", "torch", "torch.optim.AdamW"),
        Part("schedule", "optim", "lab", "the lab's warmup and cosine (gptkata/lab/optim.py)"),
        Part("clipping", "optim", "torch", "torch.nn.utils.clip_grad_norm_"),
        Part("sampling", "sampling", "solutions", "solutions/sampling.py"),
    )
    return Kit(
        tokenizer=load("solutions", "tokenizer"),
        get_batch=batching.get_batch,
        estimate_loss=training.estimate_loss,
        make_optimizer=optim.make_optimizer,
        schedule=lab_schedule,
        clip_grad_norm=torch.nn.utils.clip_grad_norm_,
        sample_next=load("solutions", "sampling").sample_next,
        parts=parts,
    )

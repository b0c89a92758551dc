"""Training presets for `make train PRESET=<name>`: the model and the optimisation
settings in one place. Every value can be overridden by a flag of the trainer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    # the model (GPTConfig fields)
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    dropout: float
    # the optimisation
    batch_size: int
    max_steps: int
    learning_rate: float


PRESETS: dict[str, Preset] = {
    # nanoGPT's CPU recipe for tiny Shakespeare: about 1.88 val loss after 2,000 steps.
    "cpu": Preset(
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        dropout=0.0,
        batch_size=12,
        max_steps=2000,
        learning_rate=1e-3,
    ),
    # the lecture's model: 10.8M parameters, val loss about 1.48 after 5,000 steps on a GPU
    "lecture": Preset(
        n_layer=6,
        n_head=6,
        n_embd=384,
        block_size=256,
        dropout=0.2,
        batch_size=64,
        max_steps=5000,
        learning_rate=3e-4,
    ),
}

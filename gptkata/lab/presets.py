"""Training presets for `make train PRESET=<name>`: every setting of a run in one place.

A preset is a complete `Preset` - the model, the optimisation, the evaluation and
the machine settings. The trainer turns every field into a flag of the same name
(`n_layer` -> `--n-layer`), so any value of a preset can be overridden:

    make train PRESET=cpu ARGS="--max-seconds 30 --n-layer 2"

The help text of each flag is the `help` of its field below.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace

from gptkata.lab.sizes import MAX_LAYERS


def _setting(default, help_text: str, choices: tuple[str, ...] | None = None):
    """A dataclass field that also documents its command-line flag."""
    return field(default=default, metadata={"help": help_text, "choices": choices})


@dataclass(frozen=True)
class Preset:
    # the model
    model: str = _setting(
        "gpt",
        "the model to train: kata 9's GPT, kata 3's bigram table, or kata 16's ModernGPT "
        "(rotary positions, sliding-window attention, RMSNorm, SwiGLU)",
        ("gpt", "bigram", "modern"),
    )
    attention: str = _setting(
        "teaching",
        "the GPT's attention: the katas' heads, or fused scaled-dot-product attention (kata 10)",
        ("teaching", "fused"),
    )
    attention_path: str = _setting(
        "auto",
        "the fused attention's kernel: sdpa (kata 10's call), masked_softmax (the heads "
        "batched, the mask kept), or auto: time both at the run's sizes and keep the faster",
        ("auto", "sdpa", "masked_softmax"),
    )
    n_layer: int = _setting(4, "transformer blocks")
    n_head: int = _setting(4, "attention heads per block (must divide n_embd)")
    n_embd: int = _setting(128, "channels of the residual stream")
    block_size: int = _setting(64, "context length in characters (the modern model: of a batch)")
    window: int = _setting(0, "the modern model's attention window in characters (0: block_size)")
    dropout: float = _setting(0.0, "dropout probability while training")
    tokenizer: str = _setting(
        "char",
        "how text becomes ids: one per character (kata 1) or byte-level BPE learned from "
        "the training text (kata 12)",
        ("char", "bpe"),
    )
    vocab_size: int = _setting(
        512, "with --tokenizer bpe: the ids of the BPE vocabulary, 256 bytes and the merges"
    )
    # the optimisation
    batch_size: int = _setting(32, "sequences per step (per process under torchrun)")
    max_steps: int = _setting(2000, "stop after this many optimiser steps")
    max_seconds: float = _setting(
        math.inf,
        "stop after this many seconds of training (inf: no time limit); the learning-rate "
        "schedule then follows the elapsed fraction of this budget",
    )
    learning_rate: float = _setting(1e-3, "peak learning rate of AdamW")
    min_lr: float = _setting(1e-4, "the learning rate at the end of the cosine decay")
    warmup_steps: int = _setting(100, "steps of linear warmup from 0 to learning_rate")
    decay_steps: int = _setting(
        0, "length of the cosine decay in steps (0: max_steps); after it the rate stays min_lr"
    )
    weight_decay: float = _setting(0.1, "AdamW weight decay, applied to matrices only")
    beta1: float = _setting(0.9, "AdamW beta1 (momentum)")
    beta2: float = _setting(0.99, "AdamW beta2")
    grad_clip: float = _setting(1.0, "clip the gradient norm to this value (0: off)")
    init_scale_residual: bool = _setting(
        False,
        "GPT-2 initialisation: shrink the weights of the layers that write into the "
        "residual stream by 1/sqrt(2 n_layer)",
    )
    # the evaluation
    eval_interval: int = _setting(250, "estimate the train and val loss every this many steps")
    eval_iters: int = _setting(20, "batches per split for the estimates during training")
    final_eval_iters: int = _setting(200, "batches per split for the final estimate")
    eval_batch_size: int = _setting(
        0,
        "sequences per batch of the loss estimates (0: the training batch size); the same text in "
        "fewer, larger batches costs fewer, larger operations",
    )
    sample_chars: int = _setting(500, "characters of text to sample at the end (at most 1,000,000)")
    # the machine
    device: str = _setting(
        "auto", "auto picks cuda, then mps, then cpu", ("auto", "cpu", "cuda", "mps")
    )
    precision: str = _setting(
        "auto",
        "auto is bf16 autocast on a GPU that supports it; on a CPU, one training step is "
        "timed in fp32 and in bf16 before the run and the faster is kept",
        ("auto", "fp32", "bf16"),
    )
    compile: bool = _setting(False, "compile the model with torch.compile")
    threads: int = _setting(
        0,
        "CPU threads per process (0: the cores shared among the processes; at most 4 per core)",
    )
    seed: int = _setting(1337, "seed of the initialisation, the batches, dropout and the sample")


PRESETS: dict[str, Preset] = {
    # The seed notebook's bigram model (a vocab x vocab table): a loss of about 2.5 in seconds.
    "bigram": Preset(
        model="bigram",
        block_size=8,
        batch_size=32,
        max_steps=3000,
        learning_rate=1e-2,
        min_lr=1e-3,
        warmup_steps=0,
        weight_decay=0.0,
        eval_interval=250,
    ),
    # A GPT trained for 1,400 steps on 2 CPU cores, then a final estimate of 2-3 seconds:
    # kata 10's fused GPT (its attention kernel and its precision timed per machine), 3
    # layers of 3 heads of 32 channels (n_embd 96), nanoGPT's CPU model made narrower and
    # shallower: it sees about 2.9M characters, and a smaller model learns more from
    # that little text, and takes more steps in the same time, than a larger one (3
    # layers beat 4 layers of 2 heads by 0.036 in the same time on an AVX2 CPU in fp32).
    # A step budget, as nanoGPT's recipe has, which ends before the recipe on the CPUs
    # measured (docs/benchmarks.md), so the run ends first on a slow CPU and a fast one
    # alike (a fixed time buys a slow CPU too few steps, and outlasts the recipe on a
    # fast one). A batch of 32 at a higher learning rate with a short warmup (more
    # updates than a larger batch for the same text, at almost the same tokens/s), the
    # residual projections initialised smaller, and loss estimates in few, large batches.
    "cpu": Preset(
        attention="fused",
        n_layer=3,
        n_head=3,
        n_embd=96,
        block_size=64,
        batch_size=32,
        max_steps=1_400,
        learning_rate=3e-3,
        min_lr=1e-4,
        warmup_steps=50,
        init_scale_residual=True,
        eval_interval=250,
        eval_iters=2,
        eval_batch_size=128,
        final_eval_iters=20,
    ),
    # nanoGPT's CPU recipe, the baseline of the cpu preset: about 1.88 after 2,000 steps.
    # Its attention is computed as nanoGPT computes it: one qkv projection and PyTorch's
    # scaled_dot_product_attention (kata 10's fused GPT on SDPA), which trains these
    # sizes 1.5x faster on a CPU than kata 9's heads one by one, so the recipe's time
    # is nanoGPT's own and not a slower stand-in's.
    "nanogpt": Preset(
        attention="fused",
        attention_path="sdpa",
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        batch_size=12,
        max_steps=2000,
        precision="fp32",  # as nanoGPT's train.py runs on a CPU
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        eval_interval=250,
    ),
    # Kata 16's model (rotary positions and a sliding window of 64 instead of a position
    # table, RMSNorm, SwiGLU, no biases) with the cpu preset's recipe, a time budget of
    # 85 s (the modern-against-cpu comparison gives both presets the same time), and
    # sizes of its own. Its step cost 1.4x the cpu preset's at 4 layers x 2 heads (the
    # element-wise work of RoPE, RMSNorm and SwiGLU), so in 85 s it ended level there;
    # at 3 layers x 3 heads of 32, the cpu preset's sizes now, each of its steps
    # learns more. docs/benchmarks.md has the figures of both, side by side.
    "modern": Preset(
        model="modern",
        n_layer=3,
        n_head=3,
        n_embd=96,
        block_size=64,
        window=64,
        batch_size=32,
        max_steps=1_000_000,
        max_seconds=85.0,
        learning_rate=3e-3,
        min_lr=1e-4,
        warmup_steps=50,
        init_scale_residual=True,
        eval_interval=250,
        eval_iters=2,
        eval_batch_size=128,
        final_eval_iters=20,
    ),
    # The lecture's model for one GPU: 10.8M parameters, val loss about 1.48 after 5,000 steps.
    "lecture": Preset(
        n_layer=6,
        n_head=6,
        n_embd=384,
        block_size=256,
        dropout=0.2,
        batch_size=64,
        max_steps=5000,
        # the lecture's optimisation: AdamW at a constant 3e-4, no clipping
        learning_rate=3e-4,
        min_lr=3e-4,
        warmup_steps=0,
        weight_decay=0.01,
        beta2=0.999,
        grad_clip=0.0,
        eval_interval=500,
        eval_iters=200,
        compile=True,
    ),
}


def get(name: str) -> Preset:
    """The preset called `name`; a ValueError listing the presets otherwise."""
    if name not in PRESETS:
        raise ValueError(f"there is no preset {name!r}; the presets are: {', '.join(PRESETS)}")
    return PRESETS[name]


def flag(name: str) -> str:
    """The command-line flag of a setting: `max_steps` -> `--max-steps`."""
    return "--" + name.replace("_", "-")


AT_LEAST_ONE = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_steps")
AT_LEAST_ONE += ("eval_interval", "eval_iters", "final_eval_iters")
NOT_NEGATIVE = ("min_lr", "warmup_steps", "decay_steps", "weight_decay", "grad_clip")
NOT_NEGATIVE += ("sample_chars", "threads", "eval_batch_size", "window")
BELOW_ONE = ("dropout", "beta1", "beta2")  # probabilities and averaging factors: [0, 1)
SEEDS = 2**32  # a seed is one of 0 .. 2**32 - 1; the trainer adds a little to it per rank
# The most characters one sample may have (--sample-chars here, make sample's --chars):
# about the whole corpus (1.1M), and minutes of sampling on a CPU. Each new character
# costs a forward pass, so a trillion would never end.
MAX_SAMPLE_CHARS = 1_000_000
THREADS_PER_CORE = 4


def max_threads() -> int:
    """The most --threads allowed: THREADS_PER_CORE per core of this machine.

    More threads than cores only take turns on them, each one slower, so one per
    core (0, the default) is the fast choice; a few per core still run, for whoever
    measures that. Tens of thousands crash OpenMP's thread pool (libgomp) with a
    segfault and no message, so the limit is a small multiple of the cores, checked
    before anything runs.
    """
    return THREADS_PER_CORE * (os.cpu_count() or 1)


def check(preset: Preset) -> None:
    """A ValueError naming the flag of the first setting that makes no sense: not a
    finite number (nan, inf), a zero batch size, a dropout of 1, an unknown device...

    Every number must be finite, except --max-seconds, whose inf means "no time
    limit" (and whose 0 is an error rather than a silent "forever"). A nan passes
    every comparison unnoticed (nan < 0 is False), which is why finiteness comes first.
    """
    for setting in fields(Preset):
        value = getattr(preset, setting.name)
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"{flag(setting.name)} must be a number, got nan")
        if isinstance(value, float) and math.isinf(value) and setting.name != "max_seconds":
            raise ValueError(f"{flag(setting.name)} must be a finite number, got {value}")
    for name in AT_LEAST_ONE:
        if getattr(preset, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(preset, name)}")
    for name in NOT_NEGATIVE:
        if getattr(preset, name) < 0:
            raise ValueError(f"{flag(name)} must be 0 or more, got {getattr(preset, name)}")
    for name in BELOW_ONE:
        if not 0 <= getattr(preset, name) < 1:
            raise ValueError(f"{flag(name)} must be in [0, 1), got {getattr(preset, name)}")
    if preset.threads > max_threads():
        raise ValueError(
            f"--threads must be at most {max_threads()} ({THREADS_PER_CORE} per core of "
            f"this machine; 0 uses every core), got {preset.threads}"
        )
    if preset.sample_chars > MAX_SAMPLE_CHARS:
        raise ValueError(
            f"--sample-chars must be at most {MAX_SAMPLE_CHARS:,}, got {preset.sample_chars}"
        )
    for name in ("n_layer", "n_head"):
        if getattr(preset, name) > MAX_LAYERS:
            raise ValueError(
                f"{flag(name)} must be at most {MAX_LAYERS}, got {getattr(preset, name)}"
            )
    if preset.max_seconds <= 0:
        raise ValueError(
            f"--max-seconds must be above 0 (inf for no time limit), got {preset.max_seconds}"
        )
    if preset.tokenizer == "bpe" and preset.vocab_size < 256:
        raise ValueError(f"--vocab-size must be at least 256 (the bytes), got {preset.vocab_size}")
    if preset.learning_rate <= 0:
        raise ValueError(f"--learning-rate must be above 0, got {preset.learning_rate}")
    if preset.min_lr > preset.learning_rate:
        raise ValueError(
            f"--min-lr ({preset.min_lr}) must not be above --learning-rate ({preset.learning_rate})"
        )
    if not 0 <= preset.seed < SEEDS:
        raise ValueError(f"--seed must be in 0 .. {SEEDS - 1}, got {preset.seed}")
    for setting in fields(Preset):
        choices = setting.metadata["choices"]
        if choices and getattr(preset, setting.name) not in choices:
            raise ValueError(
                f"{flag(setting.name)} must be one of {', '.join(choices)}, "
                f"got {getattr(preset, setting.name)!r}"
            )


def settings() -> tuple:
    """The fields of a Preset, in order: one flag of the trainer each."""
    return fields(Preset)


def override(preset: Preset, **changes) -> Preset:
    """A copy of `preset` with some values changed (the flags given on the command line)."""
    return replace(preset, **changes)

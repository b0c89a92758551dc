"""`make train`: train the reference GPT (or the bigram model) for real.

    make train                                 the cpu preset: 1,500 steps, 1-2 minutes
    make train PRESET=bigram                   the seed notebook's bigram model, seconds
    make train PRESET=lecture                  the lecture's 10.8M-parameter GPT, for a GPU
    make train ARGS="--max-seconds 30"         any setting of a preset, as a flag
    make train ARGS="--resume"                 continue runs/cpu/ckpt.pt where it stopped
    torchrun --nproc_per_node=2 -m gptkata.lab.train --preset cpu     data parallel (DDP)

The model comes from the reference solutions (kata 9's GPTLanguageModel, or kata 3's
bigram table), the batches from kata 2's `get_batch` and the loss estimates from
kata 4's `estimate_loss`. This module sets a run up and sees it through; its parts
are separate modules, each readable in one sitting:

    gptkata.lab.loop       one optimisation step, the loss estimates, the loop
    gptkata.lab.resume     what a checkpoint remembers to continue a run exactly
    gptkata.lab.report     the announcement, and the sample, pictures and log at the end
    gptkata.lab.train_cli  the command line: presets and their flags

A run writes into its output directory (--out, by default runs/<preset>/), which it
holds locked while it trains, and which must not hold another run's checkpoint
unless --resume or --overwrite says what to do with it (gptkata.lab.rundir):

    ckpt.pt        a checkpoint at every evaluation and at the end (gptkata.lab.checkpoint)
    log.json       the settings, the loss history, and the final train_loss, val_loss
                   (estimated on final_eval_iters batches), wall_seconds (training time)
                   and tokens_per_second
    loss.png       the loss curve
    sample.txt     text sampled at the end (also printed)
    attention.png  the attention heatmap of the start of the sample (GPT only)
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from gptkata import outputs, paths
from gptkata.data import read_corpus
from gptkata.lab import attention_paths, checkpoint, distributed, rundir, sizes, tokenizers
from gptkata.lab.distributed import Cluster
from gptkata.lab.loop import describe, eval_entry, evaluate, save_or_stop, train_loop
from gptkata.lab.machine import choose_device, set_threads, use_bf16
from gptkata.lab.models import build_model, count_parameters, model_spec, scale_residual_init
from gptkata.lab.optim import make_optimizer
from gptkata.lab.presets import Preset
from gptkata.lab.report import announce, write_results
from gptkata.lab.resume import restore


@dataclass
class Progress:
    """What changes while training, and what a checkpoint must remember of it."""

    step: int = 0  # optimiser steps done
    elapsed_seconds: float = 0.0  # training time so far (evaluations included)
    tokens: int = 0  # training tokens seen, all processes together
    history: dict = field(default_factory=lambda: {"evals": [], "step_losses": []})
    saved_step: int | None = None  # the step of the last good checkpoint in the folder


@dataclass
class Finished:
    """The result of `train`: the log written to log.json, and the trained model."""

    log: dict
    model: nn.Module


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
    val_characters: int = 0  # characters of the validation text, for bits per character


def prepare(name: str, settings: Preset, out: Path, data_dir: Path | None) -> Setup:
    """Device, processes, threads and the corpus, split and on the device."""
    device = choose_device(settings.device, distributed.local_rank())
    cluster = distributed.join(device)
    if device.type == "cpu":
        set_threads(settings.threads, cluster.local_world_size)
    text = read_corpus(data_dir)
    n = int(0.9 * len(text))  # the first 90% trains, the rest validates
    if settings.tokenizer == "char":
        codec = tokenizers.build("char", text, 0)  # every character of the corpus
    else:
        codec = tokenizers.build("bpe", text[:n], settings.vocab_size)  # never the val text
    train_data = torch.tensor(codec.encode(text[:n]), dtype=torch.long)
    val_data = torch.tensor(codec.encode(text[n:]), dtype=torch.long)
    spec = model_spec(settings, codec.size)
    check_size(settings, spec, device, min(len(train_data), len(val_data)))
    return Setup(
        name=name,
        settings=settings,
        out=Path(out),
        device=device,
        bf16=use_bf16(settings.precision, device),
        cluster=cluster,
        vocab=codec.vocab,
        spec=spec,
        splits={"train": train_data.to(device), "val": val_data.to(device)},
        val_characters=len(text) - n,
    )


def check_size(settings: Preset, spec: dict, device: torch.device, text_length: int) -> None:
    """A ValueError, before anything is allocated, for a block that does not fit into
    the text or a training step that cannot fit into memory (gptkata.lab.sizes)."""
    s = settings
    if s.block_size >= text_length:
        raise ValueError(
            f"--block-size {s.block_size} must be shorter than the text of each split "
            f"({text_length} characters in the smaller one)"
        )
    advice = "choose a smaller --block-size or --batch-size"
    if spec["model"] == "gpt" and spec["attention"] == "teaching":
        advice += ", or --attention fused, which never holds the (T, T) attention weights"
    sizes.check_fits(
        sizes.training_bytes(spec, s.batch_size, s.block_size),
        device,
        f"one training step at --block-size {s.block_size} and --batch-size {s.batch_size}",
        advice,
    )


def claim_output_dir(setup: Setup, resume: bool, overwrite: bool) -> rundir.Claim | None:
    """Rank 0 claims the output folder (gptkata.lab.rundir: writable, locked, no other
    run's checkpoint in the way); all ranks stop together if it cannot."""
    claim, problem = None, None
    if setup.cluster.is_main:
        try:
            claim = rundir.claim(setup.out, resume=resume, overwrite=overwrite)
        except outputs.OutputError as error:
            problem = error
    if not distributed.all_true(setup.cluster, problem is None):
        raise problem or outputs.OutputError(f"rank 0 cannot use the output directory {setup.out}")
    return claim


def train(
    name: str,
    settings: Preset,
    out: Path | None = None,
    resume: bool = False,
    data_dir: Path | None = None,
    overwrite: bool = False,
) -> Finished:
    """Train with `settings`, writing into `out` (runs/<name>/ by default); with
    `resume`, continue from the checkpoint there; with `overwrite`, start a new run in
    a folder that holds one (which is moved aside first)."""
    out = Path(out or paths.RUNS / name)
    if resume and not (out / checkpoint.FILENAME).is_file():  # before anything is written
        raise checkpoint.CheckpointError(
            f"there is no checkpoint at {out / checkpoint.FILENAME} to resume; drop --resume "
            "to start a new run"
        )
    setup = prepare(name, settings, out, data_dir)
    try:
        claim = claim_output_dir(setup, resume, overwrite)
        try:
            return run(setup, resume)
        finally:
            if claim is not None:
                claim.release()
    finally:
        distributed.leave(setup.cluster)


def start(setup: Setup, saved: dict | None):
    """The model, the optimiser, the progress and the batch generator: new, or as the
    checkpoint `saved` left them (a CheckpointError if they do not fit)."""
    s, rank = setup.settings, setup.cluster.rank
    torch.manual_seed(s.seed)  # the same initial weights on every rank
    model = build_model(setup.spec)
    if s.init_scale_residual and s.model != "bigram":
        scale_residual_init(model, s.n_layer)
    model.to(setup.device)
    betas = (s.beta1, s.beta2)
    optimizer = make_optimizer(model, s.learning_rate, s.weight_decay, betas, setup.device)
    torch.manual_seed(s.seed + rank)  # dropout: different masks on every rank
    batches = torch.Generator().manual_seed(s.seed + rank)  # and different batches
    progress = Progress()
    if saved is not None:
        restore(saved, model, optimizer, batches, setup)
        progress = Progress(
            saved["step"], saved["elapsed_seconds"], saved["tokens"], saved["history"]
        )
        progress.saved_step = saved["step"]
    return model, optimizer, progress, batches


def run(setup: Setup, resume: bool) -> Finished:
    s, cluster = setup.settings, setup.cluster
    ckpt_path = setup.out / checkpoint.FILENAME
    saved = None
    if resume:
        saved = checkpoint.load(ckpt_path, map_location=setup.device)
        checkpoint.check_compatible(ckpt_path, saved, setup.spec, setup.vocab)

    model, optimizer, progress, batches = start(setup, saved)
    resumed_from = progress.step if saved is not None else None
    attention = None
    if setup.spec.get("attention") == "fused" or setup.spec["model"] == "modern":
        # the kernel of fused attention: timed here, counted as training
        wanted = s.attention_path
        if wanted == "auto" and progress.history.get("attention_path") in attention_paths.PATHS:
            wanted = progress.history["attention_path"]  # resumed: the same kernel, step for step
        attention = attention_paths.configure(
            model, wanted, s.batch_size, setup.device, setup.bf16, s.block_size
        )
        progress.history["attention_path"] = attention["path"]
        progress.elapsed_seconds += attention["seconds"]

    stepper = torch.compile(model) if s.compile else model
    if cluster.distributed:
        device_ids = [setup.device.index] if setup.device.type == "cuda" else None
        stepper = DistributedDataParallel(stepper, device_ids=device_ids)

    announce(setup, model, resumed_from)
    if attention is not None and cluster.is_main:
        print(f"attention: {attention['kernel']}" + timed(attention["timings_ms"]))
    stopped_by = train_loop(setup, model, stepper, optimizer, progress, batches)

    started = time.perf_counter()
    final = evaluate(model, setup, s.final_eval_iters)
    final_seconds = time.perf_counter() - started
    progress.history["evals"].append(eval_entry(progress, final, s.final_eval_iters, None))
    if cluster.is_main:
        tqdm.write(describe(progress.history["evals"][-1]) + " (final)")
    save_or_stop(setup, model, optimizer, progress, batches, final=True)

    eval_batch_size = s.eval_batch_size or s.batch_size
    log = {
        "preset": setup.name,
        "settings": asdict(s),
        "model": setup.spec,
        "parameters": count_parameters(model),
        "device": str(setup.device),
        "precision": "bf16" if setup.bf16 else "fp32",
        "attention_kernel": attention["kernel"] if attention else None,
        "attention_timings_ms": attention["timings_ms"] if attention else None,
        "threads": torch.get_num_threads(),
        "processes": cluster.world_size,
        "resumed_from_step": resumed_from,
        "steps": progress.step,
        "stopped_by": stopped_by,
        "tokens": progress.tokens,
        "train_loss": final["train"],
        "val_loss": final["val"],
        "tokenizer": s.tokenizer,
        "vocab_size": setup.spec["vocab_size"],
        "val_characters_per_token": setup.val_characters / len(setup.splits["val"]),
        "val_bits_per_character": tokenizers.bits_per_character(
            final["val"], len(setup.splits["val"]), setup.val_characters
        ),
        "final_eval_batches": s.final_eval_iters * cluster.world_size,
        "final_eval_sequences": s.final_eval_iters * cluster.world_size * eval_batch_size,
        "final_eval_seconds": final_seconds,
        "wall_seconds": progress.elapsed_seconds,
        "tokens_per_second": progress.tokens / max(progress.elapsed_seconds, 1e-9),
        "history": progress.history,
    }
    if cluster.is_main:
        try:
            write_results(setup, model, log)
        except OSError as error:
            raise outputs.OutputError(
                f"the checkpoint of step {progress.step} is saved in {setup.out}, but the "
                f"results could not be written there ({error.strerror or error})"
            ) from error
    return Finished(log, model)


def timed(timings_ms: dict | None) -> str:
    """' (timed: sdpa 7.1 ms, masked_softmax 9.3 ms per forward and backward)' or ''."""
    if not timings_ms:
        return ""
    each = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings_ms.items())
    return f" (timed: {each} per forward and backward)"


if __name__ == "__main__":
    from gptkata.lab.train_cli import main

    sys.exit(main())

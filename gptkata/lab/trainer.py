"""The trainer: sets a run up and sees it through (what `make train` runs once its
command line is read, gptkata.lab.train).

    prepare   the device, the processes, the threads, the corpus split and encoded
    train     claims the output folder, then `run`
    start     the model, the optimiser and the progress: new, or from a checkpoint
    run       the attention kernel, the loop, the final estimate, the log

The model comes from the reference solutions (kata 9's GPTLanguageModel, kata 10's
FusedGPT, kata 16's ModernGPT, or kata 3's bigram table), the batches from kata 2's
`get_batch` and the loss estimates from kata 4's `estimate_loss`; `make train MINE=1`
hands in a kit of the learner's own code instead (gptkata.lab.kit, gptkata.lab.mine).
The parts of a run are separate modules, each readable in one sitting:

    gptkata.lab.run_state  what a run holds: Setup (fixed) and Progress (changing)
    gptkata.lab.loop       one optimisation step, the loss estimates, the loop
    gptkata.lab.resume     what a checkpoint remembers to continue a run exactly
    gptkata.lab.report     the announcement, and the sample, pictures and log at the end
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from gptkata import outputs, paths
from gptkata.data import read_corpus
from gptkata.lab import checkpoint, distributed, kit, precision, rundir, sizes, tokenizers
from gptkata.lab.loop import describe, eval_entry, evaluate, save_or_stop, train_loop
from gptkata.lab.machine import choose_device, set_threads, use_bf16
from gptkata.lab.models import build_model, count_parameters, model_spec, scale_residual_init
from gptkata.lab.presets import Preset
from gptkata.lab.report import announce, write_results
from gptkata.lab.resume import restore
from gptkata.lab.run_state import Progress, Setup


@dataclass
class Finished:
    """The result of `train`: the log written to log.json, and the trained model."""

    log: dict
    model: nn.Module


def prepare(name: str, settings: Preset, out: Path, data_dir: Path | None, parts: kit.Kit) -> Setup:
    """Device, processes, threads and the corpus, split (by `parts`' tokenizer) and on
    the device."""
    device = choose_device(settings.device, distributed.local_rank())
    cluster = distributed.join(device)
    if device.type == "cpu":
        set_threads(settings.threads, cluster.local_world_size)
    text = read_corpus(data_dir)
    n = int(0.9 * len(text))  # the first 90% trains, the rest validates
    if settings.tokenizer == "char":
        codec = tokenizers.build("char", text, 0, parts.tokenizer)  # every character
    else:
        codec = tokenizers.build("bpe", text[:n], settings.vocab_size)  # never the val text
    train_data = torch.tensor(codec.encode(text[:n]), dtype=torch.long)
    val_data = torch.tensor(codec.encode(text[n:]), dtype=torch.long)
    spec = {**model_spec(settings, codec.size), **parts.model}  # parts.model: whose class
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
        kit=parts,
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
    parts: kit.Kit | None = None,
) -> Finished:
    """Train with `settings`, writing into `out` (runs/<name>/ by default); with
    `resume`, continue from the checkpoint there; with `overwrite`, start a new run in
    a folder that holds one (which is moved aside first). `parts`: whose code each part
    of the run is (the reference's by default)."""
    out = Path(out or paths.RUNS / name)
    if resume and not (out / checkpoint.FILENAME).is_file():  # before anything is written
        raise checkpoint.CheckpointError(
            f"there is no checkpoint at {out / checkpoint.FILENAME} to resume; drop --resume "
            "to start a new run"
        )
    setup = prepare(name, settings, out, data_dir, parts or kit.reference())
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
    optimizer = setup.kit.make_optimizer(
        model, s.learning_rate, s.weight_decay, betas, setup.device
    )
    torch.manual_seed(s.seed + rank)  # dropout: different masks on every rank
    batches = torch.Generator().manual_seed(s.seed + rank)  # and different batches
    progress = Progress()
    if saved is not None:
        restore(saved, model, optimizer, batches, setup)
        progress = Progress(
            saved["step"], saved["elapsed_seconds"], saved["tokens"], saved["history"]
        )
        progress.saved_step = saved["step"]
    precision.for_run(setup, model, progress)  # on a CPU, fp32 or bf16 by timing both
    return model, optimizer, progress, batches


def run(setup: Setup, resume: bool) -> Finished:
    """Train from scratch, or from the checkpoint in the output folder (`resume`),
    until the step or time budget is spent; then the final estimate, a last
    checkpoint, and (on rank 0) log.json, the sample and the pictures."""
    s, cluster = setup.settings, setup.cluster
    ckpt_path = setup.out / checkpoint.FILENAME
    saved = None
    if resume:
        saved = checkpoint.load(ckpt_path, map_location=setup.device)
        checkpoint.check_compatible(ckpt_path, saved, setup.spec, setup.vocab)

    model, optimizer, progress, batches = start(setup, saved)
    resumed_from = progress.step if saved is not None else None
    attention = choose_attention(setup, model, progress)

    stepper = torch.compile(model) if s.compile else model
    if cluster.distributed:
        device_ids = [setup.device.index] if setup.device.type == "cuda" else None
        stepper = DistributedDataParallel(stepper, device_ids=device_ids)

    announce(setup, model, resumed_from)
    if attention is not None and cluster.is_main:
        print(f"attention: {attention['kernel']}" + timed(attention["timings_ms"]))
    precision.announce(setup, progress.history)  # on rank 0, where it was timed
    stopped_by = train_loop(setup, model, stepper, optimizer, progress, batches)

    started = time.perf_counter()
    final = evaluate(model, setup, s.final_eval_iters)
    final_seconds = time.perf_counter() - started
    progress.history["evals"].append(eval_entry(progress, final, s.final_eval_iters, None))
    if cluster.is_main:
        tqdm.write(describe(progress.history["evals"][-1]) + " (final)")
    save_or_stop(setup, model, optimizer, progress, batches, final=True)

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
        **final_figures(setup, progress, final, final_seconds),
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


def choose_attention(setup: Setup, model: nn.Module, progress: Progress) -> dict | None:
    """The fused or modern attention's kernel (gptkata.lab.attention_paths), chosen and
    set on `model`: what `configure` returns, or None for a model without that choice.
    A resumed run keeps the kernel it started with, step for step; the time the choice
    took counts as training. A learner's own model keeps its own attention."""
    s = setup.settings
    if setup.spec.get("attention") != "fused" and setup.spec["model"] != "modern":
        return None
    if setup.spec.get("code", "solutions") != "solutions":
        return None
    # imported here: its kernels build on the reference's attention, which a student
    # edition does not have
    from gptkata.lab import attention_paths

    wanted = s.attention_path
    if wanted == "auto" and progress.history.get("attention_path") in attention_paths.PATHS:
        wanted = progress.history["attention_path"]
    attention = attention_paths.configure(
        model, wanted, s.batch_size, setup.device, setup.bf16, s.block_size
    )
    progress.history["attention_path"] = attention["path"]
    progress.elapsed_seconds += attention["seconds"]
    return attention


def final_figures(setup: Setup, progress: Progress, final: dict, final_seconds: float) -> dict:
    """The figures of log.json that the run's end decides: the tokens seen, the final
    losses (and bits per character), the final estimate's size and time, the wall time,
    the throughput and the history; and whose code each part of the run was."""
    s, world_size = setup.settings, setup.cluster.world_size
    eval_batch_size = s.eval_batch_size or s.batch_size
    val_tokens = len(setup.splits["val"])
    return {
        "tokens": progress.tokens,
        "train_loss": final["train"],
        "val_loss": final["val"],
        "tokenizer": s.tokenizer,
        "vocab_size": setup.spec["vocab_size"],
        "val_characters_per_token": setup.val_characters / val_tokens,
        "val_bits_per_character": tokenizers.bits_per_character(
            final["val"], val_tokens, setup.val_characters
        ),
        "final_eval_batches": s.final_eval_iters * world_size,
        "final_eval_sequences": s.final_eval_iters * world_size * eval_batch_size,
        "final_eval_seconds": final_seconds,
        "wall_seconds": progress.elapsed_seconds,
        "tokens_per_second": progress.tokens / max(progress.elapsed_seconds, 1e-9),
        "history": progress.history,
        "parts": setup.kit.log(),
    }


def timed(timings_ms: dict | None) -> str:
    """' (timed: sdpa 7.1 ms, masked_softmax 9.3 ms per forward and backward)' or ''."""
    if not timings_ms:
        return ""
    each = ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings_ms.items())
    return f" (timed: {each} per forward and backward)"

"""`make train`: train the reference GPT (or the bigram model) for real.

    make train                                 the cpu preset: 85 seconds on 2 CPU cores
    make train PRESET=bigram                   the seed notebook's bigram model, seconds
    make train PRESET=lecture                  the lecture's 10.8M-parameter GPT, for a GPU
    make train ARGS="--max-seconds 30"         any setting of a preset, as a flag
    make train ARGS="--resume"                 continue runs/cpu/ckpt.pt where it stopped
    torchrun --nproc_per_node=2 -m gptkata.train --preset cpu     data parallel (DDP)

The model comes from the reference solutions (kata 9's GPTLanguageModel, or kata 3's
bigram table), the batches from kata 2's `get_batch` and the loss estimates from
kata 4's `estimate_loss`. One optimisation step is kata 4's `train_step` with three
additions: a learning rate that changes with every step (gptkata.optim), gradient
clipping, and bf16 autocast on a GPU.

Gradient clipping: now and then a batch produces a huge gradient (a loss spike), and
one huge step can undo hours of training. If the norm of all gradients together is
above `grad_clip`, they are all scaled down to that norm: the direction is kept,
only the step is shortened.

A run writes into its output directory (--out, by default runs/<preset>/):

    ckpt.pt        a checkpoint at every evaluation and at the end (gptkata.checkpoint)
    log.json       the settings, the loss history, and the final train_loss, val_loss
                   (estimated on final_eval_iters batches), wall_seconds (training time)
                   and tokens_per_second
    loss.png       the loss curve
    sample.txt     text sampled at the end (also printed)
    attention.png  the attention heatmap of the start of the sample (GPT only)
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from gptkata import checkpoint, distributed, outputs, paths, plots, presets
from gptkata.data import CorpusError, read_corpus
from gptkata.distributed import Cluster
from gptkata.machine import autocast, choose_device, set_threads, use_bf16
from gptkata.models import build_model, count_parameters, model_spec, scale_residual_init
from gptkata.optim import learning_rate, make_optimizer, set_learning_rate
from gptkata.presets import Preset
from gptkata.sample import draw_attention, sample_text
from solutions.batching import get_batch, text_to_tensor, train_val_split
from solutions.tokenizer import build_lookup, build_vocab
from solutions.training import estimate_loss

HEATMAP_CHARS = 48  # characters of the sample shown on attention.png


@dataclass
class Progress:
    """What changes while training, and what a checkpoint must remember of it."""

    step: int = 0  # optimiser steps done
    elapsed_seconds: float = 0.0  # training time so far (evaluations included)
    tokens: int = 0  # training tokens seen, all processes together
    history: dict = field(default_factory=lambda: {"evals": [], "step_losses": []})


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
    vocab: str
    spec: dict
    splits: dict  # {"train": (N_train,), "val": (N_val,)} long tensors on the device


# ----------------------------------------------------------------------------- steps


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
        torch.nn.utils.clip_grad_norm_(model.parameters(), setup.settings.grad_clip)
    optimizer.step()
    return loss.item()


def evaluate(model: nn.Module, setup: Setup, batches: int) -> dict[str, float]:
    """The mean train and val loss over `batches` batches per split (on every rank,
    averaged over the ranks).

    The evaluation batches come from a generator seeded the same way every time, so
    every estimate of a run scores the model on the same text: two estimates differ
    only because the model changed.
    """
    s = setup.settings
    generator = torch.Generator().manual_seed(s.seed + 1_000_003 * (setup.cluster.rank + 1))
    with autocast(setup.device, setup.bf16):
        losses = estimate_loss(model, setup.splits, s.batch_size, s.block_size, batches, generator)
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
    if settings.max_seconds > 0:
        done = max(done, elapsed / settings.max_seconds)
    return done


# ----------------------------------------------------------------------------- checkpoints


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


# ----------------------------------------------------------------------------- the run


def prepare(name: str, settings: Preset, out: Path, data_dir: Path | None) -> Setup:
    """Device, processes, threads and the corpus, split and on the device."""
    device = choose_device(settings.device, distributed.local_rank())
    cluster = distributed.join(device)
    if device.type == "cpu":
        set_threads(settings.threads, cluster.local_world_size)
    text = read_corpus(data_dir)
    vocab = build_vocab(text)
    stoi, _ = build_lookup(vocab)
    train_data, val_data = train_val_split(text_to_tensor(text, stoi), 0.9)
    return Setup(
        name=name,
        settings=settings,
        out=Path(out),
        device=device,
        bf16=use_bf16(settings.precision, device),
        cluster=cluster,
        vocab="".join(vocab),
        spec=model_spec(settings, len(vocab)),
        splits={"train": train_data.to(device), "val": val_data.to(device)},
    )


def check_output_dir(setup: Setup) -> None:
    """Rank 0 makes sure it can write its results; all ranks stop together if not."""
    problem = None
    if setup.cluster.is_main:
        try:
            outputs.prepare(setup.out)
        except outputs.OutputError as error:
            problem = error
    if not distributed.all_true(setup.cluster, problem is None):
        raise problem or outputs.OutputError(f"rank 0 cannot write to {setup.out}")


def train(
    name: str,
    settings: Preset,
    out: Path | None = None,
    resume: bool = False,
    data_dir: Path | None = None,
) -> Finished:
    """Train with `settings`, writing into `out` (runs/<name>/ by default); with
    `resume`, continue from the checkpoint there."""
    setup = prepare(name, settings, out or paths.RUNS / name, data_dir)
    try:
        return run(setup, resume)
    finally:
        distributed.leave(setup.cluster)


def start(setup: Setup, saved: dict | None):
    """The model, the optimiser, the progress and the batch generator: new, or as the
    checkpoint `saved` left them."""
    s, rank = setup.settings, setup.cluster.rank
    torch.manual_seed(s.seed)  # the same initial weights on every rank
    model = build_model(setup.spec)
    if s.init_scale_residual and s.model == "gpt":
        scale_residual_init(model, s.n_layer)
    model.to(setup.device)
    betas = (s.beta1, s.beta2)
    optimizer = make_optimizer(model, s.learning_rate, s.weight_decay, betas, setup.device)
    torch.manual_seed(s.seed + rank)  # dropout: different masks on every rank
    batches = torch.Generator().manual_seed(s.seed + rank)  # and different batches
    progress = Progress()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        progress = Progress(
            saved["step"], saved["elapsed_seconds"], saved["tokens"], saved["history"]
        )
        restore_rng(saved["rng"], batches, setup)
    return model, optimizer, progress, batches


def run(setup: Setup, resume: bool) -> Finished:
    s, cluster = setup.settings, setup.cluster
    ckpt_path = setup.out / checkpoint.FILENAME
    saved = None
    if resume:  # every check before anything is written
        if not ckpt_path.is_file():
            raise checkpoint.CheckpointError(
                f"there is no checkpoint at {ckpt_path} to resume; drop --resume to start a new run"
            )
        saved = checkpoint.load(ckpt_path, map_location=setup.device)
        checkpoint.check_compatible(ckpt_path, saved, setup.spec, setup.vocab)
    check_output_dir(setup)

    model, optimizer, progress, batches = start(setup, saved)
    resumed_from = progress.step if saved is not None else None

    stepper = torch.compile(model) if s.compile else model
    if cluster.distributed:
        device_ids = [setup.device.index] if setup.device.type == "cuda" else None
        stepper = DistributedDataParallel(stepper, device_ids=device_ids)

    announce(setup, model, resumed_from)
    stopped_by = train_loop(setup, model, stepper, optimizer, progress, batches)

    started = time.perf_counter()
    final = evaluate(model, setup, s.final_eval_iters)
    final_seconds = time.perf_counter() - started
    progress.history["evals"].append(eval_entry(progress, final, s.final_eval_iters, None))
    if cluster.is_main:
        tqdm.write(describe(progress.history["evals"][-1]) + " (final)")
    save_checkpoint(setup, model, optimizer, progress, batches)

    log = {
        "preset": setup.name,
        "settings": asdict(s),
        "model": setup.spec,
        "parameters": count_parameters(model),
        "device": str(setup.device),
        "precision": "bf16" if setup.bf16 else "fp32",
        "threads": torch.get_num_threads(),
        "processes": cluster.world_size,
        "resumed_from_step": resumed_from,
        "steps": progress.step,
        "stopped_by": stopped_by,
        "tokens": progress.tokens,
        "train_loss": final["train"],
        "val_loss": final["val"],
        "final_eval_batches": s.final_eval_iters * cluster.world_size,
        "final_eval_seconds": final_seconds,
        "wall_seconds": progress.elapsed_seconds,
        "tokens_per_second": progress.tokens / max(progress.elapsed_seconds, 1e-9),
        "history": progress.history,
    }
    if cluster.is_main:
        write_results(setup, model, log)
    return Finished(log, model)


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
    plain one. Returns what stopped the run: "max_steps" or "max_seconds"."""
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
    while True:
        progress.elapsed_seconds = time.perf_counter() - clock_start
        if s.max_seconds > 0:  # all ranks must stop at the same step: rank 0's clock decides
            progress.elapsed_seconds = distributed.from_main(cluster, progress.elapsed_seconds)
        out_of_time = s.max_seconds > 0 and progress.elapsed_seconds >= s.max_seconds
        done = progress.step >= s.max_steps or out_of_time
        done_fraction = progress_of(progress.step, progress.elapsed_seconds, s)
        lr = learning_rate(progress.step, done_fraction, s.learning_rate, s.min_lr, s.warmup_steps)
        if done:
            break
        evaluated = evals and evals[-1]["step"] == progress.step  # e.g. just resumed
        if progress.step % s.eval_interval == 0 and not evaluated:
            losses = evaluate(model, setup, s.eval_iters)
            evals.append(eval_entry(progress, losses, s.eval_iters, lr))
            bar.write(describe(evals[-1]))
            if progress.step > first_step:
                save_checkpoint(setup, model, optimizer, progress, batches)
        set_learning_rate(optimizer, lr)
        x, y = get_batch(setup.splits["train"], s.batch_size, s.block_size, batches)  # (B, T) each
        loss = optimisation_step(stepper, optimizer, x, y, setup)
        step_losses.append(loss)
        progress.step += 1
        progress.tokens += tokens_per_step
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", refresh=False)
    bar.close()
    return "max_seconds" if out_of_time else "max_steps"


def announce(setup: Setup, model: nn.Module, resumed_from: int | None) -> None:
    if not setup.cluster.is_main:
        return
    s, spec = setup.settings, setup.spec
    if spec["model"] == "gpt":
        shape = (
            f"GPT ({spec['attention']} attention) of {s.n_layer} layers x {s.n_head} heads x "
            f"{s.n_embd} channels, block {s.block_size}"
        )
    else:
        shape = f"bigram table {spec['vocab_size']} x {spec['vocab_size']}, block {s.block_size}"
    limit = f"{s.max_steps} steps" + (f" or {s.max_seconds:g} s" if s.max_seconds > 0 else "")
    where = f"{setup.device}" + (
        f" ({torch.get_num_threads()} threads)" if setup.device.type == "cpu" else ""
    )
    processes = f", {setup.cluster.world_size} processes" if setup.cluster.distributed else ""
    print(
        f"preset {setup.name}: {shape}, {count_parameters(model) / 1e6:.2f}M parameters\n"
        f"on {where}{processes}, {'bf16' if setup.bf16 else 'fp32'}"
        f"{', compiled' if s.compile else ''}; batch {s.batch_size}, up to {limit}; "
        f"writing to {setup.out}/"
        + (f"\nresuming at step {resumed_from}" if resumed_from is not None else "")
    )


def write_results(setup: Setup, model: nn.Module, log: dict) -> None:
    """The sample, the pictures and log.json; a summary on the terminal."""
    s, out = setup.settings, setup.out
    text = sample_text(model, setup.spec, setup.vocab, "\n", s.sample_chars, seed=s.seed)
    log["sample"] = text
    outputs.write_text(out / "sample.txt", text)
    title = f"{setup.name}: val {log['val_loss']:.4f} after {log['steps']} steps"
    plots.loss_curve(
        out / "loss.png", log["history"]["step_losses"], log["history"]["evals"], title
    )
    written = ["ckpt.pt", "log.json", "loss.png", "sample.txt"]
    if setup.spec["model"] == "gpt" and setup.spec["attention"] == "teaching":
        heatmap_text = text[:HEATMAP_CHARS]
        draw_attention(out / "attention.png", model, setup.spec, setup.vocab, heatmap_text, title)
        written.append("attention.png")
    outputs.write_json(out / "log.json", log)
    print(f"\n{text}\n")
    print(
        f"val loss {log['val_loss']:.4f}, train loss {log['train_loss']:.4f} "
        f"(estimated on {log['final_eval_batches']} batches per split, "
        f"{log['final_eval_seconds']:.1f} s)\n"
        f"trained {log['steps']} steps in {log['wall_seconds']:.1f} s: "
        f"{log['tokens_per_second']:,.0f} tokens/s\n"
        f"wrote {out}/: {', '.join(written)}"
    )


# ----------------------------------------------------------------------------- command line


def flag_help(setting) -> str:
    """A setting's help, followed by its value in every preset."""
    values = ", ".join(f"{name} {getattr(p, setting.name)}" for name, p in presets.PRESETS.items())
    return f"{setting.metadata['help']} [{values}]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make train",
        description="Train the reference GPT. Every setting of a preset can be overridden by "
        "its flag; [brackets] show each preset's value.",
    )
    parser.add_argument(
        "--preset", default="cpu", choices=presets.PRESETS, help="the preset to start from"
    )
    parser.add_argument("--out", type=Path, help="the output directory (default: runs/<preset>/)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="the folder holding tinyshakespeare.txt (default: data/)"
    )
    for setting in presets.settings():
        flag = "--" + setting.name.replace("_", "-")
        kind = type(setting.default)
        options = {"default": argparse.SUPPRESS, "help": flag_help(setting)}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        else:
            parser.add_argument(flag, type=kind, choices=setting.metadata["choices"], **options)
    return parser


@dataclass
class Command:
    """What the command line asks for."""

    preset: str
    settings: Preset  # the preset with the flags given applied
    out: Path | None
    resume: bool
    data_dir: Path | None


def parse(argv: list[str] | None = None) -> Command:
    """The command line as a Command; a ValueError for settings that make no sense."""
    options = vars(build_parser().parse_args(argv))
    name = options.pop("preset")
    out, resume, data_dir = options.pop("out"), options.pop("resume"), options.pop("data_dir")
    settings = presets.override(presets.get(name), **options)  # only the flags given
    presets.check(settings)
    return Command(name, settings, out, resume, data_dir)


def main(argv: list[str] | None = None) -> int:
    try:
        command = parse(argv)
        train(command.preset, command.settings, command.out, command.resume, command.data_dir)
    except (CorpusError, checkpoint.CheckpointError, outputs.OutputError, ValueError) as error:
        print(f"make train: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

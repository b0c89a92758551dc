"""What a run tells its user: the one-paragraph announcement at the start, and at the
end the sample, the pictures, log.json and a summary on the terminal."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from gptkata import outputs
from gptkata.lab import plots
from gptkata.lab.models import count_parameters
from gptkata.lab.run_state import Setup
from gptkata.lab.sample import draw_attention, sample_text

HEATMAP_CHARS = 48  # characters of the sample shown on attention.png
# the first line's name of each GPT (preset.attention): the kata that builds it
GPT_NAMES = {"teaching": "GPTLanguageModel (kata 9)", "fused": "FusedGPT (kata 10)"}


def announce(setup: Setup, model: nn.Module, resumed_from: int | None) -> None:
    if not setup.cluster.is_main:
        return
    s, spec = setup.settings, setup.spec
    if spec["model"] == "gpt":
        shape = (
            f"{GPT_NAMES[spec['attention']]} of {s.n_layer} layers x {s.n_head} heads x "
            f"{s.n_embd} channels, block {s.block_size}"
        )
    elif spec["model"] == "modern":
        shape = (
            f"ModernGPT of {s.n_layer} layers x {s.n_head} heads x {s.n_embd} channels, "
            f"window {spec['window']}, sequences of {s.block_size}"
        )
    else:
        shape = f"bigram table {spec['vocab_size']} x {spec['vocab_size']}, block {s.block_size}"
    limit = f"{s.max_steps} steps" + (
        f" or {s.max_seconds:g} s" if math.isfinite(s.max_seconds) else ""
    )
    where = f"{setup.device}" + (
        f" ({torch.get_num_threads()} threads)" if setup.device.type == "cpu" else ""
    )
    processes = f", {setup.cluster.world_size} processes" if setup.cluster.distributed else ""
    print(
        f"preset {setup.name}: {shape}, {count_parameters(model) / 1e6:.2f}M parameters, "
        f"{s.tokenizer} tokenizer ({spec['vocab_size']} ids)\n"
        f"on {where}{processes}, {'bf16' if setup.bf16 else 'fp32'}"
        f"{', compiled' if s.compile else ''}; batch {s.batch_size}, up to {limit}; "
        f"writing to {setup.out}/"
        + (f"\nresuming at step {resumed_from}" if resumed_from is not None else "")
        + (finished_note(setup.name, resumed_from, s.max_steps) if resumed_from is not None else "")
    )


def finished_note(preset: str, step: int, max_steps: int) -> str:
    """For a resumed run that has already reached --max-steps: how to train further."""
    if step < max_steps:
        return ""
    command = "make train" + (f" PRESET={preset}" if preset != "cpu" else "")
    return (
        f" - the run already reached --max-steps {max_steps}, so only the final estimate and "
        f'the sample run again; to train further: {command} ARGS="--resume --max-steps '
        f'{2 * max_steps}"'
    )


def write_results(setup: Setup, model: nn.Module, log: dict) -> None:
    """The sample, the pictures and log.json; a summary on the terminal."""
    s, out = setup.settings, setup.out
    text = sample_text(
        model, setup.spec, setup.vocab, "\n", s.sample_chars, seed=s.seed, parts=setup.kit
    )
    log["sample"] = text
    outputs.write_text(out / "sample.txt", text)
    title = f"{setup.name}: val {log['val_loss']:.4f} after {log['steps']} steps"
    plots.loss_curve(
        out / "loss.png", log["history"]["step_losses"], log["history"]["evals"], title
    )
    written = ["ckpt.pt", "log.json", "loss.png", "sample.txt"]
    if setup.spec["model"] == "gpt" and s.tokenizer == "char":
        heatmap_text = text[:HEATMAP_CHARS]
        draw_attention(
            out / "attention.png", model, setup.spec, setup.vocab, heatmap_text, title, setup.kit
        )
        written.append("attention.png")
    outputs.write_json(out / "log.json", log)
    print(f"\n{text}\n")
    print(
        f"val loss {log['val_loss']:.4f}, train loss {log['train_loss']:.4f} (nats per token, "
        f"estimated on {log['final_eval_batches']} batches per split, "
        f"{log['final_eval_seconds']:.1f} s)\n"
        f"val {log['val_bits_per_character']:.3f} bits per character "
        f"({log['tokenizer']} tokenizer, {log['vocab_size']} ids, "
        f"{log['val_characters_per_token']:.2f} characters per token)\n"
        f"trained {log['steps']} steps in {log['wall_seconds']:.1f} s: "
        f"{log['tokens_per_second']:,.0f} tokens/s\n"
        f"wrote {out}/: {', '.join(written)}"
    )

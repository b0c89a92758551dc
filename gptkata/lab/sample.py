"""`make sample`: text from a trained checkpoint.

    make sample                                       from runs/cpu/ckpt.pt
    make sample ARGS="--prompt 'KING:' --chars 300 --temperature 0.8 --top-k 10 --seed 7"
    make sample ARGS="--top-p 0.9"                    nucleus sampling
    make sample ARGS="--temperature 0"                greedy: always the likeliest
    make sample ARGS="--prompt 'KING:' --heatmap"     and the attention heatmap PNG

    make sample MINE=1                                from runs/mine/ckpt.pt, with your katas

Sampling is kata 9's `generate` with each next id drawn by kata 13's `sample_next`
(with MINE=1 your own where kata 13 is done, gptkata.lab.mine), which has the knobs
that every text generator has:

* temperature: the logits are divided by it before the softmax. Below 1 the
  distribution gets sharper (safer, more repetitive text), above 1 flatter (more
  surprising, more misspelt). 1 samples what the model learned; 0 always takes the
  likeliest character (greedy). The pitfall: a tiny temperature turns large logits
  into inf, and the softmax of inf - inf is nan. The largest logit is subtracted
  first (the softmax does not change), so every logit is at most 0 and a tiny
  temperature only pushes the others towards -inf: it becomes greedy decoding too.
* top-k: only the k most likely next characters keep a chance; the rest are set to
  -inf before the softmax. It cuts off the long tail of unlikely characters that
  would otherwise be drawn now and then. 0 keeps them all.
* top-p (nucleus): only the smallest set of likeliest characters whose probabilities
  add up to p keeps a chance: few where the model is sure, many where it is not.

The same checkpoint, prompt, settings and seed give the same text every time (on the
same device: GPUs and CPUs round differently).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn

from gptkata import paths
from gptkata.kata import select
from gptkata.lab import checkpoint, kit, mine, tokenizers
from gptkata.lab.attention_map import attention_weights
from gptkata.lab.machine import choose_device
from gptkata.lab.models import build_model, context_length
from gptkata.lab.plots import attention_heatmap
from gptkata.lab.presets import MAX_SAMPLE_CHARS

DEFAULT_CHECKPOINT = paths.RUNS / "cpu" / checkpoint.FILENAME
MINE_CHECKPOINT = paths.RUNS / mine.NAME / checkpoint.FILENAME
TRAIN_FIRST = "train one first with `make train PRESET=cpu` (about a minute on 2 CPU cores)"
TRAIN_MINE_FIRST = "train yours first with `make train MINE=1` (about 2 minutes on 2 CPU cores)"


@torch.no_grad()
def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    context: int,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    top_p: float | None = None,
    sample_next=None,
) -> torch.Tensor:
    """`idx` (B, T) extended by `max_new_tokens` sampled ids: (B, T + max_new_tokens).

    The model sees the last `context` ids; each next id is `sample_next` (kata 13's,
    the reference's by default) of the last position's logits (top_k 0 and top_p
    None: no filter). The model is put in eval mode (no dropout) while sampling and
    back in its previous mode afterwards.
    """
    sample_next = sample_next or kit.load("solutions", "sampling").sample_next
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"the temperature must be a finite number, 0 (greedy) or above, got {temperature}"
        )
    if top_k < 0:
        raise ValueError(f"top-k must be 0 (off) or more, got {top_k}")
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -context:])
            logits = logits[:, -1, :].float()  # (B, vocab_size)
            logits = logits - logits.max(dim=-1, keepdim=True).values  # all <= 0
            idx_next = sample_next(logits, temperature, top_k or None, top_p, generator)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)
    finally:
        model.train(was_training)
    return idx


def encode_prompt(prompt: str, vocab: str, parts: kit.Kit | None = None) -> list[int]:
    """The prompt's ids under the checkpoint's tokenizer (`vocab`, see
    gptkata.lab.tokenizers; encoded by `parts`' kata 1, the reference's by default); a
    ValueError naming any character the model never saw."""
    if not prompt:
        raise ValueError(
            "the prompt is empty: give at least one character (the default is a newline)"
        )
    try:
        return codec(vocab, parts).encode(prompt)
    except ValueError as error:
        raise ValueError(f"the prompt cannot be encoded: {error} of this model") from error


def codec(vocab: str, parts: kit.Kit | None) -> tokenizers.Codec:
    """The tokenizer of `vocab`, characters encoded by `parts`' kata 1 (the reference's)."""
    return tokenizers.from_vocab(vocab, parts.tokenizer if parts else None)


def sample_text(
    model: nn.Module,
    spec: dict,
    vocab: str,
    prompt: str = "\n",
    chars: int = 500,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 1337,
    top_p: float | None = None,
    parts: kit.Kit | None = None,
) -> str:
    """The prompt followed by `chars` sampled ids (characters, or BPE tokens), decoded;
    reproducible under `seed`. `parts` gives the tokenizer and sample_next (by default
    the reference's)."""
    if chars < 0:
        raise ValueError(f"the number of characters must be 0 or more, got {chars}")
    device = next(model.parameters()).device
    idx = torch.tensor([encode_prompt(prompt, vocab, parts)], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    draw = parts.sample_next if parts else None
    context = context_length(spec)
    out = generate(model, idx, chars, context, temperature, top_k, generator, top_p, draw)
    return codec(vocab, parts).decode(out[0].tolist())


def load_model(saved: dict, device: torch.device) -> nn.Module:
    """The model of a loaded checkpoint, with its weights, on `device`."""
    model = build_model(saved["spec"])
    model.load_state_dict(saved["model"])
    return model.to(device)


def draw_attention(
    path: Path,
    model: nn.Module,
    spec: dict,
    vocab: str,
    text: str,
    title: str,
    parts: kit.Kit | None = None,
) -> Path:
    """The attention heatmap PNG of `text` (at most block_size characters) at `path`.
    Its axes are labelled with characters, so only a character model can draw it."""
    if vocab.startswith(tokenizers.BPE_PREFIX):
        raise ValueError("the heatmap labels its axes with characters: it needs a character model")
    text = text[: context_length(spec)]
    device = next(model.parameters()).device
    idx = torch.tensor([encode_prompt(text, vocab, parts)], dtype=torch.long, device=device)
    return attention_heatmap(path, attention_weights(model, idx), text, title)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make sample",
        description="Sample text from a checkpoint of `make train`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_checkpoint_flags(parser)
    parser.add_argument("--prompt", default="\n", help="the text to continue")
    parser.add_argument(
        "--chars",
        type=int,
        default=500,
        help="how many characters to generate (tokens, for a model trained with --tokenizer "
        f"bpe), at most {MAX_SAMPLE_CHARS:,}",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1 safer, above 1 wilder, 0 always the likeliest character",
    )
    parser.add_argument(
        "--top-k", type=int, default=0, help="sample among the k likeliest characters only (0: all)"
    )
    parser.add_argument(
        "--top-p",
        type=float,
        default=None,
        # "%(default).0s" prints nothing; it keeps the formatter from adding "(default: None)"
        help="sample among the smallest set of likeliest characters whose probabilities "
        "add up to p, in (0, 1] (default: off)%(default).0s",
    )
    parser.add_argument("--seed", type=int, default=1337, help="the same seed gives the same text")
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where to run the model",
    )
    parser.add_argument(
        "--heatmap",
        nargs="?",
        const="",
        help="also draw the attention heatmap of the text (the prompt and the first characters "
        "written after it, up to --heatmap-chars) into this PNG; without a path, attention.png "
        "beside the checkpoint",
    )
    parser.add_argument(
        "--heatmap-chars", type=int, default=48, help="characters on the heatmap's axes"
    )
    return parser


def add_checkpoint_flags(parser: argparse.ArgumentParser) -> None:
    """--checkpoint and --mine: which model to sample, and whose code samples it."""
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help=f"the checkpoint to sample from (default: {paths.shown(DEFAULT_CHECKPOINT)}; "
        f"with --mine {paths.shown(MINE_CHECKPOINT)})%(default).0s",
    )
    parser.add_argument(
        "--mine",
        action="store_true",
        help="sample your own model of make train MINE=1, with your tokenizer (kata 1) and "
        "sample_next (kata 13) where those katas are done (with make: make sample MINE=1)"
        "%(default).0s",
    )


def check_args(args: argparse.Namespace) -> None:
    """A ValueError naming the first flag that makes no sense, before the checkpoint is read."""
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ValueError(
            f"--temperature must be a finite number, 0 (greedy) or above, got {args.temperature}"
        )
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.top_k < 0:
        raise ValueError(f"--top-k must be 0 (off) or more, got {args.top_k}")
    if args.chars < 0:
        raise ValueError(f"--chars must be 0 or more, got {args.chars}")
    if args.chars > MAX_SAMPLE_CHARS:  # each character is a forward pass: 10**12 never ends
        raise ValueError(f"--chars must be at most {MAX_SAMPLE_CHARS:,}, got {args.chars}")
    if args.heatmap_chars < 1:
        raise ValueError(f"--heatmap-chars must be at least 1, got {args.heatmap_chars}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be in 0 .. 2**63 - 1, got {args.seed}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.checkpoint = args.checkpoint or (MINE_CHECKPOINT if args.mine else DEFAULT_CHECKPOINT)
    try:
        check_args(args)
        device = choose_device(args.device)
        saved = checkpoint.load(args.checkpoint, map_location=device)
        parts = None
        if args.mine:
            parts = mine.sampling_kit(saved["spec"])
            print(mine.table(parts, "make sample MINE=1"), file=sys.stderr)
        model = load_model(saved, device)
        text = sample_text(
            model, saved["spec"], saved["vocab"], args.prompt, args.chars,
            args.temperature, args.top_k, args.seed, args.top_p, parts,
        )  # fmt: skip
        print(text)
        if args.heatmap is not None:
            path = Path(args.heatmap or args.checkpoint.parent / "attention.png")
            title = f"attention of {args.checkpoint}"
            draw_attention(
                path, model, saved["spec"], saved["vocab"], text[: args.heatmap_chars], title, parts
            )
            print(f"attention heatmap: {path}", file=sys.stderr)
    except checkpoint.CheckpointError as error:
        first = TRAIN_MINE_FIRST if args.mine else TRAIN_FIRST
        hint = f": {first}" if not args.checkpoint.exists() else ""
        print(f"make sample: {error}{hint}", file=sys.stderr)
        return 1
    except (ValueError, OSError, select.KataBroken) as error:
        print(f"make sample: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How big a model is before it exists: checking a spec, and the memory it will need.

A spec (see gptkata.lab.models) comes from the command line or from a checkpoint,
and a checkpoint may come from anywhere. Building the model it describes allocates
its weights at once, so every field is checked first, by arithmetic alone: the types,
the ranges, and whether the memory the model needs fits into what the machine has.
A checkpoint claiming a block_size of 10**9 is refused in microseconds instead of
asking for 512 GB (the position embedding alone is block_size x n_embd floats).

The parameter count is exact (a test compares it with the built models):

    embeddings       vocab_size x n_embd + block_size x n_embd
    each block       12 n_embd^2 + 10 n_embd   (queries, keys, values and the output
                     projection: 4 n_embd^2; the feed-forward: 8 n_embd^2; biases and
                     the two LayerNorms: 10 n_embd)
    the end          2 n_embd (LayerNorm) + n_embd x vocab_size + vocab_size (head)
    bigram           vocab_size x vocab_size
    modern (kata 16) vocab_size x n_embd, each block 4 n_embd^2 + 3 n_embd h + 2 n_embd
                     (h = 8 n_embd // 3, no biases), then n_embd + n_embd x vocab_size

Training needs more than the weights: AdamW keeps two moving averages and the
backward pass a gradient, so 16 bytes per parameter; and the activations kept for
the backward pass. The largest of those, and the pitfall of long contexts, is the
teaching attention's (B, T, T) weights: every head of every layer keeps at least two
of them (the scores and their softmax), so doubling block_size quadruples them.
The fused attention of kata 10 never holds them, but the trainer's fused GPT keeps
one causal mask per layer (gptkata.lab.attention_paths.PathAttention, whichever
kernel runs): a (block_size, block_size) table of bools, 1 byte each, so the same
quadratic growth at a quarter of the size per matrix. At --block-size 100000 that is
10 GB per layer. The estimate counts only what a step certainly holds, so it errs on
the small side: a run it lets through may still be too big, but a run it refuses
cannot fit.

The memory free on a CPU is what the system can give (MemAvailable), or less where
the process is limited to an address space (`ulimit -v`, RLIMIT_AS): there an
allocation beyond the limit fails however much the machine has.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

try:
    import resource  # Unix: the process's limits
except ImportError:  # Windows has no address-space limit to read
    resource = None

FLOAT_BYTES = 4
MODELS = ("gpt", "bigram", "modern")
ATTENTIONS = ("teaching", "fused")
# Far beyond any model this project trains (GPT-3 has 96 layers of 96 heads), and small
# enough that even building the modules of a model this deep takes no noticeable time.
MAX_LAYERS = MAX_HEADS = 1024


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_spec(spec) -> None:
    """A ValueError naming the first field of `spec` that is missing, of the wrong type
    or out of range; nothing for a spec that describes a model that can be built."""
    if not isinstance(spec, dict):
        raise ValueError(f"the model description is a {type(spec).__name__}, not a dict")
    model = spec.get("model")
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    names = ("vocab_size",) if model == "bigram" else ("vocab_size", "n_layer", "n_head")
    names += () if model == "bigram" else ("n_embd", "block_size")
    names += ("window",) if model == "modern" else ()
    for name in names:
        if name not in spec:
            raise ValueError(f"{name} is missing")
        if not _is_int(spec[name]) or spec[name] < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {spec[name]!r}")
    if model == "bigram":
        return
    if model != "modern" and spec.get("attention") not in ATTENTIONS:
        raise ValueError(
            f"attention must be one of {', '.join(ATTENTIONS)}, got {spec.get('attention')!r}"
        )
    for name, limit in (("n_layer", MAX_LAYERS), ("n_head", MAX_HEADS)):
        if spec[name] > limit:
            raise ValueError(f"{name} must be at most {limit}, got {spec[name]}")
    if spec["n_embd"] % spec["n_head"] != 0:
        raise ValueError(f"n_embd={spec['n_embd']} must be divisible by n_head={spec['n_head']}")
    if model == "modern" and (spec["n_embd"] // spec["n_head"]) % 2:
        raise ValueError(
            f"n_embd // n_head = {spec['n_embd'] // spec['n_head']} must be even for the modern "
            "model (rotary positions turn pairs of channels)"
        )
    if "dropout" not in spec:
        raise ValueError("dropout is missing")
    dropout = spec["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def parameter_count(spec: dict) -> int:
    """The number of parameters of the model `spec` describes, without building it."""
    vocab = spec["vocab_size"]
    if spec["model"] == "bigram":
        return vocab * vocab
    c, layers = spec["n_embd"], spec["n_layer"]
    if spec["model"] == "modern":  # no biases, no position table; SwiGLU of 8c // 3
        return vocab * c + layers * (4 * c * c + 3 * c * (8 * c // 3) + 2 * c) + c + c * vocab
    embeddings = (vocab + spec["block_size"]) * c
    return embeddings + layers * (12 * c * c + 10 * c) + 2 * c + c * vocab + vocab


def model_bytes(spec: dict) -> int:
    """The memory of the model's weights (float32)."""
    return FLOAT_BYTES * parameter_count(spec)


def training_bytes(spec: dict, batch_size: int, block_size: int) -> int:
    """A lower bound of the memory of one training step: weights, gradients and AdamW's
    two averages, the logits with their softmax and gradient; for a teaching GPT two
    (T, T) float matrices per head and layer, for a fused GPT one (T, T) causal mask of
    bools per layer (see the module docstring)."""
    logits = 3 * batch_size * block_size * spec["vocab_size"]
    floats = 4 * parameter_count(spec) + logits
    masks = 0  # bytes
    if spec["model"] in ("gpt", "modern"):
        floats += 2 * batch_size * spec["n_embd"] * block_size * spec["n_layer"]
        if spec.get("attention") == "teaching":
            heads = spec["n_layer"] * spec["n_head"]
            floats += 2 * batch_size * heads * block_size * block_size
        if spec.get("attention") == "fused":
            masks = spec["n_layer"] * block_size * block_size
    return FLOAT_BYTES * floats + masks


def _read_kb(path: Path, field: str) -> int | None:
    """The bytes of a "<field>: <n> kB" line of a /proc file; None without one."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def address_space_left(status: Path = Path("/proc/self/status")) -> int | None:
    """The bytes this process may still map under its address-space limit (`ulimit
    -v`): the limit less what it maps already (VmSize); None without a limit."""
    if resource is None:
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    return max(0, limit - (_read_kb(status, "VmSize") or 0))


def available_bytes(device: torch.device, meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory free for tensors on `device`: the GPU's free memory for cuda; otherwise
    the memory the system can give a process (MemAvailable), or the address space the
    process has left under its limit where that is less; None when it cannot tell."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    known = [n for n in (_read_kb(meminfo, "MemAvailable"), address_space_left()) if n is not None]
    return min(known) if known else None


def gigabytes(size: int) -> str:
    """'3.2 GB', '512 GB', '0.001 GB': enough digits to compare two sizes."""
    value = size / 1e9
    digits = 1 if value >= 0.1 else max(1, 1 - math.floor(math.log10(max(value, 1e-12))))
    return f"{value:,.{digits}f} GB" if value < 100 else f"{value:,.0f} GB"


def check_fits(needed: int, device: torch.device, what: str, advice: str) -> None:
    """A ValueError when `needed` bytes exceed what `device` has free (nothing when it
    cannot tell): '<what> needs about X GB, and cpu has Y GB available: <advice>'."""
    free = available_bytes(device)
    if free is not None and needed > free:
        raise ValueError(
            f"{what} needs about {gigabytes(needed)}, and {device} has {gigabytes(free)} "
            f"available: {advice}"
        )

"""Which kernel computes the fused attention of kata 10 on this machine, chosen by
timing, not by assumption.

Kata 10's CausalSelfAttention calls `F.scaled_dot_product_attention` (SDPA), and
PyTorch picks one of its kernels for each call:

    flash    a fused kernel that walks over blocks of keys and never stores the
             (T, T) attention weights; on a CPU only without dropout
    math     PyTorch's fallback, written out of ordinary operations: the (T, T)
             scores, a causal mask built at every call, a softmax that also checks
             for rows with nothing to attend to, dropout. On a CPU it is used
             whenever dropout is on (training at the lecture preset's 0.2)

The lab has a third way, `masked_softmax`: the attention kata's recipe with the
heads as a batch dimension - one batched q @ k^T that adds the causal mask as it
writes the scores, softmax, dropout, one batched product with v. It computes the same function
(the tests compare it to SDPA) with fewer passes over the (T, T) matrix than the
math kernel, and a cheaper dropout (`dropout_few_bits`, which then serves the
feed-forward layers too), but it stores that matrix, which flash does not.

Which is fastest depends on the CPU (AVX2 or AVX-512, its caches), on the sizes
and on dropout, so the trainer and `make bench` time both paths at the run's sizes,
forward and backward, and keep the faster (`--attention-path auto`; SDPA unless the
other is clearly faster). The weights and their names do not change. A resumed run
keeps the path it started with; two fresh runs with the same seed give the same
numbers only if they use the same path, so pin it (`--attention-path sdpa`) to
repeat a run bit for bit.
"""

from __future__ import annotations

import time

import torch
import torch.nn as nn
from torch.nn import functional as F

from gptkata.lab.sizes import available_bytes
from solutions.fast_attention import CausalSelfAttention
from solutions.rope import RopeAttention, apply_rope

PATHS = ("sdpa", "masked_softmax")


def sdpa_kernel(q: torch.Tensor, dropout_p: float) -> str:
    """The SDPA kernel PyTorch picks for causal attention on `q`'s device, dtype and
    shape (B, n_head, T, head_size) with dropout `dropout_p`: "flash", "math", ..."""
    try:
        choice = torch._fused_sdp_choice(q, q, q, None, dropout_p, True)
    except (AttributeError, RuntimeError):  # a PyTorch without the private function
        return "unknown"
    names = {0: "math", 1: "flash", 2: "efficient", 3: "cudnn"}
    return names.get(int(choice), "unknown")


def kernel_description(path: str, kernel: str, dropout_p: float) -> str:
    """What computes the attention, in words, for the report and the log."""
    if path == "masked_softmax":
        return "masked softmax (heads batched, the (T, T) weights stored)"
    if kernel == "math" and dropout_p > 0:
        return f"SDPA math (dropout {dropout_p:g} rules out the CPU's flash kernel)"
    return f"SDPA {kernel}"


def masked_softmax(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, dropout_p: float
) -> torch.Tensor:
    """Causal attention of q, k, v (B, n_head, T, head_size) -> (B, n_head, T, head_size).

    `mask` (at least T x T) is True above the diagonal, where a position would look
    into its future. The mask becomes a (T, T) bias, 0 or -inf, that one batched
    product adds to the scaled scores as it writes them (`torch.baddbmm`: no second
    pass over the (B * n_head, T, T) matrix, and nothing to mask in the backward pass,
    where the softmax already gives the masked places a gradient of 0). Dropout zeroes
    some weights while training (dropout_p > 0), and its 1 / (1 - p) goes onto the
    (T, head_size) result rather than the (T, T) weights.
    """
    B, H, T, D = q.shape
    bias = torch.zeros(T, T, dtype=q.dtype, device=q.device).masked_fill_(mask[:T, :T], -torch.inf)
    flat_k = k.reshape(B * H, T, D).transpose(1, 2)
    scores = torch.baddbmm(bias.expand(B * H, T, T), q.reshape(B * H, T, D), flat_k, alpha=D**-0.5)
    # under bf16 autocast the softmax runs in float32 and the product with v would cast
    # its result to v's bf16: cast once here, so that dropout too works on half the bytes
    weights = torch.softmax(scores, dim=-1).view(B, H, T, T).to(v.dtype)
    if dropout_p <= 0:
        return weights @ v  # (B, nh, T, head_size)
    keep, scale = keep_few_bits(weights, dropout_p)
    return (weights * keep) @ v * scale


def random_bits(p: float) -> int:
    """How many random bits decide each number's dropout: 8 where p in 1/256ths is
    within 1% of p and 1 - p within 1% of 1 - p (0.2 is 51/256, 0.4% off), else 16
    (p in 1/65,536ths: 0.1 would be 26/256, 1.6% off; 0.999 would be 1)."""
    error = abs(round(p * 2**8) - p * 2**8) / 2**8
    return 8 if error <= 0.01 * min(p, 1 - p) else 16


def keep_few_bits(x: torch.Tensor, p: float) -> tuple[torch.Tensor, float]:
    """Which numbers of `x` dropout with probability p (0 < p) keeps - 1 where kept, 0
    where dropped, a tensor of x's shape and dtype, from `random_bits(p)` random bits
    per number - and the scale of the kept ones. In x's dtype, so that multiplying x by
    it, forward and backward, does not copy a bool mask into x's dtype each time."""
    bits = random_bits(p)
    threshold = round(p * 2**bits)
    if threshold >= 2**bits:  # p of 1 (or within half a step of it): everything is dropped
        return torch.zeros_like(x), 0.0
    n, per_draw = x.numel(), 64 // bits
    draws = torch.randint(
        -(2**63), 2**63 - 1, (-(-n // per_draw),), dtype=torch.int64, device=x.device
    )
    small = draws.view(torch.int8 if bits == 8 else torch.int16)[:n].view(x.shape)
    kept = small >= threshold - 2 ** (bits - 1)
    # converted once, not at each use; from its bytes read as uint8, which PyTorch
    # converts many times faster on a CPU than the same tensor as bool
    return kept.view(torch.uint8).to(x.dtype), 2**bits / (2**bits - threshold)


def dropout_few_bits(x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout (while training: p > 0) from 8 or 16 random bits per number of `x`.

    F.dropout draws one random number per number; on a CPU, at the lecture's sizes,
    drawing them for the (B, nh, T, T) attention weights costs more than the softmax
    (dropout was a third of the fused GPT's training step). Here one 64-bit draw serves
    eight numbers (or four): a number is kept where its bits clear a threshold, so it
    is dropped with probability p rounded to 1/256 (0.2 becomes 51/256 = 0.19921875)
    where that is within 1% of p, else to 1/65,536 (0.1 becomes 0.10000610), and the
    kept ones are scaled by 1 / (1 - that probability), which keeps every number's
    expectation exact. GPU attention kernels draw 8 bits too. The draws come from
    PyTorch's generator, so a seed repeats them.
    """
    if p <= 0:
        return x
    keep, scale = keep_few_bits(x, p)
    return x * keep * scale


class DropoutFewBits(nn.Dropout):
    """nn.Dropout from 8 or 16 random bits per number (`dropout_few_bits`): on the
    masked-softmax path, the blocks' other dropouts (the feed-forward layer's) too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout_few_bits(x, self.p) if self.training else x


class PathAttention(CausalSelfAttention):
    """Kata 10's CausalSelfAttention with a choice of kernel: `path` "sdpa" (the
    kata's own call) or "masked_softmax". The same weights, names and results."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        super().__init__(n_embd, n_head, block_size, dropout)
        self.path = "sdpa"
        future = torch.ones(block_size, block_size, dtype=torch.bool).triu(1)
        self.register_buffer("future", future, persistent=False)  # not in the state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.path == "sdpa":
            return super().forward(x)
        B, T, C = x.shape
        if T > self.block_size:
            raise ValueError(f"sequence length {T} is longer than block_size {self.block_size}")
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        p = self.dropout if self.training else 0.0
        y = masked_softmax(q, k, v, self.future, p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return dropout_few_bits(self.c_proj(y), p)  # resid_dropout's, from fewer draws


class PathRopeAttention(RopeAttention):
    """Kata 15's RopeAttention with the same choice: on "masked_softmax", a sequence
    that fits in the window (the band is the causal triangle, as in training) takes
    the masked softmax; longer ones, and "sdpa", take the kata's own forward."""

    path = "sdpa"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        if self.path == "sdpa" or T > self.window:
            return super().forward(x)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        cos, sin = self._rope_table(T, x.device)
        positions = torch.arange(T, device=x.device)
        q, k = apply_rope(torch.stack((q, k)), cos, sin, positions).unbind(0)  # in one call
        future = getattr(self, "future", None)
        if future is None or len(future) < T or future.device != x.device:
            with torch.inference_mode(False):  # made in an estimate, kept for training too
                self.future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        p = self.dropout if self.training else 0.0
        y = masked_softmax(q, k, v, self.future, p)
        y = self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return dropout_few_bits(y, p)  # resid_dropout's, from fewer draws


def use_path(model: nn.Module, path: str) -> int:
    """Give every block of a FusedGPT (or a ModernGPT) the attention of the chosen
    `path`, holding the block's own attention layers (the same parameter tensors, so an
    optimiser made before keeps training them), and the dropout that goes with it
    (`use_dropout`); returns how many blocks. A ValueError for an unknown path or
    another model."""
    if path not in PATHS:
        raise ValueError(f"the attention path must be one of {', '.join(PATHS)}, got {path!r}")
    blocks = getattr(model, "blocks", [])
    modern = [b for b in blocks if isinstance(getattr(b, "attn", None), RopeAttention)]
    for block in modern:
        if not isinstance(block.attn, PathRopeAttention):
            block.attn.__class__ = PathRopeAttention  # the same module, a forward with a choice
        block.attn.path = path
    if modern:
        return use_dropout(modern, path)
    blocks = [b for b in blocks if isinstance(getattr(b, "sa", None), CausalSelfAttention)]
    if not blocks:
        raise ValueError("only a FusedGPT's or a ModernGPT's attention has a choice of path")
    for block in blocks:
        old = block.sa
        if not isinstance(old, PathAttention):
            # its new layers are replaced at once: making them draws none of the run's numbers
            with torch.random.fork_rng(devices=[]):
                new = PathAttention(old.n_embd, old.n_head, old.block_size, old.dropout)
            # the very same layers, not copies: an optimiser made before still updates them
            new.c_attn, new.c_proj, new.resid_dropout = old.c_attn, old.c_proj, old.resid_dropout
            block.sa = new.to(old.c_attn.weight.device).train(old.training)
        block.sa.path = path
    return use_dropout(blocks, path)


def use_dropout(blocks: list[nn.Module], path: str) -> int:
    """On "masked_softmax" every nn.Dropout of the `blocks` draws 8 or 16 bits per
    number (DropoutFewBits: the feed-forward layer's dropout costs a fraction of
    F.dropout's); on "sdpa" each is PyTorch's own again. The same modules, no parameters: nothing else changes.
    Returns how many blocks."""
    wanted = DropoutFewBits if path == "masked_softmax" else nn.Dropout
    for block in blocks:
        for module in block.modules():
            if isinstance(module, nn.Dropout):
                module.__class__ = wanted
    return len(blocks)


def time_paths(
    shape: tuple[int, int, int, int],
    dropout_p: float,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    repeats: int = 3,
) -> dict[str, float]:
    """Seconds of one forward and backward of each path's attention on random q, k, v
    of `shape` (B, n_head, T, head_size): the best of `repeats`, the paths taking turns
    so that other work on the machine slows both alike."""
    B, H, T, D = shape
    mask = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    runs = {
        "sdpa": lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout_p, is_causal=True
        ),
        "masked_softmax": lambda q, k, v: masked_softmax(q, k, v, mask, dropout_p),
    }
    best = dict.fromkeys(runs, float("inf"))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        # the timing draws random numbers (q, k, v, dropout): the run's own stay untouched
        q, k, v = (
            torch.randn(shape, device=device, dtype=dtype, requires_grad=True) for _ in "qkv"
        )
        for turn in range(repeats + 1):  # the first turn warms up
            for name, run in runs.items():
                started = time.perf_counter()
                run(q, k, v).sum().backward()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if turn:
                    best[name] = min(best[name], time.perf_counter() - started)
    return best


def weights_fit(shape: tuple[int, int, int, int], device: torch.device) -> bool:
    """Whether a few (B, n_head, T, T) float32 matrices of one layer's masked softmax
    fit into a quarter of the memory free on `device` (True where it cannot tell)."""
    B, H, T, _ = shape
    free = available_bytes(device)
    return free is None or 3 * 4 * B * H * T * T <= free // 4


MARGIN = 0.9  # the masked softmax must take under 90% of SDPA's time to be chosen


def choose(timings: dict[str, float]) -> str:
    """ "masked_softmax" where it took under MARGIN of SDPA's time, "sdpa" otherwise: the
    kata's own call unless the other is clearly faster, so that close timings on a busy
    machine do not flip the choice from one run to the next."""
    return "masked_softmax" if timings["masked_softmax"] < MARGIN * timings["sdpa"] else "sdpa"


def configure(
    model: nn.Module,
    wanted: str,
    batch_size: int,
    device: torch.device,
    bf16: bool,
    length: int | None = None,
) -> dict:
    """Set the attention path of a FusedGPT or ModernGPT: `wanted` ("sdpa",
    "masked_softmax"), or "auto", which on a CPU times both at the training sizes
    (batch_size, n_head, length - by default block_size -, head_size) and the run's
    precision and keeps the faster (on a GPU, whose SDPA kernels take dropout, auto is
    sdpa). Returns what was chosen: {"path", "kernel" (in words), "timings_ms" (auto
    only), "seconds" (the choice's cost)}."""
    started = time.perf_counter()
    c = model.config
    length = length or c.block_size
    shape = (batch_size, c.n_head, length, c.n_embd // c.n_head)
    dtype = torch.bfloat16 if bf16 else torch.float32
    timings = None
    path = wanted
    if wanted == "auto" and device.type != "cpu":
        path = "sdpa"  # GPU kernels of SDPA take dropout: nothing to choose
    elif wanted == "auto" and not weights_fit(shape, device):
        path = "sdpa"  # the masked softmax's (T, T) weights would not fit: flash never holds them
    elif wanted == "auto":
        timings = time_paths(shape, c.dropout, device, dtype, repeats=5)
        path = choose(timings)
    use_path(model, path)
    probe = torch.empty(shape, device=device, dtype=dtype)
    return {
        "path": path,
        "kernel": kernel_description(path, sdpa_kernel(probe, c.dropout), c.dropout),
        "timings_ms": {k: 1e3 * v for k, v in timings.items()} if timings else None,
        "seconds": time.perf_counter() - started,
    }

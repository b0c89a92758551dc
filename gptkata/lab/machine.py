"""Where the computation runs: the device, the number precision, the CPU threads."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from gptkata.lab import cpu


def choose_device(wanted: str = "auto", local_rank: int = 0) -> torch.device:
    """`auto` picks the fastest device present: an NVIDIA GPU (cuda), then an Apple GPU
    (mps), then the CPU. Under torchrun each process on a machine takes its own GPU,
    number `local_rank`. Asking for a device that is not there is a ValueError."""
    if wanted == "auto":
        if torch.cuda.is_available():
            wanted = "cuda"
        elif torch.backends.mps.is_available():
            wanted = "mps"
        else:
            wanted = "cpu"
    if wanted == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA GPU")
        return torch.device("cuda", local_rank)
    if wanted == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was asked for, but PyTorch sees no Apple GPU")
    return torch.device(wanted)


def cpu_has_bf16_units(
    cpuinfo: Path = Path("/proc/cpuinfo"), capability: str | None = None, environ=None
) -> bool:
    """Whether bf16 matrix multiplies run on bf16 units here (Intel AMX or AVX-512 BF16):
    the CPU has them, as Linux reports in /proc/cpuinfo, and PyTorch was not capped
    below AVX-512 (gptkata.lab.cpu); False where there is no such file."""
    text = cpu.read_cpuinfo(cpuinfo)
    return cpu.report(text, capability, environ)["bf16_units"]


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to compute in bfloat16, as far as the hardware's description tells:
    `auto` does on a GPU that supports it, or on a CPU with bf16 units. On a CPU the
    trainer then times both (gptkata.lab.precision): bf16 instructions are not always
    the faster, and a CPU without them is not always slower.

    bf16 keeps float32's range with fewer digits, so - unlike float16 - it needs no
    loss scaling. Under autocast the weights stay float32 and only the matrix
    multiplies run in bf16: several times faster on recent GPUs, and on a 2-core
    CPU with AMX the cpu preset trained about 1.2x faster than in float32.
    """
    if precision == "auto":
        if device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return device.type == "cpu" and cpu_has_bf16_units()
    return precision == "bf16"


def autocast(device: torch.device, bf16: bool):
    """A context in which the matrix multiplies run in bf16 (weights stay float32),
    or a context that changes nothing."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def set_threads(threads: int, processes_per_machine: int) -> int:
    """Set torch's CPU threads and return the number in use.

    `threads=0` keeps PyTorch's choice (one per core) for a single process, and
    shares the cores among the processes when several run on one machine (torchrun),
    because more busy threads than cores makes every one of them slower.
    """
    if threads == 0 and processes_per_machine > 1:
        threads = max(1, (os.cpu_count() or 1) // processes_per_machine)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()

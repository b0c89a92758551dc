"""What this CPU can do: its model name, its vector units, whether it has bf16 units,
and whether PyTorch was told to use less of it.

Two CPUs with the same number of cores can differ several times in speed:

    AVX2         256-bit vector units: 8 float32 multiply-adds per instruction
    AVX-512      512-bit units: 16 per instruction (avx512f)
    bf16 units   AVX-512 BF16 (avx512_bf16) or Intel AMX (amx_bf16, amx_tile): matrix
                 multiplies in bfloat16, several times the float32 rate

Linux lists what the CPU has as `flags` in /proc/cpuinfo. What PyTorch uses is
another matter: `torch.backends.cpu.get_cpu_capability()` names the vector code it
picked ("AVX2", "AVX512"), and three environment variables cap it below what the
hardware has - ATEN_CPU_CAPABILITY (PyTorch's own kernels), ONEDNN_MAX_CPU_ISA
(oneDNN, which runs bf16 matrix multiplies) and MKL_ENABLE_INSTRUCTIONS (MKL, which
runs float32 ones). Capping all three makes an AVX-512 machine imitate an AVX2-only
one, roughly: the cores, caches and clock stay what they are, so figures measured
so are an estimate.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def parse_cpuinfo(text: str) -> tuple[str, set[str]]:
    """The model name and the set of flags of the first processor in `text`, the
    contents of /proc/cpuinfo ("unknown" and an empty set where they are missing)."""
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = " ".join(value.split())
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> str:
    """/proc/cpuinfo's text; "" where there is no such file (not Linux)."""
    try:
        return path.read_text()
    except OSError:
        return ""


def caps_set(environ: dict | None = None) -> dict[str, str]:
    """The environment variables that cap PyTorch's use of the CPU, where set."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in CAPS if environ.get(name)}


def bf16_units_usable(flags: set[str], capability: str, caps: dict[str, str]) -> bool:
    """Whether bf16 matrix multiplies run on bf16 units here: the CPU has them, and
    neither PyTorch's capability nor oneDNN's is capped below AVX-512."""
    if not any(flag in flags for flag in BF16_FLAGS):
        return False
    onednn = caps.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if onednn and not onednn.startswith(("AVX512_CORE_BF16", "AVX512_CORE_AMX", "DEFAULT")):
        return False
    return "AVX512" in capability.upper() or "AMX" in capability.upper()


def report(cpuinfo: str | None = None, capability: str | None = None, environ=None) -> dict:
    """This CPU as a dict: model, features (each of FEATURES: present or not),
    torch_capability, caps (the variables set), bf16_units (usable here)."""
    model, flags = parse_cpuinfo(read_cpuinfo() if cpuinfo is None else cpuinfo)
    capability = capability or torch.backends.cpu.get_cpu_capability()
    caps = caps_set(environ)
    return {
        "model": model,
        "features": {name: name in flags for name in FEATURES},
        "torch_capability": capability,
        "caps": caps,
        "bf16_units": bf16_units_usable(flags, capability, caps),
    }

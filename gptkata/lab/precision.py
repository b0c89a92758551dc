"""Which number precision a run computes in on a CPU: chosen by timing, not by the
CPU's flags.

bf16 (bfloat16) keeps float32's range with 8 bits of mantissa instead of 24, so a
matrix multiply in bf16 moves half the bytes, and a CPU with bf16 instructions can
do more of them per cycle. /proc/cpuinfo says whether a CPU has such instructions
(gptkata.lab.cpu), but not whether they make this model faster: on one 2-core Xeon
with AVX-512 BF16 (and no AMX) a 2048 x 2048 matrix multiply ran at half the
float32 rate in bf16, and the cpu preset trained 1.5x slower in bf16 than in
float32, while an AMD EPYC with the same flags ran the same multiply several times
faster in bf16. Small models add their own costs: autocast converts every weight to
bf16 at every step, and some kernels (SDPA's on a CPU) are slow in bf16 at small
sizes.

So `--precision auto` on a CPU measures. Before training, one forward and backward
step of the run's own model, on a random batch of the run's sizes, is timed in
float32 and in bf16 autocast - each with the attention kernel it would train with
(gptkata.lab.attention_paths times those too) - taking turns, the best of a few
each. bf16 is kept only where it took under MARGIN of float32's time: float32 is the
more exact of the two, so a tie goes to it. This takes a fraction of a second on the
cpu preset, counts in the run's time budget, and is printed beside the attention
timings. A resumed run keeps the precision it started with; on a GPU, auto is bf16
where the GPU supports it (its tensor cores make bf16 several times faster), as
gptkata.lab.machine decides; `--precision fp32` or `bf16` is never overruled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn as nn

from gptkata.lab import cpu, distributed, machine
from gptkata.lab.run_state import Progress, Setup

PRECISIONS = ("fp32", "bf16")
MARGIN = 0.9  # bf16 must take under 90% of float32's time to be chosen
CLEAR = 2.0  # after a turn, one precision this many times faster than the other ends the timing
WARM_CLEAR = 4.0  # ... and this many times already in the warm-up turn


def choose(timings: dict[str, float]) -> str:
    """ "bf16" where it took under MARGIN of fp32's time, "fp32" otherwise."""
    return "bf16" if timings["bf16"] < MARGIN * timings["fp32"] else "fp32"


def time_turns(
    step: Callable[[str], None], repeats: int = 3, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Seconds of `step(name)` for each of PRECISIONS by `clock`: one warm-up call
    each, then the best of up to `repeats` calls, the precisions taking turns so that
    other work on the machine slows both alike. It stops early once one is CLEAR
    times faster than the other, or WARM_CLEAR times in the warm-up turn (first calls
    cost more, but not four times more): a hopeless bf16 costs little to rule out."""
    best = dict.fromkeys(PRECISIONS, float("inf"))
    for turn in range(repeats + 1):  # the first turn warms up
        took = {}
        for name in PRECISIONS:
            started = clock()
            step(name)
            took[name] = clock() - started
        if not turn and max(took.values()) > WARM_CLEAR * min(took.values()):
            return took  # bf16 emulated without bf16 instructions: ten times slower or more
        if turn:
            best = {name: min(best[name], took[name]) for name in PRECISIONS}
        if turn and max(best.values()) > CLEAR * min(best.values()):
            break
    return best


def has_path_choice(spec: dict) -> bool:
    """Whether the model of `spec` has a choice of attention kernel: the reference's
    fused GPT or ModernGPT (the trainer's rule; a learner's model keeps its own)."""
    fused = spec.get("attention") == "fused" or spec["model"] == "modern"
    return fused and spec.get("code", "solutions") == "solutions"


def measure(
    model: nn.Module,
    batch_size: int,
    length: int,
    vocab_size: int,
    device: torch.device,
    attention_path: str | None = None,
    repeats: int = 3,
) -> dict:
    """Time one forward and backward step of `model` on random ids (batch_size,
    length) in each precision. With `attention_path` (the model has a choice of
    kernel: "auto", "sdpa" or "masked_softmax"), each precision first gets the kernel
    gptkata.lab.attention_paths picks for it. The run's random numbers, the weights
    and their gradients are left as they were. Returns {"timings_ms", "paths"}."""
    from gptkata.lab import attention_paths  # builds on the reference's attention

    with torch.random.fork_rng(devices=[]):
        x, y = torch.randint(vocab_size, (2, batch_size, length), device=device)
        paths = {}
        for name in PRECISIONS if attention_path else ():
            chosen = attention_paths.configure(
                model, attention_path, batch_size, device, name == "bf16", length
            )
            paths[name] = chosen["path"]

        def step(name: str) -> None:
            if paths:
                attention_paths.use_path(model, paths[name])
            with machine.autocast(device, name == "bf16"):
                _, loss = model(x, y)
            loss.backward()

        try:
            timings = time_turns(step, repeats)
        finally:
            model.zero_grad(set_to_none=True)
    return {"timings_ms": {k: 1e3 * v for k, v in timings.items()}, "paths": paths}


def verdict_words(timings: dict[str, float], cpu_report: dict) -> str:
    """Why `timings` chose what they chose, and what the CPU's flags would have said."""
    f = cpu_report["features"]
    units = [n for n, flag in (("AMX", "amx_bf16"), ("AVX-512 BF16", "avx512_bf16")) if f[flag]]
    flags = f"bf16 units ({', '.join(units)})" if cpu_report["bf16_units"] else "no bf16 units"
    if choose(timings) == "bf16":
        return f"bf16 is faster on this CPU, which has {flags}"
    slower = "slower" if timings["bf16"] >= timings["fp32"] else f"not {1 - MARGIN:.0%} faster"
    although = "although" if cpu_report["bf16_units"] else "and"
    return f"bf16 is {slower}, {although} the CPU has {flags}"


def timed_words(measured: dict) -> str:
    """'fp32 17.0 ms (sdpa), bf16 25.0 ms (masked_softmax)'."""
    paths = measured.get("paths") or {}
    return ", ".join(
        f"{name} {ms:.1f} ms" + (f" ({paths[name]})" if name in paths else "")
        for name, ms in measured["timings_ms"].items()
    )


def decide(wanted: str, device: torch.device, timer: Callable[[], dict], cpu_report: dict) -> dict:
    """The precision of a run: `wanted` ("auto", "fp32", "bf16") on `device`; on a CPU,
    auto calls `timer()` (what `measure` returns) and keeps the faster by `choose`,
    whatever `cpu_report` (gptkata.lab.cpu) says about bf16 units. Returns
    {"precision", "bf16", "timings_ms" (None where nothing was timed), "paths", "why"}."""
    if wanted != "auto" or device.type != "cpu":
        bf16 = machine.use_bf16(wanted, device)
        why = (
            "as --precision asks"
            if wanted != "auto"
            else f"auto on {device.type}: bf16 if supported"
        )
        return decision("bf16" if bf16 else "fp32", None, {}, why)
    try:
        measured = timer()
    except RuntimeError as error:  # bf16 cannot run here at all
        return decision("fp32", None, {}, f"bf16 failed to run on this CPU ({error})")
    timings = measured["timings_ms"]
    name = choose(timings)
    how = (
        f"timed per forward and backward step: {timed_words(measured)}: "
        f"{verdict_words(timings, cpu_report)}"
    )
    return decision(name, timings, measured.get("paths") or {}, how)


def decision(name: str, timings: dict | None, paths: dict, why: str) -> dict:
    """What `decide` returns."""
    return {
        "precision": name,
        "bf16": name == "bf16",
        "timings_ms": timings,
        "paths": paths,
        "why": why,
    }


def for_run(setup: Setup, model: nn.Module, progress: Progress) -> dict:
    """The trainer's choice, made before it trains: `decide` on the run's model at its
    sizes, rank 0's answer on every rank, set as `setup.bf16` and kept in the history
    as "precision" (log.json shows it, a checkpoint remembers it); its time counts as
    training. A resumed run keeps the precision it began with. Returns the choice:
    what `decide` returns, and "seconds"."""
    started = time.perf_counter()
    s = setup.settings
    stored = progress.history.get("precision")
    kept = stored.get("precision") if isinstance(stored, dict) else None
    if s.precision == "auto" and setup.device.type == "cpu" and kept in PRECISIONS:
        chosen = {**stored, "kept": True}  # the same numbers as the run it continues
    else:
        path = s.attention_path if has_path_choice(setup.spec) else None

        def timer() -> dict:
            vocab, length = setup.spec["vocab_size"], s.block_size
            return measure(model, s.batch_size, length, vocab, setup.device, path)

        chosen = decide(s.precision, setup.device, timer, cpu.report())
    chosen = distributed.from_main(setup.cluster, chosen)  # the same precision on every rank
    setup.bf16 = chosen["bf16"]
    chosen["seconds"] = time.perf_counter() - started
    progress.elapsed_seconds += chosen["seconds"]
    progress.history["precision"] = chosen
    return chosen


def line(chosen: dict) -> str:
    """'precision: fp32 (timed per forward and backward step: fp32 17.0 ms (sdpa), ...)'."""
    kept = "kept from the run it continues, " if chosen.get("kept") else ""
    return f"precision: {chosen['precision']} ({kept}{chosen['why']})"


def announce(setup: Setup, history: dict) -> None:
    """On rank 0, the line of a precision that was timed (now or by the run it continues)."""
    chosen = history.get("precision")
    if setup.cluster.is_main and isinstance(chosen, dict) and chosen.get("timings_ms"):
        print(line(chosen))

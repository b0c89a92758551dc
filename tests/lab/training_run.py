"""Helpers of the trainer's tests: a small made-up corpus and tiny runs of `make train`.

The corpus is generated, not the real one: the trainer's tests need text, not
Shakespeare, and run without `make data`.

A test of a guard against a run too big to finish (too much memory, too many threads,
too much text) runs the command in a child process held on a short leash
(`run_bounded`): if the guard ever breaks, the test fails in seconds instead of
taking the machine's memory or hanging the suite.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
from pathlib import Path

from gptkata import paths
from gptkata.data import FILENAME
from gptkata.lab import train

WORDS = (
    "the a kata model learns to write one character at a time and every head looks back "
    "over what came before it while the loss goes down step by step"
).split()

# A GPT small enough to train a few steps in well under a second.
TINY = (
    "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8",
    "--batch-size", "4", "--eval-interval", "3", "--eval-iters", "2",
    "--final-eval-iters", "3", "--sample-chars", "24", "--warmup-steps", "2",
    "--precision", "fp32",  # the same numbers on every CPU; bf16 has a test of its own
)  # fmt: skip


def write_corpus(folder: Path, characters: int = 20_000, seed: int = 0) -> Path:
    """A made-up corpus of lines of words at folder/tinyshakespeare.txt."""
    rng = random.Random(seed)
    lines, size = [], 0
    while size < characters:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        line = line.capitalize() + rng.choice(".,;!?:")
        lines.append(line)
        size += len(line) + 1
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILENAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_train(corpus: Path, out: Path, *flags: str, preset: str = "cpu", tiny: bool = True) -> int:
    """`make train PRESET=<preset> ARGS="<TINY> <flags>"` in this process; the exit code."""
    argv = ["--preset", preset, "--data-dir", str(corpus.parent), "--out", str(out)]
    return train.main(argv + list(TINY if tiny else ()) + list(flags))


def read_log(out: Path) -> dict:
    return json.loads((out / "log.json").read_text(encoding="utf-8"))


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_bounded(
    module: str,
    *args: str,
    memory_gb: int = 8,
    timeout: float = 60,
    root: Path = paths.ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` in a child process that may map at most `memory_gb`
    GB of address space (`ulimit -v`: an allocation beyond it fails at once, before it
    touches any memory) and is killed after `timeout` seconds (subprocess.TimeoutExpired,
    a failed test); stdout and stderr captured as text. It runs in the repository, or
    in the copy of it at `root`, with this process's environment or `env`."""
    limit = memory_gb * 10**9

    def leash() -> None:  # runs in the child, before it starts Python
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=leash,
    )


def error_lines(stderr: str, prefix: str) -> list[str]:
    """The lines of `stderr` that are a command's error (they start with `prefix`,
    e.g. "make train: "); a traceback or a crash has none."""
    return [line for line in stderr.splitlines() if line.startswith(prefix)]

"""Data-parallel training: 2 CPU processes (gloo), as `torchrun --nproc_per_node=2` runs it."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

from gptkata.lab import checkpoint, presets, rundir, trainer
from tests.lab.training_run import read_log, write_corpus

WORLD_SIZE = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replica(rank: int, port: int, root: Path, data_dir: Path) -> None:
    """One training process. It sets the variables torchrun would set, and works in a
    folder of its own, so anything it writes into its --out is visible afterwards.
    It saves what it trained for the test to compare (a file of the test, not of the
    trainer)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(WORLD_SIZE),
    )
    os.chdir(root / f"rank{rank}")
    settings = presets.override(
        presets.get("cpu"),
        n_layer=1, n_head=2, n_embd=16, block_size=8, batch_size=4, max_steps=4,
        eval_interval=2, eval_iters=2, final_eval_iters=2, sample_chars=8, dropout=0.1,
    )  # fmt: skip
    finished = trainer.train("cpu", settings, Path("run"), data_dir=data_dir)
    torch.save(
        {"model": finished.model.state_dict(), "losses": finished.log["history"]["step_losses"]},
        root / f"replica{rank}.pt",
    )
    # Everything is saved and the process group was left: skip the interpreter's
    # teardown, where a thread of gloo's may still abort the process now and then.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def test_two_processes_train_identical_replicas_on_different_batches(tmp_path):
    data_dir = write_corpus(tmp_path / "data").parent
    for rank in range(WORLD_SIZE):
        (tmp_path / f"rank{rank}").mkdir()
    processes = mp.start_processes(
        replica,
        args=(free_port(), tmp_path, data_dir),
        nprocs=WORLD_SIZE,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + 180  # a hung process fails this test, never the suite
    while not processes.join(timeout=1):
        if time.monotonic() > deadline:
            for process in processes.processes:
                process.kill()
            raise AssertionError("the training processes did not finish in 180 s")

    replicas = [torch.load(tmp_path / f"replica{r}.pt") for r in range(WORLD_SIZE)]
    for name, weight in replicas[0]["model"].items():
        assert torch.equal(weight, replicas[1]["model"][name]), name
    assert replicas[0]["losses"] != replicas[1]["losses"]  # each rank drew its own batches

    out = tmp_path / "rank0" / "run"
    names = {"ckpt.pt", "log.json", "loss.png", "sample.txt", "attention.png", rundir.LOCK}
    assert {p.name for p in out.iterdir()} == names  # rank 0 locked the folder
    assert list((tmp_path / "rank1").iterdir()) == []  # rank 1 wrote nothing at all
    saved = checkpoint.load(out / checkpoint.FILENAME)
    for name, weight in replicas[0]["model"].items():
        assert torch.equal(saved["model"][name], weight), name
    assert len(saved["rng"]) == WORLD_SIZE  # each rank's generators, for --resume
    log = read_log(out)
    assert log["processes"] == WORLD_SIZE
    assert log["tokens"] == 4 * 4 * 8 * WORLD_SIZE
    assert log["history"]["step_losses"] == replicas[0]["losses"]

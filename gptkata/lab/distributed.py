"""Training with several processes: data parallelism with DistributedDataParallel.

`torchrun --nproc_per_node=N -m gptkata.lab.train ...` starts N copies of the trainer
and tells each its place through environment variables: RANK (0 .. N-1 over all
machines), WORLD_SIZE (N) and LOCAL_RANK (its number on this machine). Each copy
(a *rank*) holds a full replica of the model and draws its own random batches;
after every backward pass DDP averages the gradients of all ranks, so every replica
takes exactly the same optimiser step and the replicas stay identical. N processes
see N times as many sequences per step.

Communication goes through a *backend*: gloo on CPUs, nccl between NVIDIA GPUs.
Rank 0 is the main process: only it shows progress and writes checkpoints and logs.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Cluster:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def join(device: torch.device) -> Cluster:
    """Join the process group torchrun set up (nccl for cuda, gloo otherwise), or
    return the one-process Cluster when not started by torchrun."""
    if not launched_by_torchrun():
        return Cluster()
    world_size = int(os.environ["WORLD_SIZE"])
    if world_size > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Cluster(
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        local_rank=local_rank(),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", world_size)),
    )


LEAVE_TIMEOUT = datetime.timedelta(seconds=60)


def leave(cluster: Cluster) -> None:
    """Leave the process group, all ranks together: a rank that tears its connections
    down while another still holds them can abort in gloo's threads. The wait is
    bounded (a rank that died is not waited for longer than LEAVE_TIMEOUT)."""
    if not (cluster.distributed and dist.is_initialized()):
        return
    if dist.get_backend() == "gloo":
        try:
            dist.monitored_barrier(timeout=LEAVE_TIMEOUT)
        except RuntimeError:
            pass  # a rank did not arrive: leave anyway; its own error says why
    dist.destroy_process_group()


def all_true(cluster: Cluster, ok: bool) -> bool:
    """True on every rank when `ok` is True on every rank: lets all ranks stop together
    when one of them finds a problem, instead of the others waiting for it forever."""
    return all(gather(cluster, ok))


def mean(cluster: Cluster, values: dict[str, float]) -> dict[str, float]:
    """Each value averaged over all ranks (every rank gets the averages)."""
    everyone = gather(cluster, values)
    return {name: sum(v[name] for v in everyone) / len(everyone) for name in values}


def from_main(cluster: Cluster, value):
    """Rank 0's `value`, on every rank (for decisions all ranks must take together,
    such as stopping when rank 0's clock says the time is up)."""
    if not cluster.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(cluster: Cluster, value) -> list:
    """Every rank's `value`, in rank order (each rank gets the whole list)."""
    if not cluster.distributed:
        return [value]
    everyone = [None] * cluster.world_size
    dist.all_gather_object(everyone, value)
    return everyone

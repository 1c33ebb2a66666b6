"""Starting the ranks of a sequence-parallel DiT: spawned by the daemon itself, or already started by torchrun.

Rank 0 is the process that serves (it loads every model and runs the sampler);
ranks 1..N−1 each load only the DiT onto their own device and ``follow`` rank
0's forwards. Without torchrun, ``SequenceParallelRanks.start`` spawns them
with torch.multiprocessing and meets them at a rendezvous file in a private
temporary folder; under torchrun (RANK, WORLD_SIZE, LOCAL_RANK and the
MASTER_* variables set) every process already exists and ``env://`` is used.
NCCL joins CUDA devices, gloo CPUs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from yume_bridge.model.dit import WanModel
from yume_bridge.model.loader import LoadOptions, load_dit
from yume_bridge.model.parallel import SequenceParallelGroup, follow

__all__ = [
    "ParallelLaunch",
    "SequenceParallelRanks",
    "follow_under_torchrun",
    "rank_devices",
    "run_follower",
    "torchrun_rank",
]

RENDEZVOUS_TIMEOUT = timedelta(minutes=10)
"""How long a rank waits for the others at any collective: loading 5B weights onto a GPU takes about a minute."""

JOIN_TIMEOUT_S = 30.0
"""How long closing waits for a spawned rank to exit before it is terminated."""


def torchrun_rank() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when started by torchrun, else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return rank, world_size, int(os.environ.get("LOCAL_RANK", rank))


def rank_devices(device: str, world_size: int) -> tuple[str, ...]:
    """One device per rank: "cpu" for all on a CPU; consecutive CUDA devices from ``device``'s index."""
    if not device.startswith("cuda"):
        return (device,) * world_size
    first = torch.device(device).index or 0
    available = torch.cuda.device_count()
    if first + world_size > available:
        raise ValueError(f"sequence parallelism over {world_size} ranks from {device} needs "
                         f"{first + world_size} CUDA devices, this machine has {available}")
    return tuple(f"cuda:{first + rank}" for rank in range(world_size))


@dataclass(frozen=True)
class ParallelLaunch:
    """What every rank needs to hold the same DiT: the weights folder and rank 0's load options."""

    folder: Path
    options: LoadOptions
    world_size: int
    cpu_threads: int = 1
    """Intra-op threads of a follower on a CPU (rank 0's count)."""

    def __post_init__(self) -> None:
        if self.world_size < 2:
            raise ValueError(f"sequence parallelism needs at least 2 ranks, got {self.world_size}")

    @property
    def backend(self) -> str:
        return "nccl" if self.options.device.startswith("cuda") else "gloo"


def run_follower(launch: ParallelLaunch, device: str) -> int:
    """A rank > 0 that has joined the group: load the DiT, report, follow rank 0. Returns the steps run."""
    problem, model = "", None
    try:
        model = load_dit(launch.folder, replace(launch.options, device=device))
    except Exception as exc:  # reported to rank 0, which raises it where the user sees it
        problem = f"rank {dist.get_rank()} on {device}: {exc}"
    problems: list[str | None] = [None] * launch.world_size
    dist.all_gather_object(problems, problem)
    if model is None or any(problems):
        return 0
    return follow(model)


def follow_under_torchrun(launch: ParallelLaunch) -> int:
    """A process torchrun started as rank > 0: join the group, hold the DiT, follow rank 0 until it stops."""
    started = torchrun_rank()
    if started is None or started[0] == 0:
        raise ValueError("only a rank > 0 started by torchrun follows; rank 0 serves")
    rank, world_size, local_rank = started
    if world_size != launch.world_size:
        raise ValueError(f"torchrun started {world_size} processes for sequence parallelism over "
                         f"{launch.world_size}; give torchrun --nproc-per-node {launch.world_size}")
    device = f"cuda:{local_rank}" if launch.backend == "nccl" else launch.options.device
    if launch.backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(launch.backend, init_method="env://", rank=rank, world_size=world_size,
                            timeout=RENDEZVOUS_TIMEOUT)
    try:
        return run_follower(launch, device)
    finally:
        dist.destroy_process_group()


def _spawned_follower(index: int, launch: ParallelLaunch, init_method: str, devices: tuple[str, ...]) -> None:
    rank = index + 1  # mp.spawn-style index 0 is rank 1: rank 0 is the parent
    torch.set_num_threads(launch.cpu_threads)
    if devices[rank].startswith("cuda"):
        torch.cuda.set_device(devices[rank])
    dist.init_process_group(launch.backend, init_method=init_method, rank=rank, world_size=launch.world_size,
                            timeout=RENDEZVOUS_TIMEOUT)
    try:
        run_follower(launch, devices[rank])
    finally:
        dist.destroy_process_group()


class SequenceParallelRanks:
    """Rank 0's handle on the group: ``start`` → load rank 0's models → ``attach(dit)`` → … → ``close``."""

    def __init__(self, launch: ParallelLaunch, processes: list, rendezvous: Path | None) -> None:
        self.launch = launch
        self._processes = processes
        self._rendezvous = rendezvous
        self._group: SequenceParallelGroup | None = None
        self._dit: WanModel | None = None
        self._followers_waiting = True
        """The followers wait at the load report (``attach`` not yet passed)."""
        self._closed = False

    @classmethod
    def start(cls, launch: ParallelLaunch) -> SequenceParallelRanks:
        """Join (torchrun) or spawn ranks 1..N−1; they start loading the DiT while rank 0 loads its models."""
        if dist.is_initialized():
            raise ValueError("this process already belongs to a process group: one sequence-parallel DiT "
                             "per daemon (not with --devices)")
        started = torchrun_rank()
        if started is not None:
            rank, world_size, local_rank = started
            if rank != 0 or world_size != launch.world_size:
                raise ValueError(f"torchrun started rank {rank} of {world_size}; rank 0 of "
                                 f"{launch.world_size} serves (see docs/scaling.md)")
            if launch.backend == "nccl":
                torch.cuda.set_device(local_rank)
            dist.init_process_group(launch.backend, init_method="env://", rank=0, world_size=world_size,
                                    timeout=RENDEZVOUS_TIMEOUT)
            return cls(launch, [], None)
        devices = rank_devices(launch.options.device, launch.world_size)
        folder = Path(tempfile.mkdtemp(prefix="yume-bridge-ranks-"))
        init_method = f"file://{folder / 'rendezvous'}"
        context = mp.get_context("spawn")
        processes = [context.Process(target=_spawned_follower, args=(rank - 1, launch, init_method, devices),
                                     daemon=True, name=f"yume-bridge rank {rank}")
                     for rank in range(1, launch.world_size)]
        for process in processes:
            process.start()
        if launch.backend == "nccl":
            torch.cuda.set_device(devices[0])
        dist.init_process_group(launch.backend, init_method=init_method, rank=0, world_size=launch.world_size,
                                timeout=RENDEZVOUS_TIMEOUT)
        return cls(launch, processes, folder)

    def attach(self, dit: WanModel) -> None:
        """Wait until every rank holds its DiT, then make ``dit``'s forwards run over the group.

        Raises RuntimeError naming the ranks that could not load (the group is closed then).
        """
        if dit.args.num_heads % self.launch.world_size:
            self.close()
            raise RuntimeError(f"the DiT's {dit.args.num_heads} heads do not split over "
                               f"{self.launch.world_size} ranks; choose a divisor of {dit.args.num_heads}")
        problems: list[str | None] = [None] * self.launch.world_size
        try:
            dist.all_gather_object(problems, "")
        except BaseException:  # a rank died: the group is broken, release what is left
            self._followers_waiting = False
            self.close()
            raise
        self._followers_waiting = False
        failed = [problem for problem in problems if problem]
        if failed:
            self.close()  # the followers have returned
            raise RuntimeError("sequence-parallel ranks failed to load the DiT: " + "; ".join(failed))
        self._group = SequenceParallelGroup()
        self._dit = dit
        dit.sequence_parallel = self._group

    def close(self) -> None:
        """Release the followers and the group (idempotent): before ``attach`` they are told rank 0 gave up."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._followers_waiting:
                problems: list[str | None] = [None] * self.launch.world_size
                dist.all_gather_object(problems, "rank 0 stopped before the DiT was ready")
            elif self._group is not None:
                self._group.stop()
        finally:
            if self._dit is not None:
                self._dit.sequence_parallel = None  # the DiT runs in this process alone again
                self._dit = None
            dist.destroy_process_group()
            for process in self._processes:
                process.join(JOIN_TIMEOUT_S)
                if process.is_alive():
                    process.terminate()
            if self._rendezvous is not None:
                shutil.rmtree(self._rendezvous, ignore_errors=True)

"""DiT step time with the sequence split over several CUDA devices (Ulysses over NCCL), random full-size weights.

    python benchmarks/sequence_parallel_step.py --ranks 2 --history 1016    # needs 2 CUDA devices
    python benchmarks/sequence_parallel_step.py --tiny-cpu --resolution 64x128 --history 13  # the tiny model, CPUs

Every rank builds the same seeded random DiT on its own device and the same
seeded inputs, so no weights or inputs travel; each then runs
``sequence_parallel_forward`` (eager blocks) and rank 0 reports the step times.
``gpu_oneshot.py --devices N`` runs this for 2, 4, … ranks up to N.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _rank(rank: int, world_size: int, rendezvous: str, history: int, size: tuple[int, int], repeats: int,
          out: str, preset: str) -> None:
    import torch
    import torch.distributed as dist

    from yume_bridge.model import dit as dit_module
    from yume_bridge.model.args import YumeArgs
    from yume_bridge.model.parallel import sequence_parallel_forward

    cuda = preset != "tiny"  # the tiny model checks this script on CPUs (gloo)
    device = f"cuda:{rank}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(1)
    dist.init_process_group("nccl" if cuda else "gloo", init_method=f"file://{rendezvous}", rank=rank,
                            world_size=world_size)
    try:
        args = YumeArgs.preset(preset)
        torch.manual_seed(0)
        with torch.device(device):
            model = dit_module.WanModel(args.dit).to(torch.bfloat16)
        for name, param in model.named_parameters():
            if any(part in name for part in dit_module.FP32_PARAMETERS):
                param.data = param.data.float()
        model = model.eval().requires_grad_(False)
        model.configure(dit_module.DitOptions())
        scale = args.pixels_per_latent
        latent_shape = (args.predicted_latents, size[0] // scale, size[1] // scale)
        generator = torch.Generator().manual_seed(history)
        context = torch.randn(1, args.dit.text_len, args.dit.text_dim, generator=generator).to(device, torch.bfloat16)
        past = torch.randn(1, args.dit.in_dim, history, *latent_shape[1:], generator=generator)
        noise = torch.randn(1, args.dit.in_dim, *latent_shape, generator=generator).to(device)
        timestep = torch.full((1,), 875.0, device=device)
        times = []
        with torch.inference_mode():
            inputs = model.prepare(context, latent_shape, past.to(device, torch.bfloat16))
            for index in range(repeats + 1):  # the first call warms up
                dist.barrier()
                _sync(cuda)
                began = time.perf_counter()
                sequence_parallel_forward(model, noise, timestep, inputs)
                _sync(cuda)
                if index:
                    times.append(time.perf_counter() - began)
        tokens = inputs.num_history_tokens + math.prod(inputs.grid)
        exchange_s = _exchange_time(tokens, world_size, args.dit.num_heads, args.dit.head_dim, args.dit.num_layers,
                                    device, cuda)
        if rank == 0:
            Path(out).write_text(json.dumps({"ranks": world_size, "history_latents": history, "tokens": tokens,
                                             "step_ms": [round(t * 1e3, 2) for t in times],
                                             "all_to_all_ms_per_step": round(exchange_s * 1e3, 2),
                                             "attention_backend": model.attention_backend_used}), "utf-8")
    finally:
        dist.destroy_process_group()


def _exchange_time(tokens: int, world_size: int, heads: int, head_dim: int, layers: int, device: str,
                   cuda: bool) -> float:
    """Seconds of one step's Ulysses exchanges alone: per block q, k, v there and the output back."""
    import torch
    import torch.distributed as dist

    from yume_bridge.model.parallel import SequenceShard, _all_to_all

    shard = SequenceShard(tokens, world_size, dist.get_rank())
    dtype = torch.bfloat16 if cuda else torch.float32
    there = torch.zeros(1, shard.local_length, heads, head_dim, device=device, dtype=dtype)
    back = torch.zeros(1, shard.padded_length, heads // world_size, head_dim, device=device, dtype=dtype)
    dist.barrier()
    _sync(cuda)
    began = time.perf_counter()
    for _ in range(layers):
        for _ in range(3):
            _all_to_all(there, scatter_dim=2, gather_dim=1, group=None)
        _all_to_all(back, scatter_dim=1, gather_dim=2, group=None)
    _sync(cuda)
    return time.perf_counter() - began


def _sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def measure(world_size: int, history: int, size: tuple[int, int], repeats: int = 3,
            preset: str = "yume-5b") -> dict[str, Any]:
    """Rank 0's figures for one sequence-parallel step over ``world_size`` CUDA devices (CPUs for "tiny")."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="sp-step-") as folder:
        out = Path(folder) / "result.json"
        mp.spawn(_rank, args=(world_size, str(Path(folder) / "rendezvous"), history, size, repeats, str(out), preset),
                 nprocs=world_size)
        return json.loads(out.read_text("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--history", type=int, default=1016, help="history latents (1016 = the bound)")
    parser.add_argument("--resolution", default="544x960")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny-cpu", action="store_true", help="the tiny model on CPUs: checks the script runs")
    args = parser.parse_args(argv)
    height, width = (int(part) for part in args.resolution.split("x"))
    preset = "tiny" if args.tiny_cpu else "yume-5b"
    print(json.dumps(measure(args.ranks, args.history, (height, width), args.repeats, preset)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

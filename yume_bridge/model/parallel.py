"""Sequence parallelism for the DiT over torch.distributed: Ulysses all-to-all attention.

Each of P ranks holds a contiguous 1/P of the token sequence (history and
predicted tokens together, padded at the end to a multiple of P). Everything in a
block except self-attention works per token, so it runs on the local shard
unchanged. Self-attention swaps the split: one all-to-all turns
[B, L/P, heads, d] into [B, L, heads/P, d], every rank attends over the whole
sequence for its share of the heads, and a second all-to-all turns it back
(DeepSpeed-Ulysses). The heads must divide by P: the 5B model's 24 heads split
2, 3, 4, 6, 8, 12 or 24 ways.

The process group is PyTorch's own: NCCL on GPUs, gloo on CPU (the tests).
Rank 0 drives: ``SequenceParallelGroup`` attached to its ``WanModel`` sends
each step's inputs to the other ranks, which ``follow`` it, so rank 0's DiT
keeps the API of a DiT in one process (``parallel_launch`` starts the ranks).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from yume_bridge.model.attention import AttentionBackend, attend
from yume_bridge.model.dit import ChunkInputs, WanModel

__all__ = [
    "SequenceParallelGroup",
    "SequenceShard",
    "follow",
    "gather_sequence",
    "sequence_parallel_forward",
    "shard_sequence",
    "ulysses_attention",
]


@dataclass(frozen=True)
class SequenceShard:
    """Which tokens of a sequence of ``length`` this rank holds: [start, stop) of the padded sequence."""

    length: int
    world_size: int
    rank: int

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside a group of {self.world_size}")

    @property
    def local_length(self) -> int:
        return -(-self.length // self.world_size)

    @property
    def padded_length(self) -> int:
        return self.local_length * self.world_size

    @property
    def start(self) -> int:
        return self.rank * self.local_length

    @property
    def stop(self) -> int:
        return self.start + self.local_length

    def segment_lengths(self, lengths: tuple[int, ...]) -> tuple[int, ...]:
        """How many of this shard's tokens fall in each segment; padding counts to the last segment."""
        local, offset = [], 0
        for index, size in enumerate(lengths):
            end = offset + size if index < len(lengths) - 1 else self.padded_length
            local.append(max(0, min(end, self.stop) - max(offset, self.start)))
            offset += size
        return tuple(local)


def shard_sequence(x: torch.Tensor, shard: SequenceShard, dim: int = 1, pad_value: float = 0.0) -> torch.Tensor:
    """This rank's slice of ``x`` along ``dim`` after padding the sequence to ``shard.padded_length``."""
    pad = shard.padded_length - x.shape[dim]
    if pad:
        widths = [0, 0] * (x.dim() - 1 - dim) + [0, pad]
        x = F.pad(x, widths, value=pad_value)
    return x.narrow(dim, shard.start, shard.local_length)


def gather_sequence(x: torch.Tensor, shard: SequenceShard, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """Every rank's shard of [B, L/P, ...] joined along dim 1, padding removed → [B, L, ...] on all ranks."""
    parts = [torch.empty_like(x) for _ in range(shard.world_size)]
    dist.all_gather(parts, x.contiguous(), group=group)
    return torch.cat(parts, dim=1)[:, : shard.length]


def _all_to_all(x: torch.Tensor, scatter_dim: int, gather_dim: int, group: dist.ProcessGroup | None) -> torch.Tensor:
    """Split ``x`` into world-size pieces along ``scatter_dim``, exchange, join the received ones on ``gather_dim``."""
    world_size = dist.get_world_size(group)
    sent = [piece.contiguous() for piece in x.chunk(world_size, dim=scatter_dim)]
    received = [torch.empty_like(sent[0]) for _ in range(world_size)]
    dist.all_to_all(received, sent, group=group)
    return torch.cat(received, dim=gather_dim)


def ulysses_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shard: SequenceShard,
                      group: dist.ProcessGroup | None = None,
                      backend: AttentionBackend = AttentionBackend.DEFAULT) -> torch.Tensor:
    """Full bidirectional attention of sequence-sharded q, k, v [B, L/P, heads, d] → [B, L/P, heads, d].

    The padding at the end of the sequence is cut off before attending, so it is never a key.
    """
    heads = q.shape[2]
    if heads % shard.world_size:
        raise ValueError(f"{heads} heads do not split over {shard.world_size} ranks; choose a divisor of {heads}")
    # [B, L/P, n, d] -> [B, L_padded, n/P, d]: every token, this rank's heads.
    q, k, v = (_all_to_all(t, scatter_dim=2, gather_dim=1, group=group) for t in (q, k, v))
    real = shard.length
    out = attend(q[:, :real], k[:, :real], v[:, :real], backend)  # [B, L, n/P, d]
    out = F.pad(out, (0, 0, 0, 0, 0, shard.padded_length - real))  # [B, L_padded, n/P, d]
    return _all_to_all(out, scatter_dim=1, gather_dim=2, group=group)  # [B, L/P, n, d]


class _UlyssesSelfAttention:
    """One block's self-attention over the process group, for the shard of the forward under way.

    One object per block, kept for the model's life and given each forward's
    shard, and opaque to torch.compile (a graph break): a compiled block keeps its
    fused graphs on either side of the all-to-all and is not traced again when
    the shard's lengths change from chunk to chunk.
    """

    def __init__(self, backend: AttentionBackend, group: dist.ProcessGroup | None) -> None:
        self.backend = backend
        self.group = group
        self.shard: SequenceShard | None = None

    @torch.compiler.disable
    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        assert self.shard is not None
        return ulysses_attention(q, k, v, self.shard, self.group, self.backend)


_ATTENTION: weakref.WeakKeyDictionary[WanModel, list[_UlyssesSelfAttention]] = weakref.WeakKeyDictionary()


@contextmanager
def _ulysses_self_attention(model: WanModel, shard: SequenceShard,
                            group: dist.ProcessGroup | None) -> Iterator[None]:
    """Every block's self-attention goes through ``ulysses_attention`` for the duration of one forward."""
    attentions = _ATTENTION.get(model)
    if attentions is None or any(a.group is not group or a.backend is not b.self_attn.backend
                                 for a, b in zip(attentions, model.blocks, strict=True)):
        attentions = _ATTENTION[model] = [_UlyssesSelfAttention(b.self_attn.backend, group) for b in model.blocks]
    for attention, block in zip(attentions, model.blocks, strict=True):
        attention.shard = shard
        block.self_attn.sequence_attention = attention
    try:
        yield
    finally:
        for attention, block in zip(attentions, model.blocks, strict=True):
            attention.shard = None
            block.self_attn.sequence_attention = None


def sequence_parallel_forward(model: WanModel, latents: torch.Tensor, timestep: torch.Tensor, inputs: ChunkInputs,
                              group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """``model(latents, timestep, inputs)`` split over ``group``: every rank calls it with the same arguments.

    Each rank embeds the whole step (cheap), keeps its contiguous shard of
    [history | predicted] tokens and of the RoPE tables (padding rotates by
    zero), runs the blocks on it with Ulysses self-attention and the shard's
    own history count for the per-segment modulation, and applies the head to
    its shard; the heads' outputs are gathered and the predicted tokens come
    back on every rank. The last block keeps its history tokens (the
    ``skip_history_in_last_block`` shortcut would leave the shards uneven).
    Compiled blocks (``DitOptions.compile``) run compiled, the all-to-all
    between their graphs.
    """
    x, e, e0, context_kv = model.step_tokens(latents, timestep, inputs)  # x [B, L, D]
    num_history = inputs.num_history_tokens
    shard = SequenceShard(x.shape[1], dist.get_world_size(group), dist.get_rank(group))
    local_history = shard.segment_lengths((num_history, x.shape[1] - num_history))[0]
    x = shard_sequence(x, shard)  # [B, L/P, D]
    rope_cos = shard_sequence(inputs.rope_cos, shard, dim=0, pad_value=1.0)  # [L/P, d/2]
    rope_sin = shard_sequence(inputs.rope_sin, shard, dim=0, pad_value=0.0)
    with _ulysses_self_attention(model, shard, group):
        for run, kv in zip(model.block_runners, context_kv, strict=True):
            x = run(x, e0, local_history, kv, rope_cos, rope_sin, False)
    out = model.head(x, e[:, -1:])  # [B, L/P, prod(patch)·C]: gathering after the head moves 16x less
    out = gather_sequence(out, shard, group)[:, num_history:]  # [B, f*h*w, prod(patch)·C]
    return model.unpatchify(out, inputs.grid)


@dataclass(frozen=True)
class _InputsLayout:
    """What a follower needs to receive one chunk's ``ChunkInputs`` (the tensors follow, in this order)."""

    context: tuple[tuple[int, ...], torch.dtype]
    history_tokens: tuple[tuple[int, ...], torch.dtype] | None
    rope: tuple[tuple[int, ...], torch.dtype]
    latent_shape: tuple[int, int, int]
    grid: tuple[int, int, int]
    rope_frames: int
    history_timestep: float
    cached_context_kv: bool


@dataclass(frozen=True)
class _Step:
    inputs: _InputsLayout | None
    """The chunk's inputs when they changed since the last step, else None (the followers keep theirs)."""
    latents: tuple[tuple[int, ...], torch.dtype]
    timestep: tuple[tuple[int, ...], torch.dtype]


@dataclass(frozen=True)
class _Stop:
    pass


def _layout(t: torch.Tensor) -> tuple[tuple[int, ...], torch.dtype]:
    return tuple(t.shape), t.dtype


def _source(group: dist.ProcessGroup | None) -> int:
    return 0 if group is None else dist.get_global_rank(group, 0)


def _send(t: torch.Tensor, device: torch.device, group: dist.ProcessGroup | None) -> torch.Tensor:
    t = t.to(device).contiguous()
    dist.broadcast(t, src=_source(group), group=group)
    return t


def _receive(layout: tuple[tuple[int, ...], torch.dtype], device: torch.device,
             group: dist.ProcessGroup | None) -> torch.Tensor:
    t = torch.empty(layout[0], dtype=layout[1], device=device)
    dist.broadcast(t, src=_source(group), group=group)
    return t


def _announce(message: _Step | _Stop | None, group: dist.ProcessGroup | None) -> _Step | _Stop:
    box = [message]
    dist.broadcast_object_list(box, src=_source(group), group=group)
    return box[0]


class SequenceParallelGroup:
    """Rank 0's side of the group, attached as ``WanModel.sequence_parallel``.

    Each forward announces the step, sends the chunk's inputs when they changed
    (once per chunk: context, history tokens, RoPE tables) and the step's
    latents and timestep, then runs ``sequence_parallel_forward`` with the
    followers. The result is the whole step's output, as from one process.
    """

    def __init__(self, group: dist.ProcessGroup | None = None) -> None:
        if dist.get_rank(group) != 0:
            raise ValueError("only rank 0 drives the group; the other ranks call follow()")
        self.group = group
        self.world_size = dist.get_world_size(group)
        self._inputs_sent: ChunkInputs | None = None
        self._stopped = False

    def __call__(self, model: WanModel, latents: torch.Tensor, timestep: torch.Tensor,
                 inputs: ChunkInputs) -> torch.Tensor:
        if self._stopped:
            raise RuntimeError("the sequence-parallel group has stopped")
        model.check_latents(latents, inputs)  # here, before the followers are told: they would fail alike
        device = model.patch_embedding.weight.device
        new = inputs is not self._inputs_sent
        layout = None
        if new:
            layout = _InputsLayout(
                context=_layout(inputs.context),
                history_tokens=None if inputs.history_tokens is None else _layout(inputs.history_tokens),
                rope=_layout(inputs.rope_cos), latent_shape=inputs.latent_shape, grid=inputs.grid,
                rope_frames=inputs.rope_frames, history_timestep=inputs.history_timestep,
                cached_context_kv=inputs.context_kv is not None)
        _announce(_Step(layout, _layout(latents), _layout(timestep)), self.group)
        if new:
            tensors = [inputs.context, inputs.history_tokens, inputs.rope_cos, inputs.rope_sin]
            for t in tensors:
                if t is not None:
                    _send(t, device, self.group)
            self._inputs_sent = inputs
        latents, timestep = _send(latents, device, self.group), _send(timestep, device, self.group)
        return sequence_parallel_forward(model, latents, timestep, inputs, self.group)

    def stop(self) -> None:
        """Release the followers (they return from ``follow``); idempotent."""
        if not self._stopped:
            self._stopped = True
            self._inputs_sent = None
            _announce(_Stop(), self.group)


def follow(model: WanModel, group: dist.ProcessGroup | None = None) -> int:
    """Ranks other than 0: run every forward rank 0 announces, until it stops. Returns the steps run."""
    device = model.patch_embedding.weight.device
    inputs: ChunkInputs | None = None
    steps = 0
    with torch.inference_mode():
        while True:
            match _announce(None, group):
                case _Stop():
                    return steps
                case _Step(inputs=layout, latents=latents_layout, timestep=timestep_layout):
                    if layout is not None:
                        inputs = _receive_inputs(model, layout, device, group)
                    if inputs is None:
                        raise RuntimeError("rank 0 announced a step before any chunk inputs")
                    latents = _receive(latents_layout, device, group)
                    timestep = _receive(timestep_layout, device, group)
                    sequence_parallel_forward(model, latents, timestep, inputs, group)
                    steps += 1


def _receive_inputs(model: WanModel, layout: _InputsLayout, device: torch.device,
                    group: dist.ProcessGroup | None) -> ChunkInputs:
    context = _receive(layout.context, device, group)
    history = None if layout.history_tokens is None else _receive(layout.history_tokens, device, group)
    rope_cos, rope_sin = _receive(layout.rope, device, group), _receive(layout.rope, device, group)
    return ChunkInputs(
        context=context,
        context_kv=model.cross_attention_kv(context) if layout.cached_context_kv else None,
        history_tokens=history, rope_cos=rope_cos, rope_sin=rope_sin, latent_shape=layout.latent_shape,
        grid=layout.grid, rope_frames=layout.rope_frames, history_timestep=layout.history_timestep)

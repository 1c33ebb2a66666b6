"""The Yume-5B DiT: a Wan2.2-TI2V-5B transformer with TSCM history compression.

Parameter names and shapes equal the published ``diffusion_pytorch_model.safetensors``
(model-reference.md §1.3), so a strict ``load_state_dict`` works without renaming.

One chunk is: ``prepare`` (embed the text, compress and embed the clean history,
build RoPE tables — all constant across the sampler's steps) then one
``forward`` per step over [history tokens | predicted tokens] with full
bidirectional attention; only the predicted latents come back (§2.4).

Precision follows the reference: the residual stream, LayerNorms, RMSNorms,
AdaLN modulation, the time embedding and the head run in fp32; the linear
layers and attention run in the weights' dtype. RoPE angles are computed in
float64 once per chunk and the rotation runs in fp32 by default (float64, the
reference's choice, on request; the difference is reported in docs/model.md).

Speed levers (``DitOptions``, applied with ``WanModel.configure``): compiled
blocks with a dynamic sequence length, the attention backend, text K/V computed
once per chunk, history embeddings cached per latent (``HistoryEmbeddingCache``),
no history tokens in the last block after its self-attention, FP8 linears.
Every lossless lever is on by default; docs/model.md describes each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from yume_bridge.model.args import ModelArgs
from yume_bridge.model.attention import AttentionBackend, attend, resolve_attention_backend
from yume_bridge.model.tscm import Rate, compression_schedule, token_positions

__all__ = [
    "HISTORY_TIMESTEP",
    "ChunkInputs",
    "DitOptions",
    "HistoryEmbeddingCache",
    "WanModel",
    "apply_rope",
    "rope_angles",
    "sinusoidal_embedding",
]

HISTORY_TIMESTEP = 0.0
"""History tokens are clean: by default they get the timestep-0 modulation (§2.5)."""


@dataclass(frozen=True)
class DitOptions:
    """How the DiT runs; none of these changes a weight or the reference's maths beyond rounding."""

    compile: bool = False
    """torch.compile each transformer block (fused element-wise work), dynamic sequence length."""
    compile_backend: str = "inductor"
    """torch.compile backend; "aot_eager" traces without generating kernels (for quick checks)."""
    attention: AttentionBackend = AttentionBackend.AUTO
    rope_dtype: torch.dtype = torch.float32
    """Precision of the RoPE rotation; float64 is the reference's."""
    cache_history: bool = True
    """Sessions keep each history latent's embedding until its compression rate changes."""
    cache_cross_attention: bool = True
    """Project the text to cross-attention K/V once per chunk (in ``prepare``) instead of once per step."""
    skip_history_in_last_block: bool = True
    """The last block's cross-attention and FFN only for the predicted tokens (history outputs are dropped)."""
    fp8: bool = False
    """Float8 row-wise linear layers in the blocks through torchao (CUDA, compute capability ≥ 8.9)."""

    def __post_init__(self) -> None:
        if self.rope_dtype not in (torch.float32, torch.float64):
            raise ValueError(f"rope_dtype must be torch.float32 or torch.float64, got {self.rope_dtype}")
        if not isinstance(self.attention, AttentionBackend):
            raise ValueError(f"attention must be an AttentionBackend, got {self.attention!r}")

SequenceParallelForward = Callable[["WanModel", torch.Tensor, torch.Tensor, "ChunkInputs"], torch.Tensor]
"""What ``model.parallel`` attaches to a ``WanModel``: its forward split over a process group."""

FP32_PARAMETERS = ("modulation", "time_embedding.", "time_projection.", "head.head.", "norm_q.", "norm_k.", "norm3.")
"""Parameters the loader keeps in fp32 whatever the compute dtype (they feed fp32 maths)."""


def sinusoidal_embedding(dim: int, position: torch.Tensor) -> torch.Tensor:
    """[cos | sin] timestep embedding in float64, frequencies 10000^(−k/half) (§1.1)."""
    half = dim // 2
    exponent = torch.arange(half, dtype=torch.float64, device=position.device) / half
    angles = torch.outer(position.to(torch.float64), torch.pow(10000.0, -exponent))  # [n, half]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # [n, dim]


def rope_angles(args: ModelArgs, positions: torch.Tensor) -> torch.Tensor:
    """Rotation angle of every complex pair of every token, float64 [L, head_dim/2].

    Each axis uses its own frequency ladder θ^(−2j/d_axis), d_axis = 2·pairs_axis
    real dims; the pairs are laid out [time | height | width].
    """
    ladders = []
    for pairs in args.rope_pairs:
        exponent = torch.arange(0, 2 * pairs, 2, dtype=torch.float64, device=positions.device) / (2 * pairs)
        ladders.append(1.0 / torch.pow(args.rope_theta, exponent))  # [pairs]
    pos = positions.to(torch.float64)  # [L, 3]
    return torch.cat([pos[:, axis, None] * ladder[None, :] for axis, ladder in enumerate(ladders)], dim=1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent (even, odd) pairs of x [B, L, heads, head_dim] by per-token angles.

    ``cos``/``sin`` are [L, head_dim/2] in the dtype the rotation runs in.
    """
    b, length, heads, head_dim = x.shape
    pairs = x.to(cos.dtype).reshape(b, length, heads, head_dim // 2, 2)  # [B, L, n, d/2, 2]
    real, imag = pairs.unbind(-1)
    cos = cos[None, :, None, :]  # [1, L, 1, d/2]
    sin = sin[None, :, None, :]
    rotated = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)  # [B, L, n, d/2, 2]
    return rotated.reshape(b, length, heads, head_dim).to(x.dtype)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, num_history: int) -> torch.Tensor:
    """x·(1 + scale) + shift; x is [B, L, D], shift/scale [B, S, D] with segment 0 = history when S = 2.

    With ``num_history`` 0 every token takes the last segment's values.
    """
    if num_history == 0:
        return torch.addcmul(shift[:, -1:], x, 1 + scale[:, -1:])
    history = torch.addcmul(shift[:, :1], x[:, :num_history], 1 + scale[:, :1])
    predicted = torch.addcmul(shift[:, 1:], x[:, num_history:], 1 + scale[:, 1:])
    return torch.cat([history, predicted], dim=1)


def _gate(y: torch.Tensor, gate: torch.Tensor, num_history: int) -> torch.Tensor:
    """y·gate in fp32 with a per-segment gate [B, S, D] (segments as in ``_modulate``)."""
    y = y.float()
    if num_history == 0:
        return y * gate[:, -1:]
    return torch.cat([y[:, :num_history] * gate[:, :1], y[:, num_history:] * gate[:, 1:]], dim=1)


class RMSNorm(nn.Module):
    """RMS norm over the full width (q/k norm), normalised in fp32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return (normed * self.weight.float()).to(x.dtype)


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32, returning fp32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)


class Attention(nn.Module):
    """q, k, v, o projections with full-width RMSNorm on q and k (parameter names as published)."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.num_heads = args.num_heads
        self.q = nn.Linear(args.dim, args.dim)
        self.k = nn.Linear(args.dim, args.dim)
        self.v = nn.Linear(args.dim, args.dim)
        self.o = nn.Linear(args.dim, args.dim)
        self.norm_q = RMSNorm(args.dim, args.eps)
        self.norm_k = RMSNorm(args.dim, args.eps)
        self.backend = AttentionBackend.DEFAULT
        """Set by ``WanModel.configure``; a plain attribute, not state."""

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, -1)  # [B, L, D] -> [B, L, n, d]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, length = q.shape[:2]
        out = attend(q, k, v, self.backend)  # [B, L, n, d]
        return self.o(out.reshape(b, length, -1))  # [B, L, D]


class SelfAttention(Attention):
    sequence_attention: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    """Set by ``model.parallel`` for sequence-parallel forwards: attention over every rank's tokens."""

    def forward(self, x: torch.Tensor, rope_cos: torch.Tensor, rope_sin: torch.Tensor) -> torch.Tensor:
        q = apply_rope(self._heads(self.norm_q(self.q(x))), rope_cos, rope_sin)  # [B, L, n, d]
        k = apply_rope(self._heads(self.norm_k(self.k(x))), rope_cos, rope_sin)
        # Full bidirectional attention over history + predicted tokens (§2.4).
        if self.sequence_attention is not None:
            out = self.sequence_attention(q, k, self._heads(self.v(x)))  # [B, L, n, d]
            return self.o(out.flatten(2))  # [B, L, D]
        return self._attend(q, k, self._heads(self.v(x)))


class CrossAttention(Attention):
    def project_context(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedded text [B, 512, D] → (k, v) [B, 512, n, d]: the same for every step of a chunk."""
        return self._heads(self.norm_k(self.k(context))), self._heads(self.v(context))

    def forward(self, x: torch.Tensor, context_kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        q = self._heads(self.norm_q(self.q(x)))  # [B, L, n, d]
        k, v = context_kv
        # The zero-padded text rows are not masked, as in the reference (§1.1).
        return self._attend(q, k, v)


class WanAttentionBlock(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.norm1 = LayerNorm(args.dim, args.eps, elementwise_affine=False)
        self.self_attn = SelfAttention(args)
        self.norm3 = LayerNorm(args.dim, args.eps, elementwise_affine=True)
        self.cross_attn = CrossAttention(args)
        self.norm2 = LayerNorm(args.dim, args.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(
            nn.Linear(args.dim, args.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(args.ffn_dim, args.dim)
        )
        self.modulation = nn.Parameter(torch.randn(1, 6, args.dim) / args.dim**0.5)

    def forward(
        self,
        x: torch.Tensor,
        e0: torch.Tensor,
        num_history: int,
        context_kv: tuple[torch.Tensor, torch.Tensor],
        rope_cos: torch.Tensor,
        rope_sin: torch.Tensor,
        drop_history: bool = False,
    ) -> torch.Tensor:
        """x: fp32 residual [B, L, D], its first ``num_history`` tokens clean history; e0 [B, S, 6, D].

        With ``drop_history`` the history tokens leave after self-attention (the
        rest of the block is token-wise) and [B, L − num_history, D] comes back.
        """
        dtype = self.self_attn.q.weight.dtype
        mod = self.modulation.float().unsqueeze(1) + e0  # [1, 1, 6, D] + [B, S, 6, D]
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(dim=2)  # each [B, S, D]
        h = _modulate(self.norm1(x), shift1, scale1, num_history)
        x = x + _gate(self.self_attn(h.to(dtype), rope_cos, rope_sin), gate1, num_history)
        if drop_history:
            x, num_history = x[:, num_history:], 0  # [B, predicted, D]
        x = x + self.cross_attn(self.norm3(x).to(dtype), context_kv).float()
        h = _modulate(self.norm2(x), shift2, scale2, num_history)
        return x + _gate(self.ffn(h.to(dtype)), gate2, num_history)


class Head(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.norm = LayerNorm(args.dim, args.eps, elementwise_affine=False)
        self.head = nn.Linear(args.dim, math.prod(args.patch_size) * args.out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, args.dim) / args.dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """x: fp32 [B, L, D]; e: un-projected time embedding of these tokens [B, 1, D]."""
        shift, scale = (self.modulation.float().unsqueeze(1) + e.unsqueeze(2)).unbind(dim=2)  # [B, 1, D] each
        h = torch.addcmul(shift, self.norm(x), 1 + scale)
        return F.linear(h, self.head.weight.float(), self.head.bias.float())  # [B, L, prod(patch)·C]


@dataclass(frozen=True)
class ChunkInputs:
    """Everything ``forward`` needs that stays the same across one chunk's sampler steps."""

    context: torch.Tensor
    """Embedded text [B, text_len, D] in the compute dtype."""
    context_kv: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None
    """Per block, the cross-attention (k, v) [B, text_len, n, d]; None = projected in every forward."""
    history_tokens: torch.Tensor | None
    """Compressed, embedded clean history [B, H(N), D] fp32, or None for the plain path."""
    rope_cos: torch.Tensor
    rope_sin: torch.Tensor
    """[H(N) + predicted tokens, head_dim/2] in the RoPE dtype."""
    latent_shape: tuple[int, int, int]
    """The predicted latents' (frames, height, width) that ``forward`` must receive."""
    grid: tuple[int, int, int]
    """Predicted tokens as (frames, rows, cols)."""
    rope_frames: int
    """Temporal RoPE positions used, history and predicted together."""
    history_timestep: float = HISTORY_TIMESTEP
    """Timestep (σ·1000) of the history tokens' modulation."""

    @property
    def num_history_tokens(self) -> int:
        return 0 if self.history_tokens is None else self.history_tokens.shape[1]


@dataclass
class HistoryEmbeddingCache:
    """Embedded history tokens per (latent, rate), so a chunk only embeds the latents whose rate changed.

    Keys are caller-given latent ids (stable while a latent stays in the
    history). Bounded: after each use only the entries that use needed are
    kept, so the cache never holds more than one history's tokens; overflow
    cannot happen, stale entries are dropped at the next use.
    """

    _entries: dict[tuple[int, Rate], tuple[torch.Tensor, tuple[int, int]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def embed(
        self, model: WanModel, history: torch.Tensor, ids: Sequence[int]
    ) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
        """Like ``WanModel.embed_history`` (same tokens, same order), embedding only what is not cached."""
        if len(ids) != history.shape[2]:
            raise ValueError(f"{len(ids)} history ids for {history.shape[2]} history latents")
        dtype = model.patch_embedding.weight.dtype
        used: dict[tuple[int, Rate], tuple[torch.Tensor, tuple[int, int]]] = {}
        tokens, grids = [], []
        for segment in compression_schedule(history.shape[2]):
            keys = {i: (ids[i], segment.rate) for i in range(segment.start, segment.stop)}
            missing = [i for i, key in keys.items() if key not in self._entries and key not in used]
            if missing:
                embedded = model._patchify(history[:, :, missing].to(dtype), segment.rate)  # [B, D, m, rows, cols]
                for j, i in enumerate(missing):
                    frame = embedded[:, :, j].flatten(2).transpose(1, 2).float()  # [B, rows*cols, D]
                    used[keys[i]] = (frame, tuple(embedded.shape[3:]))
            for key in keys.values():
                used[key] = entry = used.get(key) or self._entries[key]
                tokens.append(entry[0])
            grids.append((segment.frames, *entry[1]))  # every latent of a segment has the same (rows, cols)
        self._entries = used
        return torch.cat(tokens, dim=1), grids


class WanModel(nn.Module):
    """WanModel (ti2v) with the TSCM patch embeddings; names match the checkpoint."""

    def __init__(self, args: ModelArgs, *, rope_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.args = args
        self.options = DitOptions() if rope_dtype is None else DitOptions(rope_dtype=rope_dtype)
        self._attention_backend = AttentionBackend.DEFAULT
        pt, ph, pw = args.patch_size
        self.patch_embedding = nn.Conv3d(args.in_dim, args.dim, kernel_size=args.patch_size, stride=args.patch_size)
        self.text_embedding = nn.Sequential(
            nn.Linear(args.text_dim, args.dim), nn.GELU(approximate="tanh"), nn.Linear(args.dim, args.dim)
        )
        self.time_embedding = nn.Sequential(
            nn.Linear(args.freq_dim, args.dim), nn.SiLU(), nn.Linear(args.dim, args.dim)
        )
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(args.dim, 6 * args.dim))
        self.blocks = nn.ModuleList(WanAttentionBlock(args) for _ in range(args.num_layers))
        self._runners: list[nn.Module] = list(self.blocks)
        """What runs each block: the block itself or its compiled wrapper (``configure``)."""
        self._fp8 = False
        self.sequence_parallel: SequenceParallelForward | None = None
        """Set by ``model.parallel``: runs ``forward`` split over a process group instead (same result)."""
        self.head = Head(args)
        # TSCM: coarser patchifies for older history (§1.3, §2.3); kernel = stride.
        for factor in (2, 4, 8, 16):
            kernel = (pt, ph * factor, pw * factor)
            setattr(self, f"patch_embedding_{factor}x", nn.Conv3d(args.in_dim, args.dim, kernel, stride=kernel))
        # 48→48 latent-space 4×4 pre-downsampler of the 128x rate.
        self.patch_embedding_2x_f = nn.Conv3d(args.in_dim, args.in_dim, (1, 4, 4), stride=(1, 4, 4))

    @property
    def rope_dtype(self) -> torch.dtype:
        return self.options.rope_dtype

    # -- speed levers ----------------------------------------------------------------------

    def configure(self, options: DitOptions) -> None:
        """Apply ``options`` to loaded weights (not on the meta device). Compiling happens at the next forward.

        Raises ValueError when a named attention backend cannot run here or FP8
        is asked for without torchao or a suitable GPU.
        """
        weight = self.blocks[0].self_attn.q.weight
        backend = resolve_attention_backend(
            options.attention,
            device=weight.device,
            dtype=weight.dtype,
            head_dim=self.args.head_dim,
            heads=self.args.num_heads,
        )
        if options.fp8 and not self._fp8:
            from yume_bridge.model.fp8 import convert_blocks_to_fp8

            convert_blocks_to_fp8(self)
            self._fp8 = True
        elif self._fp8 and not options.fp8:
            raise ValueError("the FP8 conversion cannot be undone in place: load the DiT again without fp8")
        for block in self.blocks:
            block.self_attn.backend = backend
            block.cross_attn.backend = backend
        if options.compile:
            self._runners = [
                torch.compile(block, dynamic=True, backend=options.compile_backend) for block in self.blocks
            ]
        else:
            self._runners = list(self.blocks)
        self._attention_backend = backend
        self.options = options

    @property
    def block_runners(self) -> list[nn.Module]:
        """What runs each block, in order: the block itself, or its compiled wrapper with ``compile``."""
        return self._runners

    @property
    def attention_backend_used(self) -> str:
        """The attention kernel every call runs: "fa3", "cudnn", "flash", "efficient", "math" or "default"."""
        return self._attention_backend.value

    # -- history compression ---------------------------------------------------------------

    def _patchify(self, frames: torch.Tensor, rate: Rate) -> torch.Tensor:
        """Embed latents [B, C, k, H, W] at ``rate`` → [B, D, k, rows, cols] (zero pad bottom/right first)."""
        if rate is Rate.X128:
            frames = _embed_padded(self.patch_embedding_2x_f, frames)
            rate = Rate.X16
        conv = self.patch_embedding if rate is Rate.FULL else getattr(self, f"patch_embedding_{rate.value}x")
        return _embed_padded(conv, frames)

    def embed_history(
        self,
        history: torch.Tensor,
        *,
        cache: HistoryEmbeddingCache | None = None,
        ids: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
        """Compress clean history latents [B, C, N, H, W] into tokens [B, H(N), D] (fp32) and their grids.

        With a ``cache`` and one stable id per latent, only latents not yet
        embedded at their current rate go through a convolution.
        """
        if cache is not None:
            if ids is None:
                raise ValueError("a history cache needs one id per history latent (history_ids)")
            return cache.embed(self, history, ids)
        dtype = self.patch_embedding.weight.dtype
        tokens, grids = [], []
        for segment in compression_schedule(history.shape[2]):
            embedded = self._patchify(history[:, :, segment.start : segment.stop].to(dtype), segment.rate)
            grids.append(tuple(embedded.shape[2:]))  # (k, rows, cols)
            tokens.append(embedded.flatten(2).transpose(1, 2))  # [B, k*rows*cols, D]
        return torch.cat(tokens, dim=1).float(), grids

    # -- per chunk -------------------------------------------------------------------------

    def embed_text(self, text_states: torch.Tensor) -> torch.Tensor:
        """T5 states [B, L ≤ text_len, text_dim] → [B, text_len, D]; shorter states are zero-padded first (§1.1)."""
        if text_states.dim() != 3 or text_states.shape[2] != self.args.text_dim:
            raise ValueError(
                f"text states must be [batch, tokens, {self.args.text_dim}], got {tuple(text_states.shape)}"
            )
        if text_states.shape[1] > self.args.text_len:
            raise ValueError(f"{text_states.shape[1]} text tokens exceed text_len {self.args.text_len}")
        text_states = F.pad(text_states, (0, 0, 0, self.args.text_len - text_states.shape[1]))  # [B, text_len, C]
        weight = self.text_embedding[0].weight
        return self.text_embedding(text_states.to(device=weight.device, dtype=weight.dtype))

    def cross_attention_kv(self, context: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        """Every block's text (k, v) for embedded text ``context`` [B, text_len, D]."""
        return tuple(block.cross_attn.project_context(context) for block in self.blocks)

    def check_latent_shape(self, latent_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """The predicted-token grid of latents (frames, height, width); ValueError unless the patch divides them."""
        if len(latent_shape) != 3 or any(not isinstance(n, int) or n < 1 for n in latent_shape):
            raise ValueError(f"latent_shape must be (frames, height, width) of positive ints, got {latent_shape}")
        if any(n % p for n, p in zip(latent_shape, self.args.patch_size, strict=True)):
            raise ValueError(f"latent_shape {latent_shape} is not a multiple of the patch {self.args.patch_size}")
        return tuple(n // p for n, p in zip(latent_shape, self.args.patch_size, strict=True))  # type: ignore[return-value]

    def prepare(
        self,
        text_states: torch.Tensor,
        latent_shape: tuple[int, int, int],
        history: torch.Tensor | None = None,
        *,
        history_timestep: float = HISTORY_TIMESTEP,
        history_cache: HistoryEmbeddingCache | None = None,
        history_ids: Sequence[int] | None = None,
    ) -> ChunkInputs:
        """Build the step-invariant inputs of one chunk.

        ``text_states`` are T5 states [B, L ≤ text_len, text_dim] (padded here);
        ``latent_shape`` is the predicted latents' (frames, height, width), which
        ``forward`` will insist on; ``history`` the clean latents [B, C, N, H, W]
        before them (same H, W), or None for the plain (text-start) path.
        ``history_cache``/``history_ids``: see ``embed_history``.
        """
        latent_shape = tuple(latent_shape)  # type: ignore[assignment]
        grid = self.check_latent_shape(latent_shape)
        context = self.embed_text(text_states)
        if history is None or history.shape[2] == 0:
            history_tokens, grids = None, []
        else:
            wrong_channels = history.dim() != 5 or history.shape[1] != self.args.in_dim
            if wrong_channels or tuple(history.shape[3:]) != latent_shape[1:]:
                raise ValueError(
                    f"history must be [batch, {self.args.in_dim}, N, {latent_shape[1]}, {latent_shape[2]}], "
                    f"got {tuple(history.shape)}"
                )
            history_tokens, grids = self.embed_history(history, cache=history_cache, ids=history_ids)
        positions = token_positions([*grids, grid]).to(context.device)  # [L, 3]
        angles = rope_angles(self.args, positions)  # [L, d/2] float64
        return ChunkInputs(
            context=context,
            context_kv=self.cross_attention_kv(context) if self.options.cache_cross_attention else None,
            history_tokens=history_tokens,
            rope_cos=torch.cos(angles).to(self.rope_dtype),
            rope_sin=torch.sin(angles).to(self.rope_dtype),
            latent_shape=latent_shape,
            grid=grid,
            rope_frames=sum(g[0] for g in grids) + grid[0],
            history_timestep=float(history_timestep),
        )

    def _time_embedding(self, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Timesteps [B, S] → e [B, S, D] and e0 [B, S, 6, D], both fp32."""
        b, s = timesteps.shape
        dtype = self.time_embedding[0].weight.dtype
        sinusoid = sinusoidal_embedding(self.args.freq_dim, timesteps.flatten())  # [B*S, freq] float64
        e = self.time_embedding(sinusoid.to(dtype)).float()  # [B*S, D]
        e0 = self.time_projection(e.to(dtype)).float()  # [B*S, 6D]
        return e.view(b, s, -1), e0.view(b, s, 6, -1)

    def check_latents(self, latents: torch.Tensor, inputs: ChunkInputs) -> None:
        """ValueError unless ``latents`` are [B, C, frames, height, width] as ``inputs`` were prepared for."""
        expected = (self.args.in_dim, *inputs.latent_shape)
        if latents.dim() != 5 or tuple(latents.shape[1:]) != expected:
            raise ValueError(f"latents must be [batch, {', '.join(map(str, expected))}] as prepared, "
                             f"got {tuple(latents.shape)}")

    def step_tokens(
        self, latents: torch.Tensor, timestep: torch.Tensor, inputs: ChunkInputs
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[tuple[torch.Tensor, torch.Tensor], ...]]:
        """One step's block inputs: tokens x [B, H(N) + f*h*w, D] fp32, e [B, S, D], e0 [B, S, 6, D], text K/V."""
        self.check_latents(latents, inputs)
        b = latents.shape[0]
        x = self.patch_embedding(latents.to(self.patch_embedding.weight.dtype))  # [B, D, f, h, w]
        x = x.flatten(2).transpose(1, 2).float()  # [B, f*h*w, D]
        timestep = timestep.to(device=x.device, dtype=torch.float64).reshape(b, 1)
        if inputs.history_tokens is None:
            timesteps = timestep  # [B, 1]: one timestep for all tokens
        else:
            x = torch.cat([inputs.history_tokens.expand(b, -1, -1), x], dim=1)  # [B, H(N) + f*h*w, D]
            timesteps = torch.cat([torch.full_like(timestep, inputs.history_timestep), timestep], dim=1)  # [B, 2]
        e, e0 = self._time_embedding(timesteps)
        context_kv = inputs.context_kv or self.cross_attention_kv(inputs.context)
        if context_kv[0][0].shape[0] != b:
            context_kv = tuple((k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in context_kv)
        return x, e, e0, context_kv

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, inputs: ChunkInputs) -> torch.Tensor:
        """Velocity of the predicted latents [B, C, F, H, W] at ``timestep`` [B] (σ·1000), fp32."""
        if self.sequence_parallel is not None:
            return self.sequence_parallel(self, latents, timestep, inputs)
        x, e, e0, context_kv = self.step_tokens(latents, timestep, inputs)
        num_history = inputs.num_history_tokens
        last = len(self._runners) - 1
        drop_in_last = self.options.skip_history_in_last_block and num_history > 0
        for i, run in enumerate(self._runners):
            drop = drop_in_last and i == last
            x = run(x, e0, num_history, context_kv[i], inputs.rope_cos, inputs.rope_sin, drop)
        if not drop_in_last:
            x = x[:, num_history:]  # only the predicted tokens
        x = self.head(x, e[:, -1:])
        return self.unpatchify(x, inputs.grid)

    def unpatchify(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """[B, f*h*w, pt*ph*pw*C] → [B, C, f*pt, h*ph, w*pw]."""
        b = x.shape[0]
        f, h, w = grid
        pt, ph, pw = self.args.patch_size
        x = x.view(b, f, h, w, pt, ph, pw, self.args.out_dim)
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, f, pt, h, ph, w, pw]
        return x.reshape(b, self.args.out_dim, f * pt, h * ph, w * pw)


def _embed_padded(conv: nn.Conv3d, frames: torch.Tensor) -> torch.Tensor:
    """``conv`` (kernel = stride) over frames zero-padded at the bottom and right to a multiple of its kernel.

    A frame smaller than one kernel (the 128x rate: 9×15 after the 4×4 step,
    against a 32×32 kernel) gives one token; there the zeros would only meet
    kernel taps that add nothing, so the kernel is cropped to the frame instead
    of padding the frame (7.6× less work at 544×960, same sum).
    """
    _, kh, kw = conv.kernel_size
    height, width = frames.shape[3:]
    if height <= kh and width <= kw and (height, width) != (kh, kw):
        weight = conv.weight[:, :, :, :height, :width]  # [D, C, kt, height, width]
        return F.conv3d(frames, weight, conv.bias, stride=(conv.stride[0], height, width))
    return conv(_pad_to_multiple(frames, conv.kernel_size))


def _pad_to_multiple(x: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad [B, C, T, H, W] at the bottom and right up to multiples of the kernel's (H, W)."""
    pad_h = -x.shape[3] % kernel[1]
    pad_w = -x.shape[4] % kernel[2]
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))  # (w_left, w_right, h_top, h_bottom)
    return x

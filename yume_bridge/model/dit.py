"""The Yume-5B DiT: a Wan2.2-TI2V-5B transformer with TSCM history compression.

Parameter names and shapes equal the published ``diffusion_pytorch_model.safetensors``
(model-reference.md §1.3), so a strict ``load_state_dict`` works without renaming.

One chunk is: ``prepare`` (embed the text, compress and embed the clean history,
build RoPE tables — all constant across the sampler's steps) then one
``forward`` per step over [history tokens | predicted tokens] with full
bidirectional attention; only the predicted latents come back (§2.4).

Precision follows the reference: the residual stream, LayerNorms, RMSNorms,
AdaLN modulation, the time embedding and the head run in fp32; RoPE rotates in
float64 by default; the linear layers and attention run in the weights' dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from yume_bridge.model.args import ModelArgs
from yume_bridge.model.tscm import Rate, compression_schedule, token_positions

__all__ = ["ChunkInputs", "WanModel", "apply_rope", "rope_angles", "sinusoidal_embedding"]

HISTORY_TIMESTEP = 0.0
"""History tokens are clean: they get the timestep-0 modulation (§2.5)."""

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


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, lengths: tuple[int, ...]) -> torch.Tensor:
    """x·(1 + scale) + shift where shift/scale are per segment [B, S, D] and x is [B, L, D]."""
    if len(lengths) == 1:
        return torch.addcmul(shift, x, 1 + scale)
    parts = x.split(lengths, dim=1)
    return torch.cat(
        [torch.addcmul(shift[:, i : i + 1], part, 1 + scale[:, i : i + 1]) for i, part in enumerate(parts)], dim=1
    )


def _gate(y: torch.Tensor, gate: torch.Tensor, lengths: tuple[int, ...]) -> torch.Tensor:
    """y·gate in fp32 with a per-segment gate [B, S, D]."""
    y = y.float()
    if len(lengths) == 1:
        return y * gate
    parts = y.split(lengths, dim=1)
    return torch.cat([part * gate[:, i : i + 1] for i, part in enumerate(parts)], dim=1)


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

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, -1)  # [B, L, D] -> [B, L, n, d]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, length = q.shape[:2]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # [B, n, L, d]
        return self.o(out.transpose(1, 2).reshape(b, length, -1))  # [B, L, D]


class SelfAttention(Attention):
    def forward(self, x: torch.Tensor, rope_cos: torch.Tensor, rope_sin: torch.Tensor) -> torch.Tensor:
        q = apply_rope(self._heads(self.norm_q(self.q(x))), rope_cos, rope_sin)  # [B, L, n, d]
        k = apply_rope(self._heads(self.norm_k(self.k(x))), rope_cos, rope_sin)
        # Full bidirectional attention over history + predicted tokens (§2.4).
        return self._attend(q, k, self._heads(self.v(x)))


class CrossAttention(Attention):
    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = self._heads(self.norm_q(self.q(x)))  # [B, L, n, d]
        k = self._heads(self.norm_k(self.k(context)))  # [B, 512, n, d]
        # The zero-padded text rows are not masked, as in the reference (§1.1).
        return self._attend(q, k, self._heads(self.v(context)))


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
        lengths: tuple[int, ...],
        context: torch.Tensor,
        rope_cos: torch.Tensor,
        rope_sin: torch.Tensor,
    ) -> torch.Tensor:
        """x: fp32 residual [B, L, D]; e0: per-segment projected time embedding [B, S, 6, D]."""
        dtype = self.self_attn.q.weight.dtype
        mod = self.modulation.float().unsqueeze(1) + e0  # [1, 1, 6, D] + [B, S, 6, D]
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(dim=2)  # each [B, S, D]
        h = _modulate(self.norm1(x), shift1, scale1, lengths)
        x = x + _gate(self.self_attn(h.to(dtype), rope_cos, rope_sin), gate1, lengths)
        x = x + self.cross_attn(self.norm3(x).to(dtype), context).float()
        h = _modulate(self.norm2(x), shift2, scale2, lengths)
        return x + _gate(self.ffn(h.to(dtype)), gate2, lengths)


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


@dataclass
class ChunkInputs:
    """Everything ``forward`` needs that stays the same across one chunk's sampler steps."""

    context: torch.Tensor
    """Embedded text [B, text_len, D] in the compute dtype."""
    history_tokens: torch.Tensor | None
    """Compressed, embedded clean history [B, H(N), D] fp32, or None for the plain path."""
    rope_cos: torch.Tensor
    rope_sin: torch.Tensor
    """[H(N) + predicted tokens, head_dim/2] in the RoPE dtype."""
    grid: tuple[int, int, int]
    """Predicted tokens as (frames, rows, cols)."""
    rope_frames: int
    """Temporal RoPE positions used, history and predicted together."""

    @property
    def num_history_tokens(self) -> int:
        return 0 if self.history_tokens is None else self.history_tokens.shape[1]


class WanModel(nn.Module):
    """WanModel (ti2v) with the TSCM patch embeddings; names match the checkpoint."""

    def __init__(self, args: ModelArgs, *, rope_dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.args = args
        self.rope_dtype = rope_dtype
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
        self.head = Head(args)
        # TSCM: coarser patchifies for older history (§1.3, §2.3); kernel = stride.
        for factor in (2, 4, 8, 16):
            kernel = (pt, ph * factor, pw * factor)
            setattr(self, f"patch_embedding_{factor}x", nn.Conv3d(args.in_dim, args.dim, kernel, stride=kernel))
        # 48→48 latent-space 4×4 pre-downsampler of the 128x rate.
        self.patch_embedding_2x_f = nn.Conv3d(args.in_dim, args.in_dim, (1, 4, 4), stride=(1, 4, 4))

    # -- history compression ---------------------------------------------------------------

    def _patchify(self, frames: torch.Tensor, rate: Rate) -> torch.Tensor:
        """Embed latents [B, C, k, H, W] at ``rate`` → [B, D, k, rows, cols] (zero pad bottom/right first)."""
        if rate is Rate.X128:
            frames = self.patch_embedding_2x_f(_pad_to_multiple(frames, self.patch_embedding_2x_f.kernel_size))
            rate = Rate.X16
        conv = self.patch_embedding if rate is Rate.FULL else getattr(self, f"patch_embedding_{rate.value}x")
        return conv(_pad_to_multiple(frames, conv.kernel_size))

    def embed_history(self, history: torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
        """Compress clean history latents [B, C, N, H, W] into tokens [B, H(N), D] (fp32) and their grids."""
        dtype = self.patch_embedding.weight.dtype
        tokens, grids = [], []
        for segment in compression_schedule(history.shape[2]):
            embedded = self._patchify(history[:, :, segment.start : segment.stop].to(dtype), segment.rate)
            grids.append(tuple(embedded.shape[2:]))  # (k, rows, cols)
            tokens.append(embedded.flatten(2).transpose(1, 2))  # [B, k*rows*cols, D]
        return torch.cat(tokens, dim=1).float(), grids

    # -- per chunk -------------------------------------------------------------------------

    def embed_text(self, text_states: torch.Tensor) -> torch.Tensor:
        """T5 states [B, text_len, text_dim] (already zero-padded to text_len) → [B, text_len, D]."""
        weight = self.text_embedding[0].weight
        return self.text_embedding(text_states.to(device=weight.device, dtype=weight.dtype))

    def prepare(
        self,
        text_states: torch.Tensor,
        latent_shape: tuple[int, int, int],
        history: torch.Tensor | None = None,
    ) -> ChunkInputs:
        """Build the step-invariant inputs of one chunk.

        ``latent_shape`` is the predicted latents' (frames, height, width);
        ``history`` the clean latents [B, C, N, H, W] before them, or None for
        the plain (text-start) path.
        """
        pt, ph, pw = self.args.patch_size
        frames, height, width = latent_shape
        grid = (frames // pt, -(-height // ph), -(-width // pw))
        context = self.embed_text(text_states)
        if history is None or history.shape[2] == 0:
            history_tokens, grids = None, []
        else:
            history_tokens, grids = self.embed_history(history)
        positions = token_positions([*grids, grid]).to(context.device)  # [L, 3]
        angles = rope_angles(self.args, positions)  # [L, d/2] float64
        return ChunkInputs(
            context=context,
            history_tokens=history_tokens,
            rope_cos=torch.cos(angles).to(self.rope_dtype),
            rope_sin=torch.sin(angles).to(self.rope_dtype),
            grid=grid,
            rope_frames=sum(g[0] for g in grids) + grid[0],
        )

    def _time_embedding(self, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Timesteps [B, S] → e [B, S, D] and e0 [B, S, 6, D], both fp32."""
        b, s = timesteps.shape
        dtype = self.time_embedding[0].weight.dtype
        sinusoid = sinusoidal_embedding(self.args.freq_dim, timesteps.flatten())  # [B*S, freq] float64
        e = self.time_embedding(sinusoid.to(dtype)).float()  # [B*S, D]
        e0 = self.time_projection(e.to(dtype)).float()  # [B*S, 6D]
        return e.view(b, s, -1), e0.view(b, s, 6, -1)

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, inputs: ChunkInputs) -> torch.Tensor:
        """Velocity of the predicted latents [B, C, F, H, W] at ``timestep`` [B] (σ·1000), fp32."""
        b = latents.shape[0]
        x = self.patch_embedding(latents.to(self.patch_embedding.weight.dtype))  # [B, D, f, h, w]
        x = x.flatten(2).transpose(1, 2).float()  # [B, f*h*w, D]
        timestep = timestep.to(device=x.device, dtype=torch.float64).reshape(b, 1)
        num_history = inputs.num_history_tokens
        if inputs.history_tokens is None:
            lengths: tuple[int, ...] = (x.shape[1],)
            timesteps = timestep  # [B, 1]: one timestep for all tokens
        else:
            lengths = (num_history, x.shape[1])
            x = torch.cat([inputs.history_tokens.expand(b, -1, -1), x], dim=1)  # [B, H(N) + f*h*w, D]
            timesteps = torch.cat([torch.full_like(timestep, HISTORY_TIMESTEP), timestep], dim=1)  # [B, 2]
        e, e0 = self._time_embedding(timesteps)
        context = inputs.context.expand(b, -1, -1)
        for block in self.blocks:
            x = block(x, e0, lengths, context, inputs.rope_cos, inputs.rope_sin)
        x = self.head(x[:, num_history:], e[:, -1:])  # only the predicted tokens
        return self.unpatchify(x, inputs.grid)

    def unpatchify(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """[B, f*h*w, pt*ph*pw*C] → [B, C, f*pt, h*ph, w*pw]."""
        b = x.shape[0]
        f, h, w = grid
        pt, ph, pw = self.args.patch_size
        x = x.view(b, f, h, w, pt, ph, pw, self.args.out_dim)
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, f, pt, h, ph, w, pw]
        return x.reshape(b, self.args.out_dim, f * pt, h * ph, w * pw)


def _pad_to_multiple(x: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad [B, C, T, H, W] at the bottom and right up to multiples of the kernel's (H, W)."""
    pad_h = -x.shape[3] % kernel[1]
    pad_w = -x.shape[4] % kernel[2]
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))  # (w_left, w_right, h_top, h_bottom)
    return x

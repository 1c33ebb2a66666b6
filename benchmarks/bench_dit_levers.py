"""Figures for the DiT's speed levers on this machine: errors against the plain path, step and prepare times.

    python benchmarks/bench_dit_levers.py               # CPU: a small DiT at the 544x960 latent grid, ~2-4 min
    python benchmarks/bench_dit_levers.py --compile     # also time torch.compile (inductor; minutes on a CPU)
    python benchmarks/bench_dit_levers.py --json

What it measures, each with the lever on and off on the same weights:
* RoPE fp32 against fp64: the rotation alone at the full-size head (128, positions up to 1023) and the
  DiT output of the tiny model (relative error ‖a − b‖ / ‖b‖);
* history embedding per chunk with and without the per-latent cache, along a session up to the history
  bound (latents embedded, milliseconds);
* one DiT step with every lever off, with the lossless levers on, and compiled (first call = compile time;
  a second history length shows whether it recompiled);
* FP8: torchao's float8 needs an Ada/Hopper GPU; on a CPU the row-wise e4m3 rounding is *simulated*
  (weights and activations quantised per row, matmul in fp32) to report its error against bf16.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from yume_bridge.model.args import ModelArgs, YumeArgs  # noqa: E402
from yume_bridge.model.dit import FP32_PARAMETERS, DitOptions, HistoryEmbeddingCache, WanModel, apply_rope, rope_angles  # noqa: E402
from yume_bridge.model.tscm import DEFAULT_MAX_HISTORY_LATENTS, token_positions  # noqa: E402

PLAIN = DitOptions(
    rope_dtype=torch.float64, cache_cross_attention=False, skip_history_in_last_block=False, cache_history=False
)
SMALL = ModelArgs(dim=256, ffn_dim=1024, num_layers=4, num_heads=2, text_dim=64, freq_dim=64)
"""A CPU-sized DiT with the full-size head (128), so attention and RoPE shapes per head are the real ones."""
LATENT_544 = (34, 60)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def rope_rotation_error() -> dict:
    """fp32 against fp64 rotation at the full-size head: every temporal position 0..1023, spatial 0..39."""
    args = YumeArgs.preset("yume-5b").dit
    positions = token_positions([(1024, 1, 1)]) + torch.tensor([0, 21, 39])  # [1024, 3]
    angles = rope_angles(args, positions)
    q = torch.randn(1, 1024, 4, args.head_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = apply_rope(q, torch.cos(angles), torch.sin(angles))
    fp32 = apply_rope(q.float(), torch.cos(angles).float(), torch.sin(angles).float())
    return {"rotation_rel_error": relative_error(fp32, exact), "max_abs_error": (fp32 - exact).abs().max().item()}


@torch.inference_mode()
def output_errors(model: WanModel, latent: tuple[int, int], history: int, lever_sets: dict[str, DitOptions]) -> dict:
    gen = torch.Generator().manual_seed(history)
    text = torch.randn(1, 40, model.args.text_dim, generator=gen)
    clean = torch.randn(1, model.args.in_dim, history, *latent, generator=gen)
    noisy = torch.randn(1, model.args.in_dim, 8, *latent, generator=gen)
    outputs = {}
    for name, options in {"plain": PLAIN, **lever_sets}.items():
        model.configure(options)
        inputs = model.prepare(text, (8, *latent), clean)
        outputs[name] = model(noisy, torch.tensor([875.0]), inputs)
    model.configure(DitOptions())
    return {name: relative_error(out, outputs["plain"]) for name, out in outputs.items() if name != "plain"}


@torch.inference_mode()
def history_embedding_along_a_session(model: WanModel, latent: tuple[int, int], sample_every: int = 25) -> list[dict]:
    """Per sampled chunk: latents pushed through a convolution and milliseconds, cached against fresh."""
    total = DEFAULT_MAX_HISTORY_LATENTS
    latents = torch.randn(1, model.args.in_dim, total, *latent, generator=torch.Generator().manual_seed(1))
    cache = HistoryEmbeddingCache()
    embedded: list[int] = []
    original = model._patchify
    model._patchify = lambda frames, rate: (embedded.append(frames.shape[2]), original(frames, rate))[1]
    rows = []
    try:
        for chunk, n in enumerate(range(5, total + 1, 8)):
            ids = list(range(n))
            embedded.clear()
            start = time.perf_counter()
            model.embed_history(latents[:, :, :n], cache=cache, ids=ids)
            cached_ms, cached_latents = 1000 * (time.perf_counter() - start), sum(embedded)
            if chunk % sample_every and n + 8 <= total:
                continue
            embedded.clear()
            start = time.perf_counter()
            model.embed_history(latents[:, :, :n])
            fresh_ms, fresh_latents = 1000 * (time.perf_counter() - start), sum(embedded)
            rows.append(
                {
                    "chunk": chunk,
                    "history": n,
                    "cached_latents": cached_latents,
                    "cached_ms": round(cached_ms, 1),
                    "fresh_latents": fresh_latents,
                    "fresh_ms": round(fresh_ms, 1),
                }
            )
    finally:
        del model._patchify
    return rows


@torch.inference_mode()
def step_times(
    model: WanModel, latent: tuple[int, int], histories: tuple[int, ...], options: DitOptions, repeats: int = 3
) -> list[dict]:
    model.configure(options)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for history in histories:
        text = torch.randn(1, 40, model.args.text_dim, generator=gen)
        clean = torch.randn(1, model.args.in_dim, history, *latent, generator=gen)
        noisy = torch.randn(1, model.args.in_dim, 8, *latent, generator=gen)
        start = time.perf_counter()
        inputs = model.prepare(text, (8, *latent), clean)
        prepare_ms = 1000 * (time.perf_counter() - start)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            model(noisy, torch.tensor([875.0]), inputs)
            times.append(1000 * (time.perf_counter() - start))
        rows.append(
            {
                "history": history,
                "tokens": inputs.num_history_tokens + 8 * (latent[0] // 2) * (latent[1] // 2),
                "prepare_ms": round(prepare_ms, 1),
                "first_step_ms": round(times[0], 1),
                "step_ms": round(min(times[1:]), 1),
            }
        )
    model.configure(DitOptions())
    return rows


def _fp8_rows(x: torch.Tensor) -> torch.Tensor:
    """Quantise-dequantise to float8 e4m3 with one scale per row (the amax maps to 448)."""
    scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / torch.finfo(torch.float8_e4m3fn).max
    return (x / scale).to(torch.float8_e4m3fn).float() * scale


@torch.inference_mode()
def simulated_fp8_error(model: WanModel, latent: tuple[int, int], history: int) -> dict:
    """DiT output with row-wise fp8 block linears (simulated) and in bf16, each against fp32."""
    gen = torch.Generator().manual_seed(2)
    text = torch.randn(1, 40, model.args.text_dim, generator=gen)
    clean = torch.randn(1, model.args.in_dim, history, *latent, generator=gen)
    noisy = torch.randn(1, model.args.in_dim, 8, *latent, generator=gen)

    def run(m: WanModel) -> torch.Tensor:
        return m(noisy, torch.tensor([875.0]), m.prepare(text, (8, *latent), clean)).float()

    reference = run(model)
    bf16 = WanModel(model.args).eval().requires_grad_(False)
    bf16.load_state_dict(model.state_dict())
    for name, param in bf16.named_parameters():  # as the loader casts: fp32 norms, modulation, time, head
        if not any(part in name for part in FP32_PARAMETERS):
            param.data = param.data.to(torch.bfloat16)
    bf16_out = run(bf16)
    linears = [m for m in model.blocks.modules() if isinstance(m, torch.nn.Linear)]
    saved = [m.forward for m in linears]
    for m in linears:
        m.forward = lambda x, m=m: F.linear(_fp8_rows(x.float()), _fp8_rows(m.weight.float()), m.bias.float()).to(
            x.dtype
        )
    try:
        fp8_out = run(model)
    finally:
        for m, forward in zip(linears, saved, strict=True):
            m.forward = forward
    return {
        "bf16_vs_fp32": relative_error(bf16_out, reference),
        "fp8_simulated_vs_fp32": relative_error(fp8_out, reference),
        "fp8_simulated_vs_bf16": relative_error(fp8_out, bf16_out),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="also time inductor-compiled blocks")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    small = WanModel(SMALL).eval().requires_grad_(False)
    tiny = WanModel(YumeArgs.preset("tiny").dit).eval().requires_grad_(False)
    lossless = {
        name: replace(PLAIN, **{name: True}) for name in ("cache_cross_attention", "skip_history_in_last_block")
    }
    result: dict = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)",
        "small_model": f"dim {SMALL.dim}, {SMALL.num_layers} layers, head_dim {SMALL.head_dim}, latent 34x60 (544x960)",
        "rope": rope_rotation_error(),
        "rope_dit_output_rel_error": {
            str(n): output_errors(tiny, (34, 60), n, {"rope_fp32": replace(PLAIN, rope_dtype=torch.float32)})
            for n in (5, 100, 400)
        },
        "lossless_levers_rel_error": output_errors(small, (16, 30), 100, lossless | {"all_defaults": DitOptions()}),
        "history_embedding": history_embedding_along_a_session(tiny, LATENT_544),
        "fp8": simulated_fp8_error(small, (16, 30), 100),
    }
    histories = (13, 100)
    result["steps_levers_off"] = step_times(small, (16, 30), histories, PLAIN)
    result["steps_levers_on"] = step_times(small, (16, 30), histories, DitOptions())
    if args.compile:
        result["steps_compiled"] = step_times(small, (16, 30), histories, DitOptions(compile=True), repeats=2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_result(result))
    return 0


def format_result(result: dict) -> str:
    lines = [
        f"DiT levers on {result['machine']}",
        f"small model: {result['small_model']}",
        f"RoPE fp32 vs fp64 rotation (head 128, positions 0..1023): "
        f"relative {result['rope']['rotation_rel_error']:.2e}, max abs {result['rope']['max_abs_error']:.2e}",
    ]
    for n, errors in result["rope_dit_output_rel_error"].items():
        lines.append(f"  tiny DiT output, history {n}: relative {errors['rope_fp32']:.2e}")
    lines.append(
        "lossless levers, small DiT output vs all levers off (history 100): "
        + ", ".join(f"{k} {v:.1e}" for k, v in result["lossless_levers_rel_error"].items())
    )
    fp8 = result["fp8"]
    lines.append(
        f"precision vs fp32 (small DiT, history 100): bf16 block linears {fp8['bf16_vs_fp32']:.2e}, "
        f"simulated fp8 row-wise {fp8['fp8_simulated_vs_fp32']:.2e} (vs bf16 {fp8['fp8_simulated_vs_bf16']:.2e})"
    )
    lines.append(
        "history embedding per chunk (tiny DiT, 544x960 latents): "
        f"{'chunk':>6} {'N':>5} {'cached':>7} {'ms':>7} {'fresh':>7} {'ms':>7}"
    )
    for row in result["history_embedding"]:
        lines.append(
            f"{'':>58}{row['chunk']:>6} {row['history']:>5} {row['cached_latents']:>7} {row['cached_ms']:>7} "
            f"{row['fresh_latents']:>7} {row['fresh_ms']:>7}"
        )
    for key in ("steps_levers_off", "steps_levers_on", "steps_compiled"):
        for row in result.get(key, []):
            lines.append(
                f"{key:>17}: history {row['history']:>4} ({row['tokens']} tokens): prepare {row['prepare_ms']} ms, "
                f"first step {row['first_step_ms']} ms, step {row['step_ms']} ms"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark the Yume model path: text encoding, DiT steps, VAE decode, first frame, fps, memory.

    python benchmarks/bench_yume.py                       # CPU: tiny random model, ~1 minute
    python benchmarks/bench_yume.py --random-weights      # full-size random weights (GPU), 60 chunks
    python benchmarks/bench_yume.py --weights DIR         # a real Yume-5B-720P folder
    python benchmarks/bench_yume.py --json                # machine-readable

Every chunk runs the daemon's code path (``pipeline.Session``): TSCM history
growing by 8 latents per chunk, Euler steps, streaming VAE decode. Timings
synchronise the device at each stage boundary, so they are per-stage wall
times, not overlapped throughput. On CPU the default resolutions are small
stand-ins for 544x960 and 704x1280 (the tiny VAE's full-size decode alone takes
~20–40 s per chunk on 2 cores); pass ``--resolution 544x960,704x1280`` to force them.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from yume_bridge.actions import CaptionTemplates  # noqa: E402
from yume_bridge.model.args import YumeArgs  # noqa: E402
from yume_bridge.model.attention import AttentionBackend  # noqa: E402
from yume_bridge.model.dit import DitOptions  # noqa: E402
from yume_bridge.model.loader import LoadOptions, YumeModels, build_random_models, load_models  # noqa: E402
from yume_bridge.model.pipeline import GenerationOptions, Session  # noqa: E402
from yume_bridge.model.testing import write_tiny_tokenizer, write_tiny_weights  # noqa: E402

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
SCENE = ("A medieval castle on a hill at sunset, warm light, birds in the sky.",)
CPU_RESOLUTIONS = "128x224,160x288"
GPU_RESOLUTIONS = "544x960,704x1280"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", type=Path, help="a Yume-5B-720P folder")
    source.add_argument("--random-weights", action="store_true", help="random weights of --preset (default yume-5b)")
    parser.add_argument("--preset", choices=["tiny", "yume-5b"],
                        help="sizes for random weights (default: yume-5b on CUDA or with --random-weights, else tiny)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--dtype", choices=sorted(DTYPES),
                        help="DiT/T5 dtype (default bfloat16 on CUDA, float32 on CPU)")
    parser.add_argument("--vae-dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--resolution", help=f"comma-separated HxW list (default {GPU_RESOLUTIONS} on CUDA, "
                                             f"{CPU_RESOLUTIONS} on CPU)")
    parser.add_argument("--chunks", type=int, help="chunks per resolution (default 60 on CUDA, 4 on CPU)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--shift", type=float, default=7.0)
    parser.add_argument("--start", choices=["image", "text"], default="image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int,
                        help="torch intra-op threads (default 1 on CPU: tiny shapes gain nothing from more, and "
                             "OpenMP spin-waits collapse when the cores are shared)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the DiT blocks (chunk 0 compiles)")
    parser.add_argument("--attention", choices=[b.value for b in AttentionBackend], default="auto",
                        help="DiT attention kernel")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return parser.parse_args(argv)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(args: argparse.Namespace, device: str, dtype: torch.dtype, workdir: Path) -> tuple[YumeModels, str]:
    dit_options = DitOptions(compile=args.compile, attention=AttentionBackend(args.attention))
    options = LoadOptions(device=device, dtype=dtype, vae_dtype=DTYPES[args.vae_dtype], text_dtype=dtype,
                          dit_options=dit_options)
    if args.weights is not None:
        return load_models(args.weights, options), f"weights {args.weights}"
    preset_name = args.preset or ("yume-5b" if args.random_weights or device.startswith("cuda") else "tiny")
    if preset_name == "tiny":
        folder = write_tiny_weights(workdir / "tiny")
        return load_models(folder, options), "tiny random weights (published file formats, loaded by the loader)"
    from transformers import AutoTokenizer

    preset = YumeArgs.preset(preset_name)
    write_tiny_tokenizer(workdir / "tokenizer", preset.text.vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(str(workdir / "tokenizer"))
    return build_random_models(preset, options, tokenizer), f"{preset.name} random weights"


def jpeg_ms(frames: list[np.ndarray]) -> float | None:
    try:
        import simplejpeg
    except ImportError:
        return None
    start = time.perf_counter()
    for frame in frames:
        simplejpeg.encode_jpeg(frame, quality=85, colorspace="RGB", colorsubsampling="420")
    return 1000 * (time.perf_counter() - start) / len(frames)


def bench_resolution(models: YumeModels, args: argparse.Namespace, height: int, width: int, chunks: int) -> dict:
    device = models.device
    templates = CaptionTemplates.load("camera")
    captions = list(templates.captions_for_events(SCENE).values())
    # Text: one new caption (a cache miss on the generation thread) and the 81-caption prepare batch.
    _sync(device)
    start = time.perf_counter()
    models.text.encode([captions[0] + " warm-up"])
    _sync(device)
    start = time.perf_counter()
    (states,) = models.text.encode([captions[0]])
    _sync(device)
    text_one_ms = 1000 * (time.perf_counter() - start)
    start = time.perf_counter()
    models.text.encode(captions)
    _sync(device)
    text_81_ms = 1000 * (time.perf_counter() - start)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    session = Session(models, height=height, width=width, seed=args.seed,
                      options=GenerationOptions(args.steps, args.shift), profile=True)
    start = time.perf_counter()
    if args.start == "image":
        image = np.random.default_rng(args.seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        session.start_from_image(image)
    _sync(device)
    image_encode_ms = 1000 * (time.perf_counter() - start) if args.start == "image" else None

    rows, sample_frames = [], []
    for index in range(chunks):
        frames = list(session.generate_chunk(states))
        profile = session.last_profile
        assert len(frames) == models.args.frames_per_chunk
        if index == 0:
            sample_frames = frames
        model_s = profile.prepare_s + sum(profile.step_s) + sum(profile.decode_s)
        rows.append({
            "chunk": index,
            "history_latents": profile.history_latents,
            "sequence_tokens": profile.sequence_tokens,
            "prepare_ms": round(1000 * profile.prepare_s, 2),
            "step_ms": [round(1000 * s, 2) for s in profile.step_s],
            "decode_ms": round(1000 * sum(profile.decode_s), 2),
            "first_frame_ms": round(1000 * profile.first_frame_s, 2),
            "chunk_ms": round(1000 * model_s, 2),
            "fps": round(len(frames) / model_s, 2),
        })
    steady = rows[1:] or rows
    summary = {
        "resolution": f"{height}x{width}",
        "chunks": chunks,
        "text_encode_1_caption_ms": round(text_one_ms, 2),
        "text_encode_81_captions_ms": round(text_81_ms, 2),
        "image_start_encode_ms": None if image_encode_ms is None else round(image_encode_ms, 2),
        "dit_step_ms_median": round(statistics.median(s for r in steady for s in r["step_ms"]), 2),
        "vae_decode_ms_median": round(statistics.median(r["decode_ms"] for r in steady), 2),
        "first_frame_ms_median": round(statistics.median(r["first_frame_ms"] for r in steady), 2),
        "chunk_ms_median": round(statistics.median(r["chunk_ms"] for r in steady), 2),
        "fps_median": round(statistics.median(r["fps"] for r in steady), 2),
        "jpeg_q85_ms_per_frame": None if (ms := jpeg_ms(sample_frames)) is None else round(ms, 3),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        if device.type == "cuda" else None,
        "per_chunk": rows,
    }
    session.close()
    return summary


def format_tables(result: dict) -> str:
    lines = [
        f"yume bench: {result['model']}, {result['device']} {result['dtype']} (VAE {result['vae_dtype']}), "
        f"{result['steps']} steps shift {result['shift']}, {result['start']} start, "
        f"DiT {'compiled' if result['dit_compiled'] else 'eager'}, attention {result['attention_backend']}",
        f"machine: {result['machine']}",
    ]
    for res in result["resolutions"]:
        lines += [
            "",
            f"{res['resolution']}: text 1 caption {res['text_encode_1_caption_ms']} ms, 81 captions "
            f"{res['text_encode_81_captions_ms']} ms; image start {res['image_start_encode_ms']} ms; "
            f"JPEG q85 {res['jpeg_q85_ms_per_frame']} ms/frame; peak GPU {res['peak_gpu_memory_gib']} GiB",
            f"median after chunk 0: DiT step {res['dit_step_ms_median']} ms, VAE decode {res['vae_decode_ms_median']} "
            f"ms, first frame {res['first_frame_ms_median']} ms, chunk {res['chunk_ms_median']} ms, "
            f"{res['fps_median']} fps",
            f"{'chunk':>5} {'hist':>5} {'tokens':>7} {'DiT steps ms':>30} {'decode ms':>10} {'1st frame':>10} "
            f"{'chunk ms':>10} {'fps':>7}",
        ]
        for row in res["per_chunk"]:
            steps = "/".join(f"{s:.0f}" if s >= 100 else f"{s:.1f}" for s in row["step_ms"])
            lines.append(f"{row['chunk']:>5} {row['history_latents']:>5} {row['sequence_tokens']:>7} {steps:>30} "
                         f"{row['decode_ms']:>10.1f} {row['first_frame_ms']:>10.1f} {row['chunk_ms']:>10.1f} "
                         f"{row['fps']:>7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.startswith("cuda")
    if args.threads or not on_gpu:
        torch.set_num_threads(args.threads or 1)
    dtype = DTYPES[args.dtype or ("bfloat16" if on_gpu else "float32")]
    chunks = args.chunks or (60 if on_gpu else 4)
    spec = args.resolution or (GPU_RESOLUTIONS if on_gpu else CPU_RESOLUTIONS)
    resolutions = [tuple(int(x) for x in r.split("x")) for r in spec.split(",")]
    with tempfile.TemporaryDirectory() as workdir, torch.inference_mode():
        start = time.perf_counter()
        models, source = build(args, device, dtype, Path(workdir))
        build_s = time.perf_counter() - start
        result = {
            "model": source,
            "device": device + (f" ({torch.cuda.get_device_name(device)})" if on_gpu else ""),
            "dtype": str(dtype).removeprefix("torch."),
            "vae_dtype": args.vae_dtype,
            "steps": args.steps,
            "shift": args.shift,
            "start": args.start,
            "dit_compiled": models.dit.options.compile,
            "attention_backend": models.dit.attention_backend_used,
            "build_s": round(build_s, 2),
            "machine": f"python {platform.python_version()}, torch {torch.__version__}, "
                       f"{torch.get_num_threads()} threads",
            "resolutions": [bench_resolution(models, args, h, w, chunks) for h, w in resolutions],
        }
    print(json.dumps(result, indent=2) if args.json else format_tables(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

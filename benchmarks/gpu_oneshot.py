"""One prepared device run that measures every speed lever of the Yume path and writes results as it goes.

    python benchmarks/gpu_oneshot.py --out results/            # one CUDA GPU, full-size random weights, ≤ 8 min
    python benchmarks/gpu_oneshot.py --smoke --out /tmp/smoke  # the same stages, tiny model, CPU, < 2 min

Every stage appends one JSON line to ``OUT/results.jsonl`` the moment it ends
(the chunk loop one line per chunk), so a run cut short still leaves what it
measured. Each stage has its own try/except and an estimated cost checked
against the time budget (``--budget-s``): what does not fit is recorded as
skipped. Stages that need a package the machine lacks (diffusers for the full
VAE and the chunk loop, simplejpeg for JPEG, torchao for FP8) record
``"skipped: needs X"`` instead of failing. Only the standard library is imported
at module level; torch and the project are imported inside the stages, so this
runs from a copy of the repository with the machine's own torch (see
docs/benchmarks.md for the wheel folder). Weights are random: times are real,
pictures are noise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HISTORY_SIZES = (5, 85, 485, 1016)
"""History latents at chunk 0, 10, 60 and at the bound (model-reference.md: 8 new latents per chunk)."""
PACKAGES = ("torch", "numpy", "diffusers", "transformers", "tokenizers", "safetensors", "simplejpeg", "pillow",
            "msgpack", "click", "zeroconf", "torchao", "triton", "flash_attn", "flash_attn_3")
FRAMES_PER_CHUNK = 29


class MissingPackage(Exception):
    def __init__(self, package: str) -> None:
        super().__init__(package)
        self.package = package


def needs(*modules: str) -> None:
    """Raise MissingPackage for the first module that cannot be imported."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingPackage(module)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one run measures: full size on CUDA, or the tiny model on the CPU (``--smoke``)."""

    smoke: bool
    device: str
    preset: str
    height: int
    width: int
    big: tuple[int, int]
    dtype_name: str
    repeats: int
    loop_chunks: int
    bound_chunks: int
    decode_latents: int
    """Latents per VAE-decode measurement (8 = one chunk)."""
    devices: int


class Recorder:
    """Appends one JSON line per stage to ``results.jsonl``, flushed to disk at once."""

    def __init__(self, out: Path, budget_s: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "results.jsonl"
        self.start = time.monotonic()
        self.deadline = self.start + budget_s

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        record = {"t_s": round(time.monotonic() - self.start, 3), **record}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())
        summary = {k: v for k, v in record.items() if not isinstance(v, list | dict)}
        print(json.dumps(summary, default=_jsonable)[:400], flush=True)

    def stage(self, name: str, run: Callable[[], dict[str, Any] | None], *, needs_s: float) -> dict[str, Any] | None:
        """Run one stage unless the budget cannot hold it; record its result, skip or error."""
        if self.remaining() < needs_s:
            self.write({"stage": name, "status": "skipped",
                        "reason": f"skipped: time budget ({self.remaining():.0f} s left, needs ~{needs_s:.0f} s)"})
            return None
        began = time.perf_counter()
        record: dict[str, Any] = {"stage": name}
        result = None
        try:
            result = run() or {}
            record.update({"status": "ok", **result})
        except MissingPackage as exc:
            record.update(status="skipped", reason=f"skipped: needs {exc.package}")
        except ModuleNotFoundError as exc:
            record.update(status="skipped", reason=f"skipped: needs {exc.name}")
        except Exception as exc:  # noqa: BLE001 - one stage's failure must not end the run
            record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000],
                          traceback=traceback.format_exc()[-3000:])
        record["seconds"] = round(time.perf_counter() - began, 3)
        self.write(record)
        _free_memory()
        return result


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)


def _free_memory() -> None:
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- timing helpers ---------------------------------------------------------------------------


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, run: Callable[[], object], *, repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``repeats`` calls after ``warmup`` ones, the device synchronised around each."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        _sync(device)
        began = time.perf_counter()
        run()
        _sync(device)
        times.append(time.perf_counter() - began)
    return times


def count_flops(run: Callable[[], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


def peak_memory_gb(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device.startswith("cuda") else None


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _ms(values: list[float]) -> list[float]:
    return [round(v * 1e3, 3) for v in values]


@contextlib.contextmanager
def default_dtype(dtype: object) -> Iterator[None]:
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


# --- the run ------------------------------------------------------------------------------------


class Bench:
    """Holds what stages share (the DiT, its sizes) so each is built once."""

    def __init__(self, plan: Plan, recorder: Recorder) -> None:
        import torch

        self.plan = plan
        self.rec = recorder
        self.torch = torch
        self.dtype = getattr(torch, plan.dtype_name)
        from yume_bridge.model.args import YumeArgs

        self.args = YumeArgs.preset(plan.preset)
        self.dit = None
        self.dit_args = self.args.dit
        self.bound_tokens = 0
        self.frames_for_jpeg = None
        self._vae_states: dict[Any, dict[str, Any]] = {}

    # environment ----------------------------------------------------------------------------

    def environment(self) -> dict[str, Any]:
        torch = self.torch
        packages = {}
        for name in PACKAGES:
            try:
                packages[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                packages[name] = None
        info: dict[str, Any] = {
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "cuda": torch.version.cuda, "packages": packages,
            "commit": _commit(), "argv": sys.argv[1:], "plan": dataclasses.asdict(self.plan),
            "devices_requested": self.plan.devices,
        }
        if self.plan.device.startswith("cuda"):
            props = torch.cuda.get_device_properties(0)
            info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1),
                        gpu_count=torch.cuda.device_count(), capability=f"{props.major}.{props.minor}",
                        cudnn=torch.backends.cudnn.version())
        return info

    # DiT --------------------------------------------------------------------------------------

    def build_dit(self) -> dict[str, Any]:
        torch = self.torch
        from yume_bridge.model import dit as dit_module

        kwargs = {}
        if "rope_dtype" in inspect.signature(dit_module.WanModel).parameters:
            kwargs["rope_dtype"] = torch.float64  # the reference's precision unless the levers below change it
        torch.manual_seed(0)
        with torch.device(self.plan.device), default_dtype(self.dtype):
            model = dit_module.WanModel(self.dit_args, **kwargs)
        for name, param in model.named_parameters():
            if any(part in name for part in dit_module.FP32_PARAMETERS):
                param.data = param.data.float()
        self.dit = model.eval().requires_grad_(False)
        params = sum(p.numel() for p in model.parameters())
        return {"parameters": params, "levers": sorted(self.levers()), "rope_dtype": str(kwargs.get("rope_dtype"))}

    def levers(self) -> dict[str, Any]:
        """The DiT options API where this build has it (feature-detected, so the script runs either way)."""
        from yume_bridge.model import dit as dit_module

        found = {}
        if hasattr(dit_module, "DitOptions") and self.dit is not None and hasattr(self.dit, "configure"):
            found["DitOptions"] = dit_module.DitOptions
            backends = getattr(dit_module, "AttentionBackend", None)
            if backends is None:
                with contextlib.suppress(ImportError):
                    backends = importlib.import_module("yume_bridge.model.attention").AttentionBackend
            if backends is not None:
                found["AttentionBackend"] = backends
        return found

    def configure(self, **changes: object) -> bool:
        """Apply DiT options (compile, attention, fp8 …); False when this build has no options API."""
        levers = self.levers()
        if "DitOptions" not in levers:
            return False
        options = levers["DitOptions"]()
        known = {f.name for f in dataclasses.fields(options)}
        self.dit.configure(dataclasses.replace(options, **{k: v for k, v in changes.items() if k in known}))
        return True

    def step_inputs(self, history: int, size: tuple[int, int]) -> tuple[Any, Any, Any, tuple[int, int, int]]:
        torch = self.torch
        args = self.dit_args
        scale = self.args.pixels_per_latent
        latent_shape = (self.args.predicted_latents, size[0] // scale, size[1] // scale)
        device = self.plan.device
        torch.manual_seed(history)
        context = torch.randn(1, args.text_len, args.text_dim, device=device, dtype=self.dtype)
        past = torch.randn(1, args.in_dim, history, *latent_shape[1:], device=device, dtype=self.dtype)
        return context, past, torch.randn(1, args.in_dim, *latent_shape, device=device), latent_shape

    def dit_steps(self, label: str, sizes: tuple[int, ...], size: tuple[int, int]) -> dict[str, Any]:
        """Step time and achieved TFLOP/s at each history size (prepare timed on its own)."""
        rows = []
        for history in sizes:
            if self.rec.remaining() < 10:
                rows.append({"history_latents": history, "status": "skipped: time budget"})
                continue
            rows.append(self._step_row(history, size))
        backend = getattr(self.dit, "attention_backend_used", "default SDPA choice")
        return {"mode": label, "resolution": f"{size[0]}x{size[1]}", "attention_backend": str(backend),
                "steps": rows}

    def _step_row(self, history: int, size: tuple[int, int]) -> dict[str, Any]:
        torch = self.torch
        device = self.plan.device
        context, past, noise, latent_shape = self.step_inputs(history, size)
        timestep = torch.full((1,), 875.0, device=device)

        def step() -> object:
            return self.dit(noise, timestep, inputs)

        with torch.inference_mode():
            prepare = timed(device, lambda: self.dit.prepare(context, latent_shape, past), repeats=1, warmup=0)
            inputs = self.dit.prepare(context, latent_shape, past)
            began = time.perf_counter()
            step()  # the first call compiles when compilation is configured
            _sync(device)
            first = time.perf_counter() - began
            reset_peak(device)
            steps = timed(device, step, repeats=self.plan.repeats, warmup=0)
            flops = count_flops(step)
        tokens = inputs.num_history_tokens + inputs.grid[0] * inputs.grid[1] * inputs.grid[2]
        if history == max(HISTORY_SIZES) and size == (self.plan.height, self.plan.width):
            self.bound_tokens = tokens
        return {"history_latents": history, "tokens": tokens, "prepare_ms": _ms(prepare)[0],
                "first_call_ms": round(first * 1e3, 1), "step_ms": _ms(steps),
                "flop_per_step": flops, "tflops_achieved": round(flops / min(steps) / 1e12, 4),
                "peak_memory_gb": peak_memory_gb(device)}

    def dit_compiled(self, sizes: tuple[int, ...], size: tuple[int, int]) -> dict[str, Any]:
        if not self.configure(compile=True):
            raise MissingPackage("the DiT options API (DitOptions / WanModel.configure) in this build")
        try:
            return self.dit_steps("compiled", sizes, size)
        finally:
            self.configure(compile=False)

    def attention_isolated(self) -> dict[str, Any]:
        """Each SDPA backend alone on the bound's sequence (self-attention shape of one block)."""
        torch = self.torch
        from torch.nn.attention import SDPBackend, sdpa_kernel

        args = self.dit_args
        length = self.bound_tokens or 9121
        device = self.plan.device
        q, k, v = (torch.randn(1, args.num_heads, length, args.head_dim, device=device, dtype=self.dtype)
                   for _ in range(3))
        flops = 4 * args.num_heads * length * length * args.head_dim
        results = {}
        for name in ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"):
            backend = getattr(SDPBackend, name, None)
            if backend is None:
                results[name.lower()] = "not in this torch"
                continue
            try:
                with sdpa_kernel([backend]):
                    times = timed(device, lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v),
                                  repeats=self.plan.repeats)
                results[name.lower()] = {"ms": _ms(times), "tflops": round(flops / min(times) / 1e12, 4)}
            except RuntimeError as exc:
                results[name.lower()] = f"unavailable: {str(exc).splitlines()[0][:200]}"
        results["flash_attention_3_package"] = importlib.util.find_spec("flash_attn_interface") is not None
        return {"tokens": length, "heads": args.num_heads, "head_dim": args.head_dim, "backends": results}

    def attention_in_step(self) -> dict[str, Any]:
        levers = self.levers()
        if "AttentionBackend" not in levers:
            raise MissingPackage("the DiT options API (AttentionBackend) in this build")
        rows = {}
        for backend in levers["AttentionBackend"]:
            if self.rec.remaining() < 15:
                rows[backend.name] = "skipped: time budget"
                continue
            try:
                self.configure(attention=backend, compile=False)
                rows[backend.name] = self.dit_steps(f"attention {backend.name}", (max(HISTORY_SIZES),),
                                                    (self.plan.height, self.plan.width))
            except Exception as exc:  # noqa: BLE001 - one backend missing is a result, not a failure
                rows[backend.name] = f"unavailable: {exc}"[:300]
        self.configure()
        return {"backends": rows}

    def levers_off(self) -> dict[str, Any]:
        """A step at the bound with every DiT lever off (the DiT as first written), for comparison."""
        if not self.configure(rope_dtype=self.torch.float64, cache_cross_attention=False,
                              skip_history_in_last_block=False, cache_history=False):
            raise MissingPackage("the DiT options API (DitOptions / WanModel.configure) in this build")
        try:
            return self.dit_steps("levers off", (max(HISTORY_SIZES),), (self.plan.height, self.plan.width))
        finally:
            self.configure()

    def fp8(self) -> dict[str, Any]:
        """FP8 linears at the bound. The conversion cannot be undone, so this is the last stage to use the DiT."""
        needs("torchao")
        try:
            if not self.configure(fp8=True):
                raise MissingPackage("the DiT options API (DitOptions.fp8) in this build")
        except ValueError as exc:  # no torchao kernels or no suitable GPU
            return {"status": "skipped", "reason": f"skipped: {exc}"[:300]}
        return self.dit_steps("fp8", (max(HISTORY_SIZES),), (self.plan.height, self.plan.width))

    # VAE and tiny decoder ---------------------------------------------------------------------

    def _random_vae(self, args: Any, dtype: Any, device: str | None = None) -> Any:
        """A VAE of these sizes with plausible random weights (made once per size), on ``device`` (the plan's)."""
        torch = self.torch
        from yume_bridge.model.testing import random_state
        from yume_bridge.model.vae import YumeVAE, build_vae, convert_wan_vae_state_dict, wan_vae_shapes

        if args not in self._vae_states:
            shapes = wan_vae_shapes(args)
            self._vae_states[args] = convert_wan_vae_state_dict(random_state(shapes, seed=1, device=self.plan.device))
        with torch.device("meta"):
            model = build_vae(args)
        model.load_state_dict({k: v.to(device=device or self.plan.device, dtype=dtype)
                               for k, v in self._vae_states[args].items()}, assign=True)
        return YumeVAE(model.eval().requires_grad_(False))

    def _decode_per_latent(self, decoder: Any) -> tuple[list[float], Any]:
        torch = self.torch
        pieces, times = [], []
        with torch.inference_mode():
            while decoder.remaining:
                _sync(self.plan.device)
                began = time.perf_counter()
                pieces.append(decoder.decode_next())
                _sync(self.plan.device)
                times.append(time.perf_counter() - began)
        return times, torch.cat([p.float().cpu() for p in pieces], dim=2)

    def vae_decode(self) -> dict[str, Any]:
        """One chunk (8 latents) decoded latent by latent: full VAE fp32, bf16, bf16 channels-last, tiny."""
        needs("diffusers")
        torch = self.torch
        from yume_bridge.model.taehv import TinyDecoder, TinyStreamingDecoder
        from yume_bridge.model.vae import StreamingDecoder, use_channels_last

        device = self.plan.device
        if device.startswith("cuda"):
            torch.backends.cudnn.benchmark = True
        scale = self.args.pixels_per_latent
        latents = torch.randn(1, 48, self.plan.decode_latents, self.plan.height // scale,
                              self.plan.width // scale, generator=torch.Generator().manual_seed(2)).to(device)
        results: dict[str, Any] = {"resolution": f"{self.plan.height}x{self.plan.width}"}
        reference = None
        variants = (("full_fp32", torch.float32, False), ("full_bf16", torch.bfloat16, False),
                    ("full_bf16_channels_last", torch.bfloat16, True))
        for label, dtype, channels_last in variants:
            if self.rec.remaining() < 20:
                results[label] = "skipped: time budget"
                continue
            if channels_last and not device.startswith("cuda"):
                results[label] = "skipped: a CUDA lever"
                continue
            vae = self._random_vae(self.args.vae, dtype)
            if channels_last:
                use_channels_last(vae)
            self._decode_per_latent(StreamingDecoder(vae, latents[:, :, :2]))  # warm-up (cuDNN algorithm search)
            reset_peak(device)
            times, frames = self._decode_per_latent(StreamingDecoder(vae, latents))
            row = {"latent_ms": _ms(times), "chunk_ms": round(sum(times) * 1e3, 1),
                   "peak_memory_gb": peak_memory_gb(device)}
            if reference is None:
                reference = frames
            else:
                row["relative_error_vs_fp32"] = _relative_error(frames, reference)
            results[label] = row
            del vae
            _free_memory()
        with torch.device(device), default_dtype(torch.bfloat16 if device.startswith("cuda") else torch.float32):
            tiny = TinyDecoder().eval().requires_grad_(False)
        self._decode_per_latent(TinyStreamingDecoder(tiny, latents[:, :, :2]))
        times, _ = self._decode_per_latent(TinyStreamingDecoder(tiny, latents))
        results["tiny"] = {"latent_ms": _ms(times), "chunk_ms": round(sum(times) * 1e3, 1), "dtype": str(tiny.dtype)}
        return results

    def vae_bf16_error_tiny_model(self) -> dict[str, Any]:
        """bf16 against fp32 decode with the tiny model's VAE (plausible random weights) at 64×128."""
        needs("diffusers")
        torch = self.torch
        from yume_bridge.model.args import YumeArgs
        from yume_bridge.model.vae import StreamingDecoder

        args = YumeArgs.preset("tiny").vae
        latents = torch.randn(1, 48, self.plan.decode_latents, 4, 8,
                              generator=torch.Generator().manual_seed(3)).to(self.plan.device)
        decoded = {}
        for dtype in (torch.float32, torch.bfloat16):
            _, decoded[dtype] = self._decode_per_latent(StreamingDecoder(self._random_vae(args, dtype), latents))
        error = _relative_error(decoded[torch.bfloat16], decoded[torch.float32])
        worst = (decoded[torch.bfloat16] - decoded[torch.float32]).abs().max().item()
        print(f"VAE bf16 vs fp32 on the tiny model: relative error {error:.2e}, worst pixel {worst * 127.5:.2f}/255")
        return {"relative_error": error, "max_abs_error_in_255_levels": round(worst * 127.5, 3)}

    # chunk loop -------------------------------------------------------------------------------

    def _models(self, decoder: str, vae_device: str | None = None) -> Any:
        """The DiT on the plan's device; the VAE (or tiny decoder) there too, or on ``vae_device``."""
        torch = self.torch
        from yume_bridge.model.loader import YumeModels
        from yume_bridge.model.taehv import TinyDecoder

        vae_device = vae_device or self.plan.device
        vae_dtype = torch.bfloat16 if vae_device.startswith("cuda") else torch.float32
        vae = self._random_vae(self.args.vae, vae_dtype, vae_device)
        tiny = None
        if decoder == "tiny":
            with torch.device(vae_device), default_dtype(vae_dtype):
                tiny = TinyDecoder().eval().requires_grad_(False)
        return YumeModels(self.args, self.dit, vae, None, torch.device(self.plan.device), tiny_decoder=tiny)

    def _session(self, models: Any, history: int, *, profile: bool = True) -> Any:
        """``profile`` synchronises the device at stage boundaries (per-stage times; no overlap)."""
        torch = self.torch
        from yume_bridge.model.pipeline import Session

        session = Session(models, height=self.plan.height, width=self.plan.width, seed=0, profile=profile)
        _, h, w = session.latent_shape
        session.history = torch.randn(1, 48, history, h, w, device=self.plan.device, dtype=self.dtype)
        return session

    def _states(self) -> Any:
        return self.torch.randn(100, self.dit_args.text_dim, device=self.plan.device, dtype=self.dtype)

    def chunk_loop(self, decoder: str, chunks: int, bound_chunks: int) -> dict[str, Any]:
        """Chunks 0…n−1 from an image start's 5 latents, then a jump to chunk 60 and to the history bound."""
        needs("diffusers")
        device = self.plan.device
        session = self._session(self._models(decoder), 5)
        states = self._states()
        rows: list[dict[str, Any]] = []

        def run(label: str | int) -> None:
            reset_peak(device)
            frames = list(session.generate_chunk(states))
            profile = session.last_profile
            jpeg_ms = _jpeg_ms(frames[:4]) if label in (0, "bound+0") else None
            if self.frames_for_jpeg is None:
                self.frames_for_jpeg = frames
            row = {"chunk": label, "history_latents": profile.history_latents, "tokens": profile.sequence_tokens,
                   "prepare_ms": round(profile.prepare_s * 1e3, 2), "step_ms": _ms(profile.step_s),
                   "decode_latent_ms": _ms(profile.decode_s), "first_frame_ms": round(profile.first_frame_s * 1e3, 1),
                   "chunk_ms": round(profile.total_s * 1e3, 1), "fps": round(len(frames) / profile.total_s, 2),
                   "peak_memory_gb": peak_memory_gb(device), "jpeg_ms_per_frame": jpeg_ms}
            rows.append(row)
            self.rec.write({"stage": f"chunk_loop_{decoder}.chunk", "status": "ok", "decoder": decoder, **row})

        for index in range(chunks):
            if self.rec.remaining() < 15:
                break
            run(index)
        _, h, w = session.latent_shape
        for label, history in (("chunk60", 485), *((f"bound+{i}", 1016) for i in range(bound_chunks))):
            if self.rec.remaining() < 15:
                break
            if label in ("chunk60", "bound+0"):
                session.history = self.torch.randn(1, 48, history, h, w, device=device, dtype=self.dtype)
            run(label)
        by_label = {row["chunk"]: row for row in rows}
        summary: dict[str, Any] = {"decoder": decoder, "chunks": len(rows)}
        if 10 in by_label and "chunk60" in by_label:
            summary["chunk60_over_chunk10"] = round(by_label["chunk60"]["chunk_ms"] / by_label[10]["chunk_ms"], 3)
        bound = [row for row in rows if str(row["chunk"]).startswith("bound")]
        if len(bound) >= 2:
            summary["bound_last_over_first"] = round(bound[-1]["chunk_ms"] / bound[0]["chunk_ms"], 3)
            summary["bound_fps"] = bound[-1]["fps"]
            summary["bound_first_frame_ms"] = bound[-1]["first_frame_ms"]
            summary["bound_peak_memory_gb"] = [row["peak_memory_gb"] for row in bound]
        return summary

    def overlapped_loop(self, decoder: str, vae_device: str | None = None) -> dict[str, Any]:
        """Chunks at the bound with chunk k's decode beside chunk k+1's DiT (a second thread and CUDA stream),
        the decoder on the DiT's device or on ``vae_device`` (``--vae-device``)."""
        needs("diffusers")
        from yume_bridge.model.overlap import overlapped_frames

        session = self._session(self._models(decoder, vae_device), 1016, profile=False)
        states = self._states()
        chunks = self.plan.bound_chunks
        _sync(self.plan.device)
        began = time.perf_counter()
        arrivals = [frame.ready_at - began for frame in overlapped_frames(session, [states] * chunks)]
        total = arrivals[-1]
        return {"decoder": decoder, "vae_device": vae_device or self.plan.device, "chunks": chunks,
                "frames": len(arrivals), "seconds": round(total, 3),
                "fps": round(len(arrivals) / total, 2), "first_frame_ms": round(arrivals[0] * 1e3, 1),
                "steady_fps": round((len(arrivals) - FRAMES_PER_CHUNK) / (total - arrivals[FRAMES_PER_CHUNK - 1]), 2)}

    # the rest ---------------------------------------------------------------------------------

    def jpeg(self) -> dict[str, Any]:
        """q85 JPEG of a smooth synthetic picture (closer to real frames) and of this run's random-weight frames."""
        import numpy as np

        y, x = np.mgrid[0 : self.plan.height, 0 : self.plan.width]
        picture = np.stack([(x * 255 // self.plan.width), (y * 255 // self.plan.height), (x + y) % 256], -1)
        results: dict[str, Any] = {"resolution": f"{self.plan.height}x{self.plan.width}", "quality": 85,
                                   "picture": _jpeg_all([np.ascontiguousarray(picture.astype(np.uint8))] * 8)}
        if self.frames_for_jpeg is not None:  # noise-like frames from random weights: a worst case for JPEG
            results["random_weight_frames"] = _jpeg_all(self.frames_for_jpeg)
        return results

    def text_encoder(self) -> dict[str, Any]:
        needs("transformers")
        torch = self.torch
        from yume_bridge.model.text import build_text_encoder

        args = self.args.text
        with torch.device(self.plan.device), default_dtype(self.dtype):
            model = build_text_encoder(args).eval().requires_grad_(False)
        results = {"tokens_per_caption": 128}
        for batch in (1, 16):
            ids = torch.randint(0, args.vocab_size, (batch, 128), device=self.plan.device)
            mask = torch.ones_like(ids)
            with torch.inference_mode():
                times = timed(self.plan.device, lambda: model(input_ids=ids, attention_mask=mask),  # noqa: B023
                              repeats=self.plan.repeats)
            results[f"batch_{batch}_ms"] = _ms(times)
        return results

    def profile_split(self) -> dict[str, Any]:
        """Where one DiT step at the bound and one later latent's VAE decode spend device time."""
        torch = self.torch
        from torch.profiler import ProfilerActivity, profile

        context, past, noise, latent_shape = self.step_inputs(max(HISTORY_SIZES), (self.plan.height, self.plan.width))
        timestep = torch.full((1,), 875.0, device=self.plan.device)
        cuda = self.plan.device.startswith("cuda")
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with torch.inference_mode():
            inputs = self.dit.prepare(context, latent_shape, past)
            self.dit(noise, timestep, inputs)
            _sync(self.plan.device)
            with profile(activities=activities) as prof:
                self.dit(noise, timestep, inputs)
                _sync(self.plan.device)
        result: dict[str, Any] = {"dit_step": _kernel_split(prof, cuda)}
        del context, past, noise, inputs
        if importlib.util.find_spec("diffusers") is None:
            result["vae_latent"] = "skipped: needs diffusers"
            return result
        from yume_bridge.model.vae import StreamingDecoder

        scale = self.args.pixels_per_latent
        latents = torch.randn(1, 48, 2, self.plan.height // scale, self.plan.width // scale, device=self.plan.device)
        vae = self._random_vae(self.args.vae, torch.bfloat16 if cuda else torch.float32)
        with torch.inference_mode():
            decoder = StreamingDecoder(vae, latents)
            decoder.decode_next()  # latent 0 (1 frame); the profiled one is a later latent (4 frames)
            _sync(self.plan.device)
            with profile(activities=activities) as prof:
                decoder.decode_next()
                _sync(self.plan.device)
        result["vae_later_latent"] = _kernel_split(prof, cuda)
        return result


def _relative_error(value: Any, reference: Any) -> float:
    return round(float((value - reference).norm() / reference.norm().clamp_min(1e-12)), 6)


def _jpeg_encoders() -> dict[str, Callable[[Any], bytes]]:
    import io

    encoders: dict[str, Callable[[Any], bytes]] = {}
    if importlib.util.find_spec("simplejpeg") is not None:
        from yume_bridge.daemon.frames import encode_jpeg

        encoders["simplejpeg"] = lambda frame: encode_jpeg(frame, 85)
    if importlib.util.find_spec("PIL") is not None:
        from PIL import Image

        def pillow(frame: Any) -> bytes:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=85)
            return buffer.getvalue()

        encoders["pillow"] = pillow
    return encoders


def _jpeg_all(frames: list[Any]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, encode in _jpeg_encoders().items():
        began = time.perf_counter()
        sizes = [len(encode(frame)) for frame in frames]
        results[name] = {"ms_per_frame": round((time.perf_counter() - began) / len(frames) * 1e3, 3),
                         "kb_per_frame": round(sum(sizes) / len(sizes) / 1024, 1)}
    if "simplejpeg" not in results:
        results["simplejpeg"] = "skipped: needs simplejpeg (the daemon's encoder)"
    return results


def _jpeg_ms(frames: list[Any]) -> float | None:
    encoders = _jpeg_encoders()
    if not encoders:
        return None
    encode = next(iter(encoders.values()))
    began = time.perf_counter()
    for frame in frames:
        encode(frame)
    return round((time.perf_counter() - began) / len(frames) * 1e3, 3)


def _category(name: str) -> str:
    lowered = name.lower()
    if any(key in lowered for key in ("flash", "fmha", "attention", "sdpa", "softmax")):
        return "attention"
    if any(key in lowered for key in ("gemm", "cutlass", "nvjet", "xmma", "matmul", "aten::mm", "aten::addmm",
                                      "aten::bmm", "aten::linear", "cublas")):
        return "gemm"
    if "conv" in lowered:
        return "convolution"
    return "element-wise and other"


def _kernel_split(prof: Any, cuda: bool) -> dict[str, Any]:
    rows = []
    for event in prof.key_averages():
        if cuda:
            seconds = getattr(event, "self_device_time_total", getattr(event, "self_cuda_time_total", 0)) / 1e6
            if getattr(event, "device_type", None) is not None and "CUDA" not in str(event.device_type):
                continue
        else:
            seconds = event.self_cpu_time_total / 1e6
            if not event.key.startswith("aten::"):
                continue
        if seconds > 0:
            rows.append((event.key, seconds))
    total = sum(seconds for _, seconds in rows) or 1.0
    shares: dict[str, float] = {}
    for name, seconds in rows:
        shares[_category(name)] = shares.get(_category(name), 0.0) + seconds
    top = sorted(rows, key=lambda row: -row[1])[:12]
    return {"total_ms": round(total * 1e3, 2), "share": {k: round(v / total, 3) for k, v in shares.items()},
            "top": [{"name": name[:120], "ms": round(seconds * 1e3, 3)} for name, seconds in top]}


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        stamp = REPO / "COMMIT"
        return stamp.read_text("utf-8").strip() if stamp.is_file() else "unknown"


def make_plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        # The same stages, cut to what a 2-core machine does in about a minute (chunks 0–2, 3 latents).
        return Plan(smoke=True, device="cpu", preset="tiny", height=64, width=128, big=(96, 160),
                    dtype_name="float32", repeats=1, loop_chunks=3, bound_chunks=2, decode_latents=3,
                    devices=args.devices)
    return Plan(smoke=False, device=args.device, preset="yume-5b", height=544, width=960, big=(704, 1280),
                dtype_name="bfloat16", repeats=3, loop_chunks=12, bound_chunks=3, decode_latents=8,
                devices=args.devices)


def run(plan: Plan, recorder: Recorder) -> None:
    bench = Bench(plan, recorder)
    cpu = not plan.device.startswith("cuda")
    if cpu:
        bench.torch.set_num_threads(1)  # tiny ops: intra-op threads only spin on shared cores
    size = (plan.height, plan.width)
    stage = recorder.stage
    stage("environment", bench.environment, needs_s=0)
    if stage("dit_build", bench.build_dit, needs_s=5 if cpu else 40) is None:
        return
    bench.configure()  # the build's default options, where it has them
    stage("dit_eager", lambda: bench.dit_steps("eager", HISTORY_SIZES, size), needs_s=5 if cpu else 40)
    stage("dit_levers_off", bench.levers_off, needs_s=3 if cpu else 15)
    stage("attention_isolated", bench.attention_isolated, needs_s=3 if cpu else 15)
    stage("vae_bf16_error_tiny_model", bench.vae_bf16_error_tiny_model, needs_s=3)
    stage("vae_decode", bench.vae_decode, needs_s=5 if cpu else 60)
    stage("chunk_loop_full", lambda: bench.chunk_loop("full", plan.loop_chunks, plan.bound_chunks),
          needs_s=10 if cpu else 60)
    stage("chunk_loop_tiny", lambda: bench.chunk_loop("tiny", 2, plan.bound_chunks), needs_s=5 if cpu else 25)
    stage("overlapped_loop_full", lambda: bench.overlapped_loop("full"), needs_s=5 if cpu else 25)
    stage("overlapped_loop_tiny", lambda: bench.overlapped_loop("tiny"), needs_s=5 if cpu else 20)
    stage("jpeg", bench.jpeg, needs_s=2)
    stage("profile_split", bench.profile_split, needs_s=3 if cpu else 15)
    stage("text_encoder", bench.text_encoder, needs_s=3 if cpu else 30)
    stage("dit_eager_704x1280", lambda: bench.dit_steps("eager", (max(HISTORY_SIZES),), plan.big),
          needs_s=3 if cpu else 20)
    if cpu:
        recorder.write({"stage": "dit_compiled", "status": "skipped",
                        "reason": "skipped: smoke mode (CPU compilation takes minutes; compiled = eager is a test)"})
    else:
        stage("dit_compiled", lambda: bench.dit_compiled(HISTORY_SIZES, size), needs_s=120)
        stage("dit_compiled_704x1280", lambda: bench.dit_compiled((max(HISTORY_SIZES),), plan.big), needs_s=40)
    stage("attention_in_step", bench.attention_in_step, needs_s=5 if cpu else 40)
    stage("fp8", bench.fp8, needs_s=5 if cpu else 40)
    if plan.devices > 1:
        # On the CPU (smoke) the "second device" is the CPU again: the code path, not the speed.
        second = "cpu" if cpu else f"cuda:{(bench.torch.device(plan.device).index or 0) + 1}"
        if cpu or bench.torch.cuda.device_count() >= 2:
            stage("overlapped_loop_vae_apart", lambda: bench.overlapped_loop("full", vae_device=second),
                  needs_s=5 if cpu else 25)
        else:
            recorder.write({"stage": "overlapped_loop_vae_apart", "status": "skipped",
                            "reason": "skipped: needs two or more CUDA devices"})
        if cpu or bench.torch.cuda.device_count() < 2:
            recorder.write({"stage": "dit_sequence_parallel", "status": "skipped",
                            "reason": "skipped: needs two or more CUDA devices"})
        else:
            stage("dit_sequence_parallel", lambda: sequence_parallel_steps(plan, bench.torch.cuda.device_count()),
                  needs_s=90)
    recorder.write({"stage": "done", "status": "ok", "remaining_budget_s": round(recorder.remaining(), 1)})


def sequence_parallel_steps(plan: Plan, available: int) -> dict[str, Any]:
    """Step time at the history bound with the DiT split over 2, 4, 8 GPUs (each a divisor of the 24 heads)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from sequence_parallel_step import measure

    ranks = [n for n in (2, 4, 8) if n <= min(plan.devices, available)]
    return {"resolution": f"{plan.height}x{plan.width}",
            "runs": [measure(n, max(HISTORY_SIZES), (plan.height, plan.width), plan.repeats) for n in ranks]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for results.jsonl (appended to)")
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU: the same stages in < 2 min")
    parser.add_argument("--device", default="cuda", help="CUDA device for the full run (default cuda)")
    parser.add_argument("--devices", type=int, default=1,
                        help="GPUs to use: above 1, the VAE decoding on the second beside the DiT on the first, "
                        "and the DiT step split over 2, 4, 8 of them")
    parser.add_argument("--budget-s", type=float, help="time budget for all stages (default 420 s, smoke 110 s)")
    args = parser.parse_args(argv)
    if args.devices < 1:
        parser.error("--devices must be >= 1")
    plan = make_plan(args)
    if not plan.smoke:
        import torch

        if not torch.cuda.is_available():
            parser.error("no CUDA device: run with --smoke for the CPU check")
    recorder = Recorder(args.out, args.budget_s or (110.0 if plan.smoke else 420.0))
    try:
        run(plan, recorder)
    except Exception as exc:  # noqa: BLE001 - record, then fail the process
        recorder.write({"stage": "run", "status": "error", "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()[-3000:]})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

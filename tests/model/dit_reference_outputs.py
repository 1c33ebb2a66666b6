"""Frozen outputs of the DiT as first written, so that every later speed change can be checked against them.

``reference_model()`` fills the tiny DiT from a seeded generator (not from
``nn.Module`` initialisers, whose draws may change between torch versions) and
``reference_cases()`` covers every TSCM branch: the plain path and history
lengths in each row of the compression schedule, including the N ≤ 2
duplicate-frame edge cases and the 128x rate. The latent is 6×10 so that
every coarse rate pads. Running this file rewrites the fixture; it was run
once, on the DiT before any speed change, and must not be rerun to make a
failing comparison pass.
"""

from __future__ import annotations

from pathlib import Path

import torch

from yume_bridge.model.args import YumeArgs
from yume_bridge.model.dit import WanModel

FIXTURE = Path(__file__).parent / "fixtures" / "dit_reference_outputs.safetensors"
ARGS = YumeArgs.preset("tiny").dit
LATENT_SHAPE = (2, 6, 10)
"""Predicted (frames, height, width): two frames keep the fixture small; 6×10 pads at every coarse rate."""
HISTORY_LENGTHS = (0, 1, 2, 5, 13, 30, 100, 350)
"""0 = the plain path; then each branch of the schedule (§2.3), 350 reaching the 128x rate."""
TIMESTEP = 875.0


def reference_model() -> WanModel:
    """The tiny DiT in fp32 with every parameter drawn from one seeded generator, in name order."""
    model = WanModel(ARGS).eval().requires_grad_(False)
    generator = torch.Generator().manual_seed(1234)
    for name, param in sorted(model.named_parameters()):
        fan_in = param[0].numel() if param.dim() > 1 else param.numel()
        scale = 0.05 if name.endswith("bias") or "modulation" in name else fan_in**-0.5
        values = torch.randn(param.shape, generator=generator, dtype=torch.float32) * scale
        if name.endswith(("norm_q.weight", "norm_k.weight", "norm3.weight")):
            values = 1.0 + values
        param.copy_(values)
    return model


def reference_inputs(history: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(text states [1, text_len, text_dim], history latents or None, noisy latents) for one case."""
    generator = torch.Generator().manual_seed(100 + history)
    text = torch.randn(1, ARGS.text_len, ARGS.text_dim, generator=generator)
    frames, height, width = LATENT_SHAPE
    clean = torch.randn(1, ARGS.in_dim, history, height, width, generator=generator) if history else None
    noisy = torch.randn(1, ARGS.in_dim, frames, height, width, generator=generator)
    return text, clean, noisy


@torch.inference_mode()
def reference_output(model: WanModel, history: int) -> torch.Tensor:
    text, clean, noisy = reference_inputs(history)
    inputs = model.prepare(text, LATENT_SHAPE, clean)
    return model(noisy, torch.tensor([TIMESTEP]), inputs)


def write_fixture() -> None:
    from safetensors.torch import save_file

    model = reference_model()
    outputs = {f"history_{n}": reference_output(model, n).contiguous() for n in HISTORY_LENGTHS}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    save_file(outputs, str(FIXTURE), metadata={"latent_shape": "x".join(map(str, LATENT_SHAPE))})


if __name__ == "__main__":
    write_fixture()

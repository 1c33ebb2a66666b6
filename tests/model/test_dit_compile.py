"""Compiled blocks give the eager outputs and do not recompile when the history (the sequence) grows."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.model.dit_reference_outputs import ARGS, LATENT_SHAPE, TIMESTEP, reference_inputs
from yume_bridge.model.dit import DitOptions, WanModel

torch_dynamo = pytest.importorskip("torch._dynamo")


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@torch.inference_mode()
def outputs(model: WanModel, histories: tuple[int, ...]) -> list[torch.Tensor]:
    results = []
    for history in histories:
        text, clean, noisy = reference_inputs(history)
        inputs = model.prepare(text, LATENT_SHAPE, clean)
        results.append(model(noisy, torch.tensor([TIMESTEP]), inputs))
    return results


def compiled_against_eager(backend: str, histories: tuple[int, ...]) -> tuple[list[float], list[int]]:
    """Relative errors per history length, and the graphs compiled so far after each length.

    Five blocks: were each block its own graph, the 30 of the real model would pass dynamo's
    recompile limit and silently fall back to eager.
    """
    torch.manual_seed(0)
    model = WanModel(replace(ARGS, num_layers=5)).eval()
    eager = outputs(model, histories)
    torch_dynamo.reset()
    torch_dynamo.utils.counters.clear()
    model.configure(DitOptions(compile=True, compile_backend=backend))
    compiled, graphs = [], []
    try:
        for history in histories:
            compiled += outputs(model, (history,))
            graphs.append(torch_dynamo.utils.counters["stats"]["unique_graphs"])
    finally:
        model.configure(DitOptions())
        torch_dynamo.reset()
    return [relative_error(c, e) for c, e in zip(compiled, eager, strict=True)], graphs


def test_compiled_blocks_are_traced_once_for_every_block_and_every_history_length():
    # The "eager" backend runs dynamo's tracing, guards and recompilation logic without generating code.
    errors, graphs = compiled_against_eager("eager", (5, 13, 100))
    assert max(errors) <= 1e-5
    # Two graphs at the first chunk (all blocks; the last one, which drops the history), none after.
    assert graphs == [2, 2, 2]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_generated_kernels_equal_eager_in_fp32_without_recompiling_per_chunk(backend):
    errors, graphs = compiled_against_eager(backend, (5, 13, 100))
    assert max(errors) <= 1e-5
    assert graphs == [2, 2, 2]

"""The one-shot device benchmark in its --smoke mode: every stage leaves a JSON line, measured stages carry numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_oneshot.py"
STAGES_WITH_NUMBERS = {
    "dit_eager", "attention_isolated", "vae_bf16_error_tiny_model", "vae_decode", "chunk_loop_full",
    "chunk_loop_tiny", "overlapped_loop_full", "overlapped_loop_tiny", "jpeg", "profile_split", "text_encoder",
    "dit_eager_704x1280", "overlapped_loop_vae_apart",
}
ALWAYS_PRESENT = {"environment", "dit_build", "dit_levers_off", "dit_compiled", "attention_in_step", "fp8",
                  "done"} | STAGES_WITH_NUMBERS


def _numbers(value: object) -> list[float]:
    match value:
        case bool():
            return []
        case int() | float():
            return [float(value)]
        case dict():
            return [n for item in value.values() for n in _numbers(item)]
        case list():
            return [n for item in value for n in _numbers(item)]
    return []


@pytest.mark.slow
def test_the_smoke_run_writes_a_json_line_for_every_stage_with_measured_numbers(tmp_path):
    # A generous budget: the machine running the suite may be shared; timings are not asserted.
    result = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path), "--budget-s", "1500",
                             "--devices", "2"], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    check_smoke_results(tmp_path / "results.jsonl")


def check_smoke_results(path: Path) -> None:
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    stages = {line["stage"]: line for line in lines}
    assert ALWAYS_PRESENT <= set(stages)
    assert [line["stage"] for line in lines][-1] == "done"
    errors = {name: line.get("error") for name, line in stages.items() if line["status"] == "error"}
    assert not errors
    for name in STAGES_WITH_NUMBERS:
        assert stages[name]["status"] == "ok", stages[name]
        assert all(n >= 0 for n in _numbers(stages[name])) and _numbers(stages[name]), name
    assert stages["environment"]["packages"]["torch"] and stages["environment"]["devices_requested"] == 2
    assert stages["overlapped_loop_vae_apart"]["vae_device"] == "cpu"  # --devices 2 on a CPU: the code path
    assert stages["dit_sequence_parallel"]["status"] == "skipped"  # no CUDA devices here
    steps = stages["dit_eager"]["steps"]
    assert [row["history_latents"] for row in steps] == [5, 85, 485, 1016]
    assert all(row["flop_per_step"] > 0 and row["step_ms"] for row in steps)
    assert steps[-1]["tokens"] > steps[0]["tokens"]  # the schedule's history tokens grow to the bound
    assert 0 < stages["vae_bf16_error_tiny_model"]["relative_error"] < 0.5
    chunks = [line for line in lines if line["stage"] == "chunk_loop_full.chunk"]
    assert [c["chunk"] for c in chunks][:3] == [0, 1, 2] and chunks[-1]["history_latents"] == 1016
    assert all(c["fps"] > 0 and len(c["decode_latent_ms"]) == 8 for c in chunks)
    assert stages["overlapped_loop_full"]["frames"] == 29 * stages["overlapped_loop_full"]["chunks"]

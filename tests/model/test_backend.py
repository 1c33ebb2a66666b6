"""The Yume backend on the tiny fixture: chunks, starts, seeds, captions, long sessions, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.model.conftest import config
from yume_bridge.actions import Action, CaptionTemplates, Look, Movement
from yume_bridge.backends.base import BackendError, ChunkRequest, StartRequest
from yume_bridge.backends.yume import YumeBackend, YumeBackendConfig
from yume_bridge.model.tscm import history_token_count

TEMPLATES = CaptionTemplates.load("camera")
SCENE = ("A medieval castle on a hill at sunset.",)


def request(index: int, action: Action | None = None) -> ChunkRequest:
    action = action or Action()
    return ChunkRequest(index=index, action=action, events=SCENE, caption=TEMPLATES.caption(action, SCENE))


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(90, 160, 3), dtype=np.uint8)


def chunks(world, count: int, action: Action | None = None) -> list[list[np.ndarray]]:
    return [list(world.generate_chunk(request(i, action))) for i in range(count)]


def test_an_image_start_gives_chunks_of_29_rgb_frames_at_the_output_size(backend):
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=1))
    for frames in chunks(world, 2):
        assert len(frames) == 29
        assert all(f.shape == (64, 128, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    assert world.session.num_history_latents == 5 + 16
    world.close()


def test_a_text_start_gives_chunks_of_29_frames_and_starts_history_from_the_first_chunk(backend):
    world = backend.open_world(StartRequest(image=None, prompt=SCENE[0], seed=1))
    first, second = chunks(world, 2)
    assert len(first) == len(second) == 29
    assert first[0].shape == (64, 128, 3)
    assert world.session.num_history_latents == 16
    world.close()


def test_the_same_seed_gives_the_same_frames_and_another_seed_different_frames(backend):
    def run(seed: int) -> np.ndarray:
        world = backend.open_world(StartRequest(image=picture(), prompt="", seed=seed))
        frames = np.stack([f for chunk in chunks(world, 2) for f in chunk])
        world.close()
        return frames

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


def test_the_caption_changes_the_frames(backend):
    def run(action: Action) -> np.ndarray:
        world = backend.open_world(StartRequest(image=picture(), prompt="", seed=3))
        frames = np.stack(chunks(world, 1, action)[0])
        world.close()
        return frames

    assert not np.array_equal(run(Action(Movement.W)), run(Action(look=Look.LEFT)))


def test_prepared_captions_are_ready_before_the_chunk_asks_for_them(backend):
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=2))
    events = ("A rainy neon city street at night.",)
    captions = TEMPLATES.captions_for_events(events)
    world.prepare(list(captions.values()))
    assert backend.texts.wait_idle(timeout=30)
    before = backend.texts.encoded_captions
    action = Action(Movement.W_D, Look.UP_RIGHT)
    frames = list(world.generate_chunk(ChunkRequest(0, action, events, captions[action])))
    assert len(frames) == 29
    assert backend.texts.encoded_captions == before
    world.close()


def test_a_long_session_keeps_history_tokens_and_rope_positions_bounded(tiny_folder):
    backend = YumeBackend(config(tiny_folder, resolution="32x64", steps=2, max_history_latents=24))
    backend.load(lambda stage, fraction: None)
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=5))
    profiles = []
    for index in range(22):
        assert len(list(world.generate_chunk(request(index)))) == 29
        profiles.append(world.session.last_profile)
    assert world.session.num_history_latents == 24
    assert max(p.history_latents for p in profiles) == 24
    assert max(p.rope_frames for p in profiles) == 24 + 8
    bounded = [p for p in profiles if p.history_latents == 24]
    assert len(bounded) >= 18
    assert {p.sequence_tokens for p in bounded} == {history_token_count(24, 2, 4) + 8 * 1 * 2}
    world.close()
    backend.close()


def test_a_text_start_at_544x960_is_refused_with_a_reason(tiny_folder):
    backend = YumeBackend(config(tiny_folder, resolution="544x960", allow_any_resolution=False))
    backend.load(lambda stage, fraction: None)
    with pytest.raises(BackendError, match="text start needs 704x1280"):
        backend.open_world(StartRequest(image=None, prompt="a castle", seed=0))
    backend.close()


def test_a_text_start_without_a_prompt_is_refused(backend):
    with pytest.raises(BackendError, match="needs a prompt"):
        backend.open_world(StartRequest(image=None, prompt="  ", seed=0))


def test_a_start_image_that_is_not_uint8_rgb_is_refused(backend):
    with pytest.raises(BackendError, match="uint8"):
        backend.open_world(StartRequest(image=np.zeros((8, 8, 3), np.float32), prompt="", seed=0))
    with pytest.raises(BackendError, match="RGB"):
        backend.open_world(StartRequest(image=np.zeros((8, 8, 5), np.uint8), prompt="", seed=0))


def test_a_bad_weights_folder_fails_load_with_the_problems_not_a_traceback(folder_copy):
    (folder_copy / "diffusion_pytorch_model.safetensors").unlink()
    backend = YumeBackend(config(folder_copy))
    with pytest.raises(BackendError) as info:
        backend.load(lambda stage, fraction: None)
    assert "diffusion_pytorch_model.safetensors is missing" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_unsupported_resolution_is_a_config_error(tiny_folder):
    with pytest.raises(ValueError, match="544x960"):
        YumeBackendConfig(weights=tiny_folder, resolution="480x832")


def test_the_spec_reports_29_frames_per_chunk_at_16_fps(backend):
    assert backend.spec.frames_per_chunk == 29
    assert backend.spec.fps == 16.0
    assert (backend.spec.width, backend.spec.height) == (128, 64)


class _CountingWorld:
    def __init__(self, world) -> None:
        self.world, self.frames, self.closed = world, 0, False

    def generate_chunk(self, chunk_request):
        for frame in self.world.generate_chunk(chunk_request):
            self.frames += 1
            yield frame

    def close(self) -> None:
        self.closed = True
        self.world.close()


def test_warm_up_runs_one_chunk(backend, monkeypatch):
    opened: list[_CountingWorld] = []
    real_open = backend.open_world
    monkeypatch.setattr(backend, "open_world", lambda start: opened.append(_CountingWorld(real_open(start)))
                        or opened[-1])
    backend.warm_up()
    assert len(opened) == 1 and opened[0].frames == 29 and opened[0].closed


def test_a_closed_world_refuses_to_generate(backend):
    world = backend.open_world(StartRequest(image=picture(), prompt="", seed=0))
    world.close()
    with pytest.raises(BackendError, match="closed"):
        world.generate_chunk(request(0))


def test_the_tiny_decoder_streams_29_frames_per_chunk_from_the_same_latents(tiny_folder, tmp_path):
    from yume_bridge.model.testing import write_tiny_decoder

    tiny = write_tiny_decoder(tmp_path / "taew2_2.safetensors")
    backend = YumeBackend(config(tiny_folder, decoder="tiny", tiny_decoder=tiny))
    backend.load(lambda stage, fraction: None)
    try:
        world = backend.open_world(StartRequest(image=picture(), prompt="", seed=5))
        frames = list(world.generate_chunk(request(0)))
        assert len(frames) == 29 and frames[0].shape == (64, 128, 3) and frames[0].dtype == np.uint8
        assert backend.models.tiny_decoder is not None
        assert not backend.models.vae.has_decoder  # the full decoder's memory is freed; the encoder still works
        world.close()
    finally:
        backend.close()


def test_asking_for_the_tiny_decoder_without_its_file_says_where_to_put_it(tiny_folder):
    backend = YumeBackend(config(tiny_folder, decoder="tiny"))
    with pytest.raises(BackendError, match="taew2_2.safetensors"):
        backend.load(lambda stage, fraction: None)


def test_serving_with_the_tiny_decoder_but_no_file_names_the_file_and_the_flag(tiny_folder, tmp_path):
    from yume_bridge.config import BackendConfig, BridgeConfig, ConfigError
    from yume_bridge.daemon.backend_setup import build_backend
    from yume_bridge.model.testing import write_tiny_decoder

    config = BridgeConfig(backend=BackendConfig(name="yume", weights=tiny_folder, decoder="tiny", device="cpu"))
    with pytest.raises(ConfigError, match=r"taew2_2\.safetensors.*--tiny-decoder PATH"):
        build_backend(config)
    broken = write_tiny_decoder(tmp_path / "taew2_2.pth")
    state = torch.load(broken, weights_only=True)
    del state["decoder.1.bias"]
    torch.save(state, broken)
    config = BridgeConfig(backend=BackendConfig(name="yume", weights=tiny_folder, decoder="tiny", device="cpu",
                                                tiny_decoder=broken))
    with pytest.raises(ConfigError, match=r"missing tensor decoder\.1\.bias"):
        build_backend(config)


def test_the_vae_on_a_device_of_its_own_decodes_the_same_frames(tiny_folder, backend):
    # On this CPU-only machine the VAE's device is the DiT's: this checks the plumbing, not a second GPU.
    apart = YumeBackend(config(tiny_folder, vae_device="cpu"))
    apart.load(lambda stage, fraction: None)
    assert apart.load_options().vae_device == "cpu"
    assert {p.device.type for p in apart.models.vae.model.parameters()} == {"cpu"}
    assert apart.models.decode_device == torch.device("cpu")

    def frames(of) -> np.ndarray:
        world = of.open_world(StartRequest(image=picture(), prompt="", seed=4))
        made = np.stack([f for chunk in chunks(world, 2) for f in chunk])
        world.close()
        return made

    np.testing.assert_array_equal(frames(apart), frames(backend))
    apart.close()


@pytest.mark.parametrize(("device", "message"), [
    ("banana", "unknown device 'banana'"),
    ("cuda:64", "--vae-device cuda:64"),
])
def test_a_vae_device_that_is_unknown_or_absent_is_refused_before_loading(tiny_folder, device, message):
    from yume_bridge.config import BackendConfig, BridgeConfig, ConfigError
    from yume_bridge.daemon.backend_setup import build_backend

    config = BridgeConfig(backend=BackendConfig(name="yume", weights=tiny_folder, device="cpu", vae_device=device))
    with pytest.raises(ConfigError, match=message):
        build_backend(config)

"""Pre-emption with the preview world: where cuts fall, exact rollback, and whole sessions over loopback."""

from __future__ import annotations

import numpy as np
import pytest

from yume_bridge.actions import Action, Look, Movement
from yume_bridge.backends.base import (
    ChunkRequest,
    ChunkTiming,
    StartRequest,
    WorldSpec,
    frames_for_latents,
    latent_of_frame,
)
from yume_bridge.backends.preview import PreviewBackend
from yume_bridge.config import BackendConfig, BridgeConfig, NetworkConfig, SimulatedGenerator, StreamConfig
from yume_bridge.daemon.results import ChunkTimes
from yume_bridge.daemon.scheduling import (
    FramesInFlight,
    GenerationEstimate,
    PendingChange,
    PlaybackPosition,
    Shown,
    breakdown,
    plan_cut,
)
from yume_bridge.protocol.wire import FrameFlags
from yume_bridge.tools.client import ClientOptions, parse_script, run_client

FORWARD = Action(Movement.W, Look.NONE)
STRAFE = Action(Movement.D, Look.NONE)
FPS = 16.0


def test_frames_map_to_latents_as_the_vae_decodes_them():
    assert [latent_of_frame(f) for f in range(10)] == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert [frames_for_latents(n) for n in range(5)] == [0, 1, 5, 9, 13]
    assert frames_for_latents(8) == 29


def position(now: float = 10.0, next_send_at: float = 10.0, first_frame_s: float = 0.3) -> PlaybackPosition:
    return PlaybackPosition(now=now, next_send_at=next_send_at, fps=FPS, chunk_frames=29,
                            first_frame_estimate_s=first_frame_s)


def test_a_new_action_cuts_the_chunk_at_the_end_of_the_latent_being_shown():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=0, frames_sent=7)  # frames 0-6
    cut = plan_cut(shown=shown, wanted_action=STRAFE.id, wanted_events=0, newest_taken=(4, FORWARD.id, 0),
                   position=position())
    assert cut is not None and cut.shortens_chunk
    assert (cut.chunk, cut.latents, cut.keep_frames) == (4, 3, 9)  # latent 2 (frames 5-8) is finished first


def test_a_new_event_cuts_the_chunk_even_when_the_action_stays():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=1, frames_sent=3)
    cut = plan_cut(shown=shown, wanted_action=FORWARD.id, wanted_events=2, newest_taken=(4, FORWARD.id, 1),
                   position=position())
    assert cut is not None and (cut.latents, cut.keep_frames) == (2, 5)


def test_nothing_is_cut_while_the_pipeline_already_applies_what_is_wanted():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=1, frames_sent=7)
    assert plan_cut(shown=shown, wanted_action=FORWARD.id, wanted_events=1, newest_taken=(5, FORWARD.id, 1),
                    position=position()) is None


def test_no_cut_when_the_chunk_ends_before_a_new_one_could_show():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=0, frames_sent=27)
    assert plan_cut(shown=shown, wanted_action=STRAFE.id, wanted_events=0, newest_taken=(4, FORWARD.id, 0),
                    position=position(first_frame_s=0.3)) is None


def test_a_chunk_made_ahead_with_the_old_action_is_discarded_whole():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=0, frames_sent=27)
    cut = plan_cut(shown=shown, wanted_action=STRAFE.id, wanted_events=0, newest_taken=(5, FORWARD.id, 0),
                   position=position(first_frame_s=0.05))
    assert cut is not None and not cut.shortens_chunk and cut.keep_frames == 29


def test_a_second_cut_of_the_same_chunk_keeps_no_more_than_the_first():
    shown = Shown(chunk=4, world_chunk=4, action=FORWARD.id, events_version=0, frames_sent=9)
    cut = plan_cut(shown=shown, wanted_action=STRAFE.id, wanted_events=0, newest_taken=(5, STRAFE.id + 1, 0),
                   position=position(), latent_limit=3)
    assert cut is not None and cut.latents == 3 and cut.keep_frames == 9


def test_the_breakdown_splits_a_change_into_stages_that_add_up_to_its_total():
    change = PendingChange(arrived_at=100.0, action=STRAFE.id, events_version=0)
    times = ChunkTimes(asked_at=100.5, started_at=100.6, timing=ChunkTiming(sample_s=0.25, first_decode_s=0.05),
                       encode_s=0.002)
    stages = breakdown(change, times, ready_at=100.902, sent_at=101.0)
    assert (stages.wait_ms, stages.queue_ms, stages.generate_ms, stages.decode_ms, stages.encode_ms) == pytest.approx(
        (500, 100, 250, 50, 2))
    assert stages.pacing_ms == pytest.approx(98) and stages.total_ms == pytest.approx(1000)
    parts = (stages.wait_ms, stages.queue_ms, stages.generate_ms, stages.decode_ms, stages.encode_ms, stages.pacing_ms)
    assert sum(parts) == pytest.approx(stages.total_ms)


def test_a_chunk_asked_for_before_the_change_arrived_counts_no_wait():
    change = PendingChange(arrived_at=100.0, action=STRAFE.id, events_version=0)
    times = ChunkTimes(asked_at=99.9, started_at=100.1, timing=None, encode_s=0.002)
    stages = breakdown(change, times, ready_at=100.4, sent_at=100.4)
    assert stages.wait_ms == 0 and stages.queue_ms == pytest.approx(100)


def test_a_generator_slower_than_playback_is_asked_earlier_than_its_first_frame_needs():
    fast = GenerationEstimate(first_frame_s=0.3, whole_chunk_s=0.9)
    slow = GenerationEstimate(first_frame_s=0.3, whole_chunk_s=3.0)
    assert fast.lead_s(chunk_frames=29, fps=FPS) == pytest.approx(0.3)
    assert slow.lead_s(chunk_frames=29, fps=FPS) == pytest.approx(3.0 - 28 / FPS)
    assert fast.faster_than_playback(chunk_frames=29, fps=FPS) and not slow.faster_than_playback(chunk_frames=29,
                                                                                                 fps=FPS)


def test_the_estimate_follows_the_measured_times():
    estimate = GenerationEstimate(first_frame_s=0.5)
    estimate.add_first_frame(0.3)  # the first measurement replaces the guess
    assert estimate.first_frame_s == pytest.approx(0.3)
    for _ in range(30):
        estimate.add_first_frame(0.8)
    assert estimate.first_frame_s == pytest.approx(0.8, abs=0.01)


def spec() -> WorldSpec:
    return WorldSpec("preview", "preview", "1", 160, 96, FPS, 29)


def request(index: int, action: Action) -> ChunkRequest:
    return ChunkRequest(index=index, action=action, events=(), caption="")


def test_a_rolled_back_preview_world_continues_as_if_the_cut_frames_had_never_been_made():
    backend = PreviewBackend(spec=spec())
    cut = backend.open_world(StartRequest(None, "a harbour", 3))
    list(cut.generate_chunk(request(0, FORWARD)))
    list(cut.generate_chunk(request(1, FORWARD)))
    list(cut.generate_chunk(request(2, FORWARD)))  # made ahead, then discarded
    cut.rollback(chunk=1, latents=3)
    after = list(cut.generate_chunk(request(2, STRAFE)))

    # The reference never made the forgotten frames: it stops reading chunk 1 after its 9th frame.
    reference_world = backend.open_world(StartRequest(None, "a harbour", 3))
    list(reference_world.generate_chunk(request(0, FORWARD)))
    chunk = reference_world.generate_chunk(request(1, FORWARD))
    for _ in range(frames_for_latents(3)):
        next(chunk)
    chunk.close()
    reference = list(reference_world.generate_chunk(request(2, STRAFE)))
    assert all(np.array_equal(a, b) for a, b in zip(after, reference, strict=True))


def test_the_simulated_generator_spaces_latents_as_the_profile_says():
    profile = SimulatedGenerator.for_speed(ttff_s=0.3, speed=1.5, latents_per_chunk=8, fps=FPS)
    assert profile.ttff_s + 7 * profile.latent_s == pytest.approx(29 / FPS / 1.5)
    assert SimulatedGenerator.parse("ttff=0.2,latent=0.05", latents_per_chunk=8, fps=FPS) == SimulatedGenerator(
        0.2, 0.05)


# --- whole sessions ---------------------------------------------------------------------------

def _config(preempt: str) -> BridgeConfig:
    return BridgeConfig(network=NetworkConfig(port=0), stream=StreamConfig(preempt=preempt),
                        backend=BackendConfig(simulate=SimulatedGenerator(0.15, 0.02)))


async def _session(port: int, image: bytes) -> list:
    headers = []
    await run_client(ClientOptions(port=port, image=image, script=parse_script("W:1.3s,D:1.3s,W:1.3s,D:1.3s"),
                                   tail_s=1.0),
                     on_frame=lambda event: headers.append(event.frame.header))
    return headers


@pytest.mark.asyncio
@pytest.mark.parametrize("bridge", [_config("latent")], indirect=True)
async def test_a_key_change_cuts_the_chunk_and_the_next_frame_shows_the_new_action(bridge, start_image):
    headers = await _session(bridge[1], start_image)
    numbers = [h.frame for h in headers]
    assert numbers == sorted(set(numbers))  # never twice, never out of order
    chunks = [h.chunk for h in headers]
    assert chunks == sorted(chunks)
    cuts = [i for i, h in enumerate(headers) if h.flags & FrameFlags.AFTER_CUT]
    assert cuts, "three key changes in mid-chunk cut nothing"
    for index in cuts:
        first, before = headers[index], headers[index - 1]
        assert first.frame_in_chunk == 0 and 1 <= first.cut_latents < 8
        assert first.action != before.action  # the new action from the first frame after the cut
        assert all(h.action == first.action for h in headers[index:] if h.chunk == first.chunk)
        cut_chunk = [h for h in headers[:index] if h.chunk == before.chunk]
        assert len(cut_chunk) <= frames_for_latents(first.cut_latents)
        assert not any(h.flags & FrameFlags.LAST_IN_CHUNK for h in cut_chunk)
    assert all(h.latent == latent_of_frame(h.frame_in_chunk) for h in headers)


@pytest.mark.asyncio
@pytest.mark.parametrize("bridge", [_config("off")], indirect=True)
async def test_with_preemption_off_every_chunk_plays_to_its_end(bridge, start_image):
    headers = await _session(bridge[1], start_image)
    assert not any(h.flags & FrameFlags.AFTER_CUT for h in headers)
    per_chunk: dict[int, list] = {}
    for h in headers:
        per_chunk.setdefault(h.chunk, []).append(h.frame_in_chunk)
    complete = [frames for chunk, frames in sorted(per_chunk.items())][1:-1]  # the ends may be clipped
    assert complete and all(frames == list(range(29)) for frames in complete)


def test_frames_still_decoding_count_until_they_arrive_and_a_cut_keeps_only_the_shown_chunks_share():
    coming = FramesInFlight()
    coming.sampled(4, 29)
    coming.sampled(5, 29)
    for _ in range(5):
        coming.delivered(4)
    assert coming.frames == 24 + 29
    coming.cut(4, keep_frames=9)  # chunk 5 was sampled ahead and is discarded; chunk 4 ends at frame 9
    assert coming.frames == 4
    coming.done(4)
    assert coming.frames == 0


def test_frames_in_flight_follow_a_bounded_number_of_chunks():
    coming = FramesInFlight()
    for chunk in range(100):
        coming.sampled(chunk, 29)
    assert coming.frames == FramesInFlight.LIMIT * 29


# --- decoding beside the next chunk's sampling --------------------------------------------------

def _decoding_slower_than_playback() -> BridgeConfig:
    return BridgeConfig(network=NetworkConfig(port=0), stream=StreamConfig(preempt="off"),
                        backend=BackendConfig(simulate=SimulatedGenerator(0.5, 0.3)))


def test_a_simulated_generator_splits_its_chunks_into_the_same_frames():
    profile = SimulatedGenerator(0.01, 0.0)
    serial = PreviewBackend(spec=spec(), simulate=profile, overlap=False).open_world(StartRequest(None, "a bay", 5))
    split = PreviewBackend(spec=spec(), simulate=profile).open_world(StartRequest(None, "a bay", 5))
    assert split.splits_chunks and not serial.splits_chunks
    for index, action in enumerate((FORWARD, STRAFE, FORWARD)):
        made = list(serial.generate_chunk(request(index, action)))
        sampled = split.sample_chunk(request(index, action))
        assert all(np.array_equal(a, b) for a, b in zip(made, split.decode_chunk(sampled), strict=True))


@pytest.mark.asyncio
@pytest.mark.parametrize("bridge", [_decoding_slower_than_playback()], indirect=True)
async def test_the_daemon_samples_the_next_chunk_while_the_previous_one_decodes(bridge, start_image, monkeypatch):
    from yume_bridge.daemon.app import Bridge
    from yume_bridge.daemon.results import ChunkDone, ChunkSampled

    seen: list[tuple[str, int]] = []
    handle = Bridge._on_worker

    def record(self, item):
        if isinstance(item, ChunkSampled | ChunkDone):
            seen.append((type(item).__name__, item.chunk))
        handle(self, item)

    monkeypatch.setattr(Bridge, "_on_worker", record)
    await run_client(ClientOptions(port=bridge[1], image=start_image, script=parse_script("W:6s"), tail_s=0.5))
    # Sampling takes 0.2 s and decoding 8 x 0.3 s, more than playback's 1.81 s (29 frames at 16 fps): the next
    # chunk is asked for as soon as sampling is free, and is sampled while this one still decodes.
    done = [chunk for kind, chunk in seen if kind == "ChunkDone"]
    assert len(done) >= 2
    for chunk in done[:-1]:
        assert seen.index(("ChunkSampled", chunk + 1)) < seen.index(("ChunkDone", chunk))

"""One session's stream on the loop side, driven without sockets or a clock: cadence and just-in-time requests."""

from __future__ import annotations

from yume_bridge.actions import AxisQuantizer, CaptionTemplates
from yume_bridge.daemon.conditioning import ConditioningInbox
from yume_bridge.daemon.playback import QUEUED_CHUNKS, Playback
from yume_bridge.daemon.results import FrameReady
from yume_bridge.daemon.scheduling import GenerationEstimate

CHUNK_FRAMES = 4


def _playback(fps: float = 10.0) -> Playback:
    inbox = ConditioningInbox(templates=CaptionTemplates.load("camera"), quantizer=AxisQuantizer(), speed=None)
    return Playback(inbox=inbox, fps=fps, estimate=GenerationEstimate(0.5), backend_estimate=GenerationEstimate(0.5),
                    chunk_frames=CHUNK_FRAMES, start_margin_s=0.1, world=1)


def _frame(chunk: int, index: int) -> FrameReady:
    return FrameReady(session=1, world=1, chunk=chunk, frame_in_chunk=index, last_in_chunk=index == CHUNK_FRAMES - 1,
                      jpeg=b"", input_seq=0, action=0, ready_at=0.0, cost_s=0.01)


def test_frames_go_out_one_interval_apart_and_a_late_loop_resumes_the_cadence_without_a_burst():
    playback = _playback()
    for index in range(CHUNK_FRAMES):
        playback.frame_ready(_frame(0, index), now=1.0)
    assert playback.next_due_frame(1.0).frame_in_chunk == 0
    assert playback.next_due_frame(1.05) is None  # the next one is due at 1.1
    assert playback.next_due_frame(1.1).frame_in_chunk == 1
    assert playback.next_due_frame(2.0).frame_in_chunk == 2  # late by far more than a frame
    assert playback.next_due_frame(2.0) is None and playback.next_send_at == 2.1
    assert playback.frames_sent == 3 and playback.fps_sent(2.5) == 1  # the last second: one frame


def test_the_next_chunk_is_due_its_lead_before_playback_runs_dry_and_not_while_one_is_asked_for():
    playback = _playback()
    for index in range(CHUNK_FRAMES):
        playback.frame_ready(_frame(0, index), now=1.0)
    # Four frames at 10 fps last until 1.4; the lead is the first-frame estimate plus the start margin.
    assert abs(playback.next_chunk_due_at(1.0) - (1.4 - 0.5 - 0.1)) < 1e-9
    playback.requested = True
    assert playback.next_chunk_due_at(1.0) is None


def test_a_paused_client_keeps_only_the_newest_chunks_of_frames():
    playback = _playback()
    for chunk in range(QUEUED_CHUNKS + 2):
        for index in range(CHUNK_FRAMES):
            playback.frame_ready(_frame(chunk, index), now=1.0)
    assert len(playback.frames) == QUEUED_CHUNKS * CHUNK_FRAMES
    assert playback.frames[0].chunk == 2 and playback.wasted_s > 0

"""Decoding chunk k beside the DiT of chunk k+1 gives the frames of the serial loop, in the same order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yume_bridge.model.overlap import overlapped_frames
from yume_bridge.model.pipeline import Session
from yume_bridge.model.testing import TINY_TEST_RESOLUTION

CAPTIONS = ("The camera moves forward.", "The camera turns left.", "The camera moves forward.")


def _session(models) -> Session:
    session = Session(models, height=TINY_TEST_RESOLUTION[0], width=TINY_TEST_RESOLUTION[1], seed=11)
    session.start_from_image(np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8))
    return session


def test_overlapped_decode_yields_the_serial_frames_in_the_serial_order(tiny_models):
    states = [tiny_models.text.encode([caption])[0] for caption in CAPTIONS]
    serial = _session(tiny_models)
    expected = [frame for s in states for frame in serial.generate_chunk(s)]
    overlapped = list(overlapped_frames(_session(tiny_models), states))
    assert [(f.chunk, f.index) for f in overlapped] == [(c, i) for c in range(3) for i in range(29)]
    assert len(expected) == len(overlapped) == 87
    for want, got in zip(expected, overlapped, strict=True):
        np.testing.assert_array_equal(got.pixels, want)


def test_a_decode_failure_reaches_the_caller(tiny_models, monkeypatch):
    session = _session(tiny_models)

    def broken(chunk):
        raise RuntimeError("decoder exploded")
        yield  # pragma: no cover

    monkeypatch.setattr(session, "decode_chunk", broken)
    states = [tiny_models.text.encode([CAPTIONS[0]])[0]]
    with pytest.raises(RuntimeError, match="decoder exploded"):
        list(overlapped_frames(session, states))
    assert torch.is_tensor(session.history)  # sampling itself went through

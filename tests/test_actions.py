"""Engine axes → the 9×9 vocabulary → caption text."""

from __future__ import annotations

import pytest

from yume_bridge.actions import (
    Action,
    Axes,
    AxisQuantizer,
    CaptionTemplates,
    InputWindow,
    Look,
    Movement,
    Speed,
    axes_from_keys,
)


@pytest.mark.parametrize(("axes", "expected"), [
    (Axes(), Action(Movement.NONE, Look.NONE)),
    (Axes(move_y=1), Action(Movement.W, Look.NONE)),
    (Axes(move_y=-1, move_x=-1), Action(Movement.S_A, Look.NONE)),
    (Axes(move_y=0.9, move_x=0.8), Action(Movement.W_D, Look.NONE)),
    (Axes(look_x=1), Action(Movement.NONE, Look.RIGHT)),
    (Axes(look_x=-0.7, look_y=0.7), Action(Movement.NONE, Look.UP_LEFT)),
    (Axes(look_y=-1, look_x=1), Action(Movement.NONE, Look.DOWN_RIGHT)),
    (Axes(move_y=0.4, look_x=0.45), Action(Movement.NONE, Look.NONE)),  # inside the dead zone
])
def test_axes_map_to_the_expected_action(axes, expected):
    assert AxisQuantizer().quantize(axes) == expected


def test_hysteresis_keeps_an_action_until_the_stick_falls_below_release():
    quantizer = AxisQuantizer(press=0.5, release=0.3)
    seen = [quantizer.quantize(Axes(move_y=v)).movement for v in (0.6, 0.4, 0.31, 0.29, 0.4)]
    assert seen == [Movement.W, Movement.W, Movement.W, Movement.NONE, Movement.NONE]


def test_action_ids_cover_the_vocabulary_once():
    ids = [a.id for a in Action.all()]
    assert sorted(ids) == list(range(81))
    assert all(Action.from_id(i).id == i for i in ids)
    assert Action(Movement.W, Look.RIGHT).id == 10


def test_the_window_mean_decides_and_a_silent_window_holds_the_last_input():
    window = InputWindow()
    for value in (1.0, 1.0, 0.0):
        window.add(Axes(move_y=value))
    assert window.take().move_y == pytest.approx(2 / 3)
    assert window.take().move_y == 0.0  # held: the last sample


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1.5, -2.0])
def test_axes_outside_their_range_are_refused(bad):
    with pytest.raises(ValueError):
        Axes(move_x=bad)


def test_held_keys_map_to_axes_and_unknown_keys_are_ignored():
    axes = axes_from_keys(["KeyW", "KeyD", "ArrowRight", "Space"])
    assert (axes.move_y, axes.move_x, axes.look_x, axes.look_y) == (1.0, 1.0, 1.0, 0.0)
    assert axes_from_keys(["KeyW", "KeyS"]).move_y == 0.0


def test_camera_captions_follow_the_published_sentences():
    caption = CaptionTemplates.load("camera").caption(Action(Movement.W, Look.RIGHT), ("a dragon circles the tower",))
    assert caption == ("First-person perspective. The camera pushes forward (W). The camera pans to the right "
                       "(\u2192). a dragon circles the tower")


def test_person_captions_join_sentences_without_spaces_and_take_speeds():
    caption = CaptionTemplates.load("person").caption(Action(), (), Speed(4, 0, 0))
    assert caption.startswith("This video depicts a city walk scene with a first-person view (FPV).Person stands "
                              "still (\u00b7).Camera remains still (\u00b7).Actual distance moved:4 at 100")


def test_every_action_has_a_distinct_caption_for_an_event():
    captions = CaptionTemplates.load("camera").captions_for_events(("a door opens",))
    assert len(captions) == 81 and len(set(captions.values())) == 81


def test_an_unknown_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown caption vocabulary"):
        CaptionTemplates.load("robot")

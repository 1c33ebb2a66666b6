"""Engine input → the model's quantised action vocabulary → caption text.

The model understands 9 movement states × 9 camera states, written as English
sentences in front of the event prompt (model-reference.md §4.4). Engines send
continuous axes; this module turns a window of axis samples into one action per
chunk, with a dead zone and hysteresis so that a stick resting near a threshold
does not flicker between actions. The sentences are versioned data in
``templates/captions.json``, not code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import IntEnum
from importlib import resources

__all__ = [
    "Action",
    "AxisQuantizer",
    "Axes",
    "CaptionTemplates",
    "InputWindow",
    "Look",
    "Movement",
    "axes_from_keys",
]


class Movement(IntEnum):
    """Keyboard movement states; the value is the wire id (protocol/SPEC.md §7)."""

    NONE = 0
    W = 1
    A = 2
    S = 3
    D = 4
    W_A = 5
    W_D = 6
    S_A = 7
    S_D = 8

    @property
    def symbol(self) -> str:
        return "None" if self is Movement.NONE else self.name.replace("_", "+")

    @property
    def label(self) -> str:
        """For people: ``none``, ``W``, ``W+A``."""
        return "none" if self is Movement.NONE else self.name.replace("_", "+")


class Look(IntEnum):
    """Camera rotation states; the value is the wire id (protocol/SPEC.md §7)."""

    NONE = 0
    RIGHT = 1
    LEFT = 2
    UP = 3
    DOWN = 4
    UP_RIGHT = 5
    UP_LEFT = 6
    DOWN_RIGHT = 7
    DOWN_LEFT = 8

    @property
    def symbol(self) -> str:
        return _LOOK_SYMBOLS[self]

    @property
    def label(self) -> str:
        """For people: ``none``, ``right``, ``up+left``."""
        return self.name.lower().replace("_", "+")


_LOOK_SYMBOLS = {
    Look.NONE: "\u00b7",
    Look.RIGHT: "\u2192",
    Look.LEFT: "\u2190",
    Look.UP: "\u2191",
    Look.DOWN: "\u2193",
    Look.UP_RIGHT: "\u2191\u2192",
    Look.UP_LEFT: "\u2191\u2190",
    Look.DOWN_RIGHT: "\u2193\u2192",
    Look.DOWN_LEFT: "\u2193\u2190",
}

# (forward sign, right sign) → movement; forward = W(+1)/S(-1), right = D(+1)/A(-1).
_MOVEMENT_BY_SIGNS = {
    (0, 0): Movement.NONE,
    (1, 0): Movement.W,
    (0, -1): Movement.A,
    (-1, 0): Movement.S,
    (0, 1): Movement.D,
    (1, -1): Movement.W_A,
    (1, 1): Movement.W_D,
    (-1, -1): Movement.S_A,
    (-1, 1): Movement.S_D,
}
# (up sign, right sign) → look.
_LOOK_BY_SIGNS = {
    (0, 0): Look.NONE,
    (0, 1): Look.RIGHT,
    (0, -1): Look.LEFT,
    (1, 0): Look.UP,
    (-1, 0): Look.DOWN,
    (1, 1): Look.UP_RIGHT,
    (1, -1): Look.UP_LEFT,
    (-1, 1): Look.DOWN_RIGHT,
    (-1, -1): Look.DOWN_LEFT,
}
_SIGNS_BY_MOVEMENT = {v: k for k, v in _MOVEMENT_BY_SIGNS.items()}
_SIGNS_BY_LOOK = {v: k for k, v in _LOOK_BY_SIGNS.items()}


@dataclass(frozen=True)
class Action:
    """One cell of the 9 × 9 vocabulary, as the model applies it to a chunk."""

    movement: Movement = Movement.NONE
    look: Look = Look.NONE

    @property
    def id(self) -> int:
        """Wire id, ``movement * 9 + look`` (0..80)."""
        return int(self.movement) * 9 + int(self.look)

    @classmethod
    def from_id(cls, action_id: int) -> Action:
        if not 0 <= action_id <= 80:
            raise ValueError(f"action id must be 0..80, got {action_id}")
        return cls(Movement(action_id // 9), Look(action_id % 9))

    @property
    def forward(self) -> int:
        """+1 for W, -1 for S, 0 otherwise."""
        return _SIGNS_BY_MOVEMENT[self.movement][0]

    @property
    def strafe(self) -> int:
        """+1 for D, -1 for A, 0 otherwise."""
        return _SIGNS_BY_MOVEMENT[self.movement][1]

    @property
    def yaw(self) -> int:
        """+1 panning right, -1 panning left."""
        return _SIGNS_BY_LOOK[self.look][1]

    @property
    def pitch(self) -> int:
        """+1 tilting up, -1 tilting down."""
        return _SIGNS_BY_LOOK[self.look][0]

    @property
    def label(self) -> str:
        """For people: ``W+D, look right``, ``look up``, ``W``, ``none``."""
        parts = [self.movement.label] if self.movement is not Movement.NONE else []
        parts += [f"look {self.look.label}"] if self.look is not Look.NONE else []
        return ", ".join(parts) or "none"

    def __str__(self) -> str:
        return f"{self.movement.symbol} {self.look.symbol}"

    @classmethod
    def all(cls) -> tuple[Action, ...]:
        return tuple(cls(m, lk) for m in Movement for lk in Look)


@dataclass(frozen=True)
class Axes:
    """Engine axes in [-1, 1]: move x = right, move y = forward, look x = right, look y = up."""

    move_x: float = 0.0
    move_y: float = 0.0
    look_x: float = 0.0
    look_y: float = 0.0

    def __post_init__(self) -> None:
        for name in ("move_x", "move_y", "look_x", "look_y"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and -1.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a finite number in [-1, 1], got {value!r}")


# W3C KeyboardEvent.code names → axis contributions (axis name, sign).
_KEY_AXES = {
    "KeyW": ("move_y", 1.0),
    "KeyS": ("move_y", -1.0),
    "KeyD": ("move_x", 1.0),
    "KeyA": ("move_x", -1.0),
    "ArrowUp": ("move_y", 1.0),
    "ArrowDown": ("move_y", -1.0),
    "ArrowRight": ("look_x", 1.0),
    "ArrowLeft": ("look_x", -1.0),
    "KeyI": ("look_y", 1.0),
    "KeyK": ("look_y", -1.0),
    "KeyL": ("look_x", 1.0),
    "KeyJ": ("look_x", -1.0),
}
KNOWN_KEY_CODES = frozenset(_KEY_AXES)


def axes_from_keys(codes: tuple[str, ...] | list[str], base: Axes | None = None) -> Axes:
    """Combine held keys (W3C ``KeyboardEvent.code``) with axes; keys win where held.

    Unknown codes are ignored so that clients may send every held key.
    """
    values = {
        "move_x": 0.0,
        "move_y": 0.0,
        "look_x": 0.0,
        "look_y": 0.0,
    }
    if base is not None:
        values.update(move_x=base.move_x, move_y=base.move_y, look_x=base.look_x, look_y=base.look_y)
    pressed: dict[str, float] = {}
    for code in codes:
        if code in _KEY_AXES:
            axis, sign = _KEY_AXES[code]
            pressed[axis] = pressed.get(axis, 0.0) + sign
    for axis, total in pressed.items():
        values[axis] = max(-1.0, min(1.0, total))
    return Axes(**values)


@dataclass
class InputWindow:
    """The axis samples received since the last chunk took its action.

    The mean of the window is the chunk's input: a tap shorter than half the
    window does not steer a whole chunk, a held key does. With no new sample the
    last one is held (an engine that sends only changes keeps its state).
    """

    last: Axes = field(default_factory=Axes)
    _sum: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    _count: int = 0

    def add(self, axes: Axes) -> None:
        self.last = axes
        for i, value in enumerate((axes.move_x, axes.move_y, axes.look_x, axes.look_y)):
            self._sum[i] += value
        self._count += 1

    def take(self) -> Axes:
        """The window's mean (or the held last sample), and start a new window."""
        if self._count == 0:
            return self.last
        mean = Axes(*(s / self._count for s in self._sum))
        self._sum = [0.0, 0.0, 0.0, 0.0]
        self._count = 0
        return mean


@dataclass
class AxisQuantizer:
    """Axes → Action with a dead zone and hysteresis per axis.

    An axis turns on past ``press`` and off below ``release`` (release < press),
    so values between the two keep the previous state.
    """

    press: float = 0.5
    release: float = 0.3
    _state: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.release <= self.press < 1.0:
            raise ValueError(f"need 0 < release <= press < 1, got release={self.release} press={self.press}")

    def _sign(self, name: str, value: float) -> int:
        previous = self._state.get(name, 0)
        if previous != 0 and value * previous >= self.release:
            sign = previous
        elif value >= self.press:
            sign = 1
        elif value <= -self.press:
            sign = -1
        else:
            sign = 0
        self._state[name] = sign
        return sign

    def peek(self, axes: Axes) -> Action:
        """What ``quantize`` would answer now, without moving the hysteresis state."""
        saved = dict(self._state)
        try:
            return self.quantize(axes)
        finally:
            self._state = saved

    def quantize(self, axes: Axes) -> Action:
        forward = self._sign("move_y", axes.move_y)
        right = self._sign("move_x", axes.move_x)
        yaw = self._sign("look_x", axes.look_x)
        pitch = self._sign("look_y", axes.look_y)
        return Action(_MOVEMENT_BY_SIGNS[(forward, right)], _LOOK_BY_SIGNS[(pitch, yaw)])


@dataclass(frozen=True)
class Speed:
    """The optional speed fields of the caption (model-reference.md §4.4)."""

    distance: float = 4.0
    turn: float = 4.0
    rotation: float = 4.0


@dataclass(frozen=True)
class CaptionTemplates:
    """One versioned caption vocabulary ("camera" or "person")."""

    name: str
    version: str
    prefix: str
    separator: str
    movement: dict[str, str]
    look: dict[str, str]
    speed_template: str

    @classmethod
    def load(cls, name: str = "camera") -> CaptionTemplates:
        data = json.loads(resources.files("yume_bridge.templates").joinpath("captions.json").read_text("utf-8"))
        if name not in data:
            raise ValueError(f"unknown caption vocabulary {name!r}; choose one of {sorted(data)}")
        entry = data[name]
        templates = cls(
            name=name,
            version=entry["version"],
            prefix=entry["prefix"],
            separator=entry["separator"],
            movement=dict(entry["movement"]),
            look=dict(entry["look"]),
            speed_template=entry["speed"],
        )
        missing = [m.symbol for m in Movement if m.symbol not in templates.movement]
        missing += [lk.symbol for lk in Look if lk.symbol not in templates.look]
        if missing:
            raise ValueError(f"caption vocabulary {name!r} lacks sentences for {missing}")
        return templates

    def caption(self, action: Action, events: tuple[str, ...] = (), speed: Speed | None = None) -> str:
        """The full caption: prefix, movement and look sentences, speeds, then the events."""
        parts = [self.prefix, self.movement[action.movement.symbol], self.look[action.look.symbol]]
        if speed is not None:
            parts.append(self.speed_template.format(distance=speed.distance, turn=speed.turn, rotation=speed.rotation))
        parts.extend(text.strip() for text in events if text.strip())
        return self.separator.join(parts)

    def captions_for_events(self, events: tuple[str, ...], speed: Speed | None = None) -> dict[Action, str]:
        """Every caption the vocabulary allows with these events (for caching text embeddings)."""
        return {action: self.caption(action, events, speed) for action in Action.all()}

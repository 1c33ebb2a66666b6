// Keyboard, mouse (pointer lock) and gamepad (the Gamepad API) → the protocol's input: move and look
// axes in [-1, 1] plus the held keys as KeyboardEvent.code (SPEC §5.6; the daemon lets a key override
// its axis).

const KEYS = new Set(["KeyW", "KeyA", "KeyS", "KeyD", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight",
                      "KeyI", "KeyJ", "KeyK", "KeyL"]);
const DEAD_ZONE = 0.15;
const MOUSE_FULL_TURN_PX = 10; // mouse travel per 33 ms tick that means a full-speed look
const MOUSE_SMOOTHING = 0.75; // share of the previous look kept each tick, so a flick becomes a turn

const clamp = (v) => Math.max(-1, Math.min(1, v));
const deadZone = (v) => (Math.abs(v) < DEAD_ZONE ? 0 : v);
const typing = (target) => target instanceof HTMLElement && (target.isContentEditable
  || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

export class Controls {
  constructor({ surface }) {
    this.surface = surface;
    this.held = new Set();
    this.mouse = { dx: 0, dy: 0, look: [0, 0] };
    this.gamepad = null;
    window.addEventListener("keydown", (e) => {
      if (!KEYS.has(e.code) || typing(e.target)) return;
      this.held.add(e.code);
      e.preventDefault();
    });
    window.addEventListener("keyup", (e) => this.held.delete(e.code));
    window.addEventListener("blur", () => this.held.clear());
    surface.addEventListener("click", () => {
      if (document.pointerLockElement !== surface && surface.requestPointerLock) surface.requestPointerLock();
    });
    document.addEventListener("mousemove", (e) => {
      if (document.pointerLockElement !== surface) return;
      this.mouse.dx += e.movementX;
      this.mouse.dy += e.movementY;
    });
    window.addEventListener("gamepadconnected", (e) => { this.gamepad = e.gamepad.id; });
    window.addEventListener("gamepaddisconnected", () => { this.gamepad = null; });
  }

  get pointerLocked() {
    return document.pointerLockElement === this.surface;
  }

  /** Sample once per input tick: {move, look, keys, source}. */
  sample() {
    const m = this.mouse;
    const raw = [clamp(m.dx / MOUSE_FULL_TURN_PX), clamp(-m.dy / MOUSE_FULL_TURN_PX)];
    m.look = m.look.map((v, i) => MOUSE_SMOOTHING * v + (1 - MOUSE_SMOOTHING) * raw[i]);
    m.dx = 0;
    m.dy = 0;
    let move = [0, 0];
    let look = m.look.map((v) => (Math.abs(v) < 0.02 ? 0 : Math.round(v * 100) / 100));
    let source = this.pointerLocked ? "mouse" : "keyboard";
    const pad = navigator.getGamepads ? [...navigator.getGamepads()].find((p) => p && p.connected) : null;
    if (pad && pad.axes.length >= 2) {
      const stickMove = [deadZone(pad.axes[0]), -deadZone(pad.axes[1])];
      const stickLook = pad.axes.length >= 4 ? [deadZone(pad.axes[2]), -deadZone(pad.axes[3])] : [0, 0];
      if (stickMove.some(Boolean) || stickLook.some(Boolean)) {
        move = stickMove.map(clamp);
        look = stickLook.map(clamp);
        source = "gamepad";
      }
    }
    return { move, look, keys: [...this.held].sort(), source };
  }
}

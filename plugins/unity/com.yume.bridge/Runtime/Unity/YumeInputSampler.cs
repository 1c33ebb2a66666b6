// Reads the player's input once per frame and turns it into protocol input: move and look axes in
// [-1, 1] plus held keys as W3C codes. Input System behind ENABLE_INPUT_SYSTEM, legacy Input Manager otherwise.
using System;
using System.Collections.Generic;
using UnityEngine;
using Yume.Bridge.Core;
#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
using UnityEngine.InputSystem;
#endif

namespace Yume.Bridge
{
    /// <summary>How axes and keys are read; shown in the client's Inspector.</summary>
    [Serializable]
    public sealed class YumeInputSettings
    {
        [Tooltip("Where input comes from. The Input System needs its package and Active Input Handling set to include it.")]
        public YumeInputSource source = YumeInputSampler.DefaultSource;

#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
        [Header("Input System")]
        [Tooltip("Optional: actions to read instead of fixed devices. The package ships YumeBridgeControls.inputactions " +
                 "(map \"Yume\": Move, Look, LookDelta, Event, Pause); rebind it or use your own asset with the same names.")]
        public InputActionAsset actions;
#endif

        [Header("Legacy Input Manager axes")]
        [Tooltip("Strafe axis (right positive). Unity's default 'Horizontal' also reacts to the arrow keys; " +
                 "arrow keys are look keys here, so they are ignored on this axis.")]
        public string moveXAxis = "Horizontal";
        [Tooltip("Forward axis (forward positive).")]
        public string moveYAxis = "Vertical";
        [Tooltip("Yaw axis (right positive).")]
        public string lookXAxis = "Mouse X";
        [Tooltip("Pitch axis (up positive).")]
        public string lookYAxis = "Mouse Y";
        [Tooltip("On: the look axes are mouse movement per frame (Input Manager sensitivity 0.1 assumed). " +
                 "Off: they are stick positions in [-1, 1].")]
        public bool lookAxesAreMouseDeltas = true;

        [Header("Look")]
        [Tooltip("Mouse speed, in pixels per second, that means a full turn (axis value 1). " +
                 "The daemon turns when the averaged value passes 0.5.")]
        [Min(1)] public float mouseFullTurnPixelsPerSecond = 600;
        [Tooltip("Seconds over which mouse motion is smoothed, so a short flick still reads as a turn.")]
        [Range(0, 1)] public float mouseSmoothingSeconds = 0.15f;
        [Tooltip("Invert the vertical look axis.")]
        public bool invertLookY;

        [Header("Keys")]
        [Tooltip("Also send held keys as W3C codes (KeyW, ArrowRight, ...): a held key overrides its axis on the daemon.")]
        public bool sendKeyCodes = true;
    }

    public sealed class YumeInputSampler
    {
        /// <summary>The Input System when the project uses it, else the legacy Input Manager.</summary>
        public static YumeInputSource DefaultSource =>
#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE && !ENABLE_LEGACY_INPUT_MANAGER
            YumeInputSource.InputSystem;
#else
            YumeInputSource.LegacyInputManager;
#endif

        /// <summary>True when this build can read the given source.</summary>
        public static bool IsAvailable(YumeInputSource source)
        {
            switch (source)
            {
                case YumeInputSource.InputSystem:
#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
                    return true;
#else
                    return false;
#endif
                case YumeInputSource.LegacyInputManager:
#if ENABLE_LEGACY_INPUT_MANAGER
                    return true;
#else
                    return false;
#endif
                default:
                    return true;
            }
        }

        /// <summary>Smoothed look values closer to 0 than this read as 0, so that a still mouse settles and stops producing new states.</summary>
        const float LookSnap = 0.002f;

        readonly List<string> keys = new List<string>(16);
        float smoothLookX, smoothLookY;
        InputState last;

        /// <summary>An axis name the Input Manager does not define (read as 0), or null.</summary>
        public string MissingAxis { get; private set; }

        /// <summary>
        /// Samples the current input; call once per rendered frame. Returns the same object as last time while
        /// the input does not change, so a steady input allocates nothing.
        /// </summary>
        public InputState Sample(YumeInputSettings settings, float deltaTime)
        {
            keys.Clear();
            float moveX = 0, moveY = 0, lookRateX = 0, lookRateY = 0, stickLookX = 0, stickLookY = 0;
            bool mouse = false;
            switch (settings.source)
            {
                case YumeInputSource.InputSystem:
                    mouse = SampleInputSystem(settings, deltaTime, ref moveX, ref moveY, ref lookRateX, ref lookRateY, ref stickLookX, ref stickLookY);
                    break;
                case YumeInputSource.LegacyInputManager:
                    mouse = SampleLegacy(settings, deltaTime, ref moveX, ref moveY, ref lookRateX, ref lookRateY, ref stickLookX, ref stickLookY);
                    break;
                default:
                    return null;
            }
            // Exponential smoothing of the mouse turn rate; sticks are positions and need none.
            float blend = settings.mouseSmoothingSeconds <= 0 ? 1 : Mathf.Clamp01(deltaTime / settings.mouseSmoothingSeconds);
            float full = Mathf.Max(1, settings.mouseFullTurnPixelsPerSecond);
            smoothLookX += ((mouse ? lookRateX / full : 0) - smoothLookX) * blend;
            smoothLookY += ((mouse ? lookRateY / full : 0) - smoothLookY) * blend;
            if (Mathf.Abs(smoothLookX) < LookSnap) smoothLookX = 0;
            if (Mathf.Abs(smoothLookY) < LookSnap) smoothLookY = 0;
            float lookX = Mathf.Clamp(smoothLookX + stickLookX, -1, 1);
            float lookY = Mathf.Clamp(smoothLookY + stickLookY, -1, 1) * (settings.invertLookY ? -1 : 1);
            var held = settings.sendKeyCodes ? keys : null;
            if (last != null && last.Matches(moveX, moveY, lookX, lookY, held)) return last;
            last = new InputState(moveX, moveY, lookX, lookY, held);
            return last;
        }

        bool SampleLegacy(YumeInputSettings s, float dt, ref float moveX, ref float moveY, ref float lookRateX, ref float lookRateY,
                          ref float stickLookX, ref float stickLookY)
        {
            moveX = ReadAxis(s.moveXAxis);
            moveY = ReadAxis(s.moveYAxis);
            // Unity's default Horizontal/Vertical axes include the arrow keys, which are look keys in this protocol.
            if ((Input.GetKey(KeyCode.LeftArrow) || Input.GetKey(KeyCode.RightArrow)) && !Input.GetKey(KeyCode.A) && !Input.GetKey(KeyCode.D)) moveX = 0;
            if ((Input.GetKey(KeyCode.UpArrow) || Input.GetKey(KeyCode.DownArrow)) && !Input.GetKey(KeyCode.W) && !Input.GetKey(KeyCode.S)) moveY = 0;
            float lx = ReadAxis(s.lookXAxis), ly = ReadAxis(s.lookYAxis);
            if (s.lookAxesAreMouseDeltas)
            {
                const float defaultMouseSensitivity = 0.1f; // Input Manager's default for "Mouse X"/"Mouse Y"
                float perSecond = dt > 0 ? 1f / (dt * defaultMouseSensitivity) : 0;
                lookRateX = lx * perSecond;
                lookRateY = ly * perSecond;
            }
            else
            {
                stickLookX = lx;
                stickLookY = ly;
            }
            AddKey(Input.GetKey(KeyCode.W), KeyCodes.W);
            AddKey(Input.GetKey(KeyCode.A), KeyCodes.A);
            AddKey(Input.GetKey(KeyCode.S), KeyCodes.S);
            AddKey(Input.GetKey(KeyCode.D), KeyCodes.D);
            AddKey(Input.GetKey(KeyCode.UpArrow), KeyCodes.ArrowUp);
            AddKey(Input.GetKey(KeyCode.DownArrow), KeyCodes.ArrowDown);
            AddKey(Input.GetKey(KeyCode.LeftArrow), KeyCodes.ArrowLeft);
            AddKey(Input.GetKey(KeyCode.RightArrow), KeyCodes.ArrowRight);
            AddKey(Input.GetKey(KeyCode.I), KeyCodes.I);
            AddKey(Input.GetKey(KeyCode.J), KeyCodes.J);
            AddKey(Input.GetKey(KeyCode.K), KeyCodes.K);
            AddKey(Input.GetKey(KeyCode.L), KeyCodes.L);
            return s.lookAxesAreMouseDeltas;
        }

        float ReadAxis(string name)
        {
            if (string.IsNullOrEmpty(name)) return 0;
            try
            {
                return Input.GetAxisRaw(name);
            }
            catch (ArgumentException)
            {
                MissingAxis = name; // not defined in the Input Manager; the client logs it once
                return 0;
            }
        }

        bool SampleInputSystem(YumeInputSettings s, float dt, ref float moveX, ref float moveY, ref float lookRateX, ref float lookRateY,
                               ref float stickLookX, ref float stickLookY)
        {
#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
            if (s.actions != null) return SampleActions(s.actions, dt, ref moveX, ref moveY, ref lookRateX, ref lookRateY, ref stickLookX, ref stickLookY);
            var keyboard = Keyboard.current;
            if (keyboard != null)
            {
                bool w = keyboard[Key.W].isPressed, a = keyboard[Key.A].isPressed, sKey = keyboard[Key.S].isPressed, d = keyboard[Key.D].isPressed;
                moveX = (d ? 1 : 0) - (a ? 1 : 0);
                moveY = (w ? 1 : 0) - (sKey ? 1 : 0);
                bool up = keyboard[Key.UpArrow].isPressed, down = keyboard[Key.DownArrow].isPressed;
                bool left = keyboard[Key.LeftArrow].isPressed, right = keyboard[Key.RightArrow].isPressed;
                stickLookX = (right ? 1 : 0) - (left ? 1 : 0);
                stickLookY = (up ? 1 : 0) - (down ? 1 : 0);
                AddKey(w, KeyCodes.W);
                AddKey(a, KeyCodes.A);
                AddKey(sKey, KeyCodes.S);
                AddKey(d, KeyCodes.D);
                AddKey(up, KeyCodes.ArrowUp);
                AddKey(down, KeyCodes.ArrowDown);
                AddKey(left, KeyCodes.ArrowLeft);
                AddKey(right, KeyCodes.ArrowRight);
                AddKey(keyboard[Key.I].isPressed, KeyCodes.I);
                AddKey(keyboard[Key.J].isPressed, KeyCodes.J);
                AddKey(keyboard[Key.K].isPressed, KeyCodes.K);
                AddKey(keyboard[Key.L].isPressed, KeyCodes.L);
            }
            var gamepad = Gamepad.current;
            if (gamepad != null)
            {
                Vector2 left = gamepad.leftStick.ReadValue(), right = gamepad.rightStick.ReadValue();
                moveX = Mathf.Clamp(moveX + left.x, -1, 1);
                moveY = Mathf.Clamp(moveY + left.y, -1, 1);
                stickLookX = Mathf.Clamp(stickLookX + right.x, -1, 1);
                stickLookY = Mathf.Clamp(stickLookY + right.y, -1, 1);
            }
            var mouse = Mouse.current;
            if (mouse != null && dt > 0)
            {
                Vector2 delta = mouse.delta.ReadValue();
                lookRateX = delta.x / dt;
                lookRateY = delta.y / dt;
                return true;
            }
            return false;
#else
            return false;
#endif
        }

#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
        /// <summary>Action names looked up in an assigned asset (map "Yume").</summary>
        public const string MoveAction = "Yume/Move", LookAction = "Yume/Look", LookDeltaAction = "Yume/LookDelta",
                            EventAction = "Yume/Event", PauseAction = "Yume/Pause";

        InputActionAsset boundAsset;
        InputAction move, look, lookDelta, eventAction, pauseAction;

        void Bind(InputActionAsset asset)
        {
            if (asset == boundAsset) return;
            boundAsset = asset;
            move = asset.FindAction(MoveAction);
            look = asset.FindAction(LookAction);
            lookDelta = asset.FindAction(LookDeltaAction);
            eventAction = asset.FindAction(EventAction);
            pauseAction = asset.FindAction(PauseAction);
            asset.Enable();
        }

        bool SampleActions(InputActionAsset asset, float dt, ref float moveX, ref float moveY, ref float lookRateX, ref float lookRateY,
                           ref float stickLookX, ref float stickLookY)
        {
            Bind(asset);
            if (move != null)
            {
                Vector2 m = move.ReadValue<Vector2>();
                moveX = m.x;
                moveY = m.y;
            }
            if (look != null)
            {
                Vector2 l = look.ReadValue<Vector2>();
                stickLookX = l.x;
                stickLookY = l.y;
            }
            if (lookDelta == null || dt <= 0) return false;
            Vector2 delta = lookDelta.ReadValue<Vector2>();
            lookRateX = delta.x / dt;
            lookRateY = delta.y / dt;
            return true;
        }

        /// <summary>True on the frame the asset's Event action fired (false without an asset or that action).</summary>
        public bool EventPressedThisFrame => eventAction != null && eventAction.WasPressedThisFrame();

        /// <summary>True on the frame the asset's Pause action fired.</summary>
        public bool PausePressedThisFrame => pauseAction != null && pauseAction.WasPressedThisFrame();
#endif

        void AddKey(bool held, string code)
        {
            if (held) keys.Add(code);
        }

        /// <summary>
        /// True on the frame the key went down (for sample scripts that trigger events). With the Input System the
        /// KeyCode is mapped to its Key (Return → Enter, Alpha1 → Digit1, LeftControl → LeftCtrl, ...) through a table
        /// built once, so a call allocates nothing.
        /// </summary>
        public static bool WasPressedThisFrame(YumeInputSource source, KeyCode legacyKey)
        {
#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
            if (source == YumeInputSource.InputSystem)
            {
                var keyboard = Keyboard.current;
                var key = InputSystemKeys.Of(legacyKey);
                return keyboard != null && key != Key.None && keyboard[key].wasPressedThisFrame;
            }
#endif
            if (source == YumeInputSource.LegacyInputManager && IsAvailable(source)) return Input.GetKeyDown(legacyKey);
            return false;
        }
    }

#if ENABLE_INPUT_SYSTEM && YUME_INPUT_SYSTEM_PACKAGE
    /// <summary>KeyCode → Input System Key, looked up in an array filled once (names mapped by <see cref="UnityKeyNames"/>).</summary>
    static class InputSystemKeys
    {
        static Key[] table;

        public static Key Of(KeyCode code)
        {
            if (table == null) table = Build();
            int index = (int)code;
            return index >= 0 && index < table.Length ? table[index] : Key.None;
        }

        static Key[] Build()
        {
            int size = 0;
            foreach (KeyCode code in Enum.GetValues(typeof(KeyCode))) size = Math.Max(size, (int)code + 1);
            var keys = new Key[size];
            foreach (KeyCode code in Enum.GetValues(typeof(KeyCode)))
            {
                var name = UnityKeyNames.ToInputSystem(code.ToString());
                Key key;
                if (name != null && Enum.TryParse(name, out key)) keys[(int)code] = key;
            }
            return keys;
        }
    }
#endif
}

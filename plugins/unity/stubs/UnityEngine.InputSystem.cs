// Compile-only stand-ins for the Input System package types the plugin uses (com.unity.inputsystem 1.x).
// Never shipped. Lets build.sh type-check the ENABLE_INPUT_SYSTEM code path.
namespace UnityEngine.InputSystem
{
    public enum Key
    {
        None, Space, Enter, Tab, Backquote, Quote, Semicolon, Comma, Period, Slash, Backslash, LeftBracket, RightBracket,
        Minus, Equals, A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
        Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Digit0,
        LeftShift, RightShift, LeftAlt, RightAlt, LeftCtrl, RightCtrl, LeftMeta, RightMeta, ContextMenu, Escape,
        LeftArrow, RightArrow, UpArrow, DownArrow,
    }

    public abstract class InputControl { }

    public abstract class InputControl<TValue> : InputControl where TValue : struct
    {
        public TValue ReadValue() => default(TValue);
    }
}

namespace UnityEngine.InputSystem.Controls
{
    public class ButtonControl : InputControl<float>
    {
        public bool isPressed => false;
        public bool wasPressedThisFrame => false;
        public bool wasReleasedThisFrame => false;
    }

    public class KeyControl : ButtonControl
    {
        public Key keyCode => Key.None;
    }

    public class Vector2Control : InputControl<Vector2> { }
    public class StickControl : Vector2Control { }
    public class DeltaControl : Vector2Control { }
}

namespace UnityEngine.InputSystem
{
    using UnityEngine.InputSystem.Controls;

    public abstract class InputDevice : InputControl { }

    public class Keyboard : InputDevice
    {
        public static Keyboard current => null;
        public KeyControl this[Key key] => null;
        public KeyControl wKey => null;
        public KeyControl aKey => null;
        public KeyControl sKey => null;
        public KeyControl dKey => null;
        public KeyControl eKey => null;
    }

    public class Pointer : InputDevice
    {
        public Vector2Control position => null;
        public DeltaControl delta => null;
    }

    public class Mouse : Pointer
    {
        public static Mouse current => null;
        public ButtonControl leftButton => null;
        public ButtonControl rightButton => null;
    }

    public class InputAction
    {
        public string name => "";
        public bool enabled => false;
        public InputActionMap actionMap => null;
        public void Enable() { }
        public void Disable() { }
        public TValue ReadValue<TValue>() where TValue : struct => default(TValue);
        public bool WasPressedThisFrame() => false;
        public bool WasReleasedThisFrame() => false;
        public bool IsPressed() => false;
    }

    public sealed class InputActionMap
    {
        public string name => "";
        public bool enabled => false;
        public void Enable() { }
        public void Disable() { }
        public InputAction FindAction(string actionNameOrId, bool throwIfNotFound = false) => null;
    }

    public class InputActionAsset : ScriptableObject
    {
        public bool enabled => false;
        public void Enable() { }
        public void Disable() { }
        public InputAction FindAction(string actionNameOrId, bool throwIfNotFound = false) => null;
        public InputActionMap FindActionMap(string nameOrId, bool throwIfNotFound = false) => null;
    }

    public class Gamepad : InputDevice
    {
        public static Gamepad current => null;
        public StickControl leftStick => null;
        public StickControl rightStick => null;
        public ButtonControl buttonSouth => null;
    }
}

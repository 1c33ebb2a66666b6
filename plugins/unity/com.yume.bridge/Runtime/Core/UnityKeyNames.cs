// Unity's legacy KeyCode names and the Input System's Key names differ for a few keys (Return/Enter,
// Alpha1/Digit1, LeftControl/LeftCtrl, ...): the mapping, engine-free so that it is tested without Unity.
namespace Yume.Bridge.Core
{
    public static class UnityKeyNames
    {
        /// <summary>
        /// The Input System <c>Key</c> name for a legacy <c>KeyCode</c> name, or null for codes that are no keyboard
        /// key (mouse and joystick buttons). Call it once per key code and cache the result: it builds strings.
        /// </summary>
        public static string ToInputSystem(string keyCodeName)
        {
            if (string.IsNullOrEmpty(keyCodeName)) return null;
            if (keyCodeName.StartsWith("Mouse") || keyCodeName.StartsWith("Joystick")) return null;
            if (keyCodeName.Length == 6 && keyCodeName.StartsWith("Alpha") && char.IsDigit(keyCodeName[5])) return "Digit" + keyCodeName[5];
            if (keyCodeName.Length == 7 && keyCodeName.StartsWith("Keypad") && char.IsDigit(keyCodeName[6])) return "Numpad" + keyCodeName[6];
            switch (keyCodeName)
            {
                case "None": return null;
                case "Return": return "Enter";
                case "KeypadEnter": return "NumpadEnter";
                case "KeypadPlus": return "NumpadPlus";
                case "KeypadMinus": return "NumpadMinus";
                case "KeypadMultiply": return "NumpadMultiply";
                case "KeypadDivide": return "NumpadDivide";
                case "KeypadPeriod": return "NumpadPeriod";
                case "KeypadEquals": return "NumpadEquals";
                case "LeftControl": return "LeftCtrl";
                case "RightControl": return "RightCtrl";
                case "LeftCommand":
                case "LeftApple":
                case "LeftWindows": return "LeftMeta";
                case "RightCommand":
                case "RightApple":
                case "RightWindows": return "RightMeta";
                case "BackQuote": return "Backquote";
                case "Numlock": return "NumLock";
                case "Print": return "PrintScreen";
                case "Menu": return "ContextMenu";
                default: return keyCodeName; // letters, F-keys, arrows, Space, Tab, Escape, Backspace, ... share their names
            }
        }
    }
}

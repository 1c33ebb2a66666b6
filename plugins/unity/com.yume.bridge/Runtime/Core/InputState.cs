// What the player is doing right now, as protocol v1 input (SPEC §5.6): two axes pairs and held W3C key codes.
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    public sealed class InputState : IEquatable<InputState>
    {
        public static readonly InputState Neutral = new InputState(0, 0, 0, 0, null);
        readonly string[] keys;

        /// <param name="moveX">strafe right, in [-1, 1] (clamped)</param>
        /// <param name="moveY">forward, in [-1, 1] (clamped)</param>
        /// <param name="lookX">yaw right, in [-1, 1] (clamped)</param>
        /// <param name="lookY">pitch up, in [-1, 1] (clamped)</param>
        /// <param name="keys">held keys as KeyboardEvent.code (KeyW, ArrowRight, ...); at most 16, duplicates removed</param>
        public InputState(double moveX, double moveY, double lookX, double lookY, IEnumerable<string> keys = null)
        {
            MoveX = Clamp(moveX);
            MoveY = Clamp(moveY);
            LookX = Clamp(lookX);
            LookY = Clamp(lookY);
            this.keys = Unique(keys);
        }

        static readonly string[] NoKeys = new string[0];

        static string[] Unique(IEnumerable<string> keys)
        {
            if (keys == null) return NoKeys;
            var list = keys as IList<string>;
            if (list != null && list.Count == 0) return NoKeys;
            var unique = new string[InputMessage.MaxKeys];
            int count = 0;
            foreach (var key in keys)
                if (!string.IsNullOrEmpty(key) && Array.IndexOf(unique, key, 0, count) < 0 && count < unique.Length) unique[count++] = key;
            if (count == unique.Length) return unique;
            var exact = new string[count];
            Array.Copy(unique, exact, count);
            return exact;
        }

        /// <summary>
        /// True when an InputState built from these values would equal this one: lets a sampler skip building a
        /// new state (and allocating) while the input does not change. Allocates nothing.
        /// </summary>
        public bool Matches(double moveX, double moveY, double lookX, double lookY, IList<string> heldKeys)
        {
            if (MoveX != Clamp(moveX) || MoveY != Clamp(moveY) || LookX != Clamp(lookX) || LookY != Clamp(lookY)) return false;
            int count = 0;
            if (heldKeys != null)
                for (int i = 0; i < heldKeys.Count; i++)
                {
                    var key = heldKeys[i];
                    if (string.IsNullOrEmpty(key) || IndexOf(heldKeys, key, i) >= 0) continue; // empty or a repeat
                    if (count >= keys.Length || keys[count] != key) return false;
                    count++;
                }
            return count == keys.Length;
        }

        static int IndexOf(IList<string> list, string value, int before)
        {
            for (int i = 0; i < before; i++)
                if (list[i] == value) return i;
            return -1;
        }

        public double MoveX { get; }
        public double MoveY { get; }
        public double LookX { get; }
        public double LookY { get; }
        public IReadOnlyList<string> Keys => Array.AsReadOnly(keys);

        /// <summary>Axes outside [-1, 1] are clamped; NaN (a broken input device) reads as 0.</summary>
        static double Clamp(double value) => double.IsNaN(value) ? 0 : Math.Max(-1, Math.Min(1, value));

        public bool Equals(InputState other)
        {
            if (other == null) return false;
            if (MoveX != other.MoveX || MoveY != other.MoveY || LookX != other.LookX || LookY != other.LookY) return false;
            if (keys.Length != other.keys.Length) return false;
            for (int i = 0; i < keys.Length; i++)
                if (keys[i] != other.keys[i]) return false;
            return true;
        }

        public override bool Equals(object obj) => Equals(obj as InputState);

        public override int GetHashCode() => MoveX.GetHashCode() ^ (MoveY.GetHashCode() * 3) ^ (LookX.GetHashCode() * 7) ^
                                             (LookY.GetHashCode() * 13) ^ keys.Length;

        public override string ToString() =>
            $"move ({MoveX:0.##}, {MoveY:0.##}) look ({LookX:0.##}, {LookY:0.##}) keys [{string.Join(",", keys)}]";
    }

    /// <summary>The W3C KeyboardEvent.code values the daemon understands (SPEC §5.6).</summary>
    public static class KeyCodes
    {
        public const string W = "KeyW", A = "KeyA", S = "KeyS", D = "KeyD";
        public const string ArrowUp = "ArrowUp", ArrowDown = "ArrowDown", ArrowLeft = "ArrowLeft", ArrowRight = "ArrowRight";
        public const string I = "KeyI", J = "KeyJ", K = "KeyK", L = "KeyL";
    }
}

// The decoded tree shared by the JSON and MessagePack codecs: one value model, two wire formats.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Yume.Bridge.Core
{
    public enum WireKind { Nil, Bool, Integer, Float, String, Bytes, Array, Map, Extension }

    /// <summary>
    /// An immutable value read from, or to be written to, a control datagram.
    /// Integers keep sign and magnitude separately so every int64 and uint64 survives;
    /// a JSON integer too large for 64 bits is kept as <see cref="IntegerOverflows"/>.
    /// </summary>
    public sealed class WireValue
    {
        public static readonly WireValue Nil = new WireValue(WireKind.Nil);
        public static readonly WireValue True = new WireValue(WireKind.Bool) { boolValue = true };
        public static readonly WireValue False = new WireValue(WireKind.Bool) { boolValue = false };

        bool boolValue;
        bool negative;
        ulong magnitude;
        bool overflows;
        double floatValue;
        string text;
        byte[] bytes;
        IReadOnlyList<WireValue> items;
        IReadOnlyList<KeyValuePair<string, WireValue>> entries;

        WireValue(WireKind kind) { Kind = kind; }

        public WireKind Kind { get; }

        public static WireValue Bool(bool value) => value ? True : False;

        public static WireValue Integer(long value) => value < 0
            ? new WireValue(WireKind.Integer) { negative = true, magnitude = unchecked((ulong)(-(value + 1))) + 1UL }
            : new WireValue(WireKind.Integer) { magnitude = (ulong)value };

        public static WireValue Unsigned(ulong value) => new WireValue(WireKind.Integer) { magnitude = value };

        /// <summary>An integer literal beyond 64 bits (JSON only); any integer field rejects it as out of range.</summary>
        public static WireValue OverflowingInteger(bool isNegative) =>
            new WireValue(WireKind.Integer) { negative = isNegative, overflows = true, magnitude = ulong.MaxValue };

        public static WireValue Float(double value) => new WireValue(WireKind.Float) { floatValue = value };

        public static WireValue String(string value)
        {
            if (value == null) throw new ArgumentNullException(nameof(value));
            return new WireValue(WireKind.String) { text = value };
        }

        public static WireValue Bytes(byte[] value)
        {
            if (value == null) throw new ArgumentNullException(nameof(value));
            return new WireValue(WireKind.Bytes) { bytes = (byte[])value.Clone() };
        }

        /// <summary>A MessagePack ext value; kept only so that unknown fields can be skipped.</summary>
        public static WireValue Extension(sbyte type, byte[] data) =>
            new WireValue(WireKind.Extension) { magnitude = (ulong)(byte)type, bytes = data };

        public static WireValue Array(IList<WireValue> values) =>
            new WireValue(WireKind.Array) { items = new List<WireValue>(values).AsReadOnly() };

        public static WireValue Map(IList<KeyValuePair<string, WireValue>> fields) =>
            new WireValue(WireKind.Map) { entries = new List<KeyValuePair<string, WireValue>>(fields).AsReadOnly() };

        public bool AsBool => Expect(WireKind.Bool).boolValue;
        public double AsFloat => Expect(WireKind.Float).floatValue;
        public string AsString => Expect(WireKind.String).text;
        public byte[] AsBytes => (byte[])Expect(WireKind.Bytes).bytes.Clone();
        public IReadOnlyList<WireValue> AsArray => Expect(WireKind.Array).items;
        public IReadOnlyList<KeyValuePair<string, WireValue>> AsMap => Expect(WireKind.Map).entries;

        public bool IntegerIsNegative => Expect(WireKind.Integer).negative;
        public bool IntegerOverflows => Expect(WireKind.Integer).overflows;

        /// <summary>The integer as int64, or false when it does not fit.</summary>
        public bool TryGetInt64(out long value)
        {
            Expect(WireKind.Integer);
            value = 0;
            if (overflows) return false;
            if (!negative)
            {
                if (magnitude > long.MaxValue) return false;
                value = (long)magnitude;
                return true;
            }
            if (magnitude > 1UL + long.MaxValue) return false;
            value = magnitude == 1UL + long.MaxValue ? long.MinValue : -(long)magnitude;
            return true;
        }

        /// <summary>The integer as uint64, or false when it is negative or too large.</summary>
        public bool TryGetUInt64(out ulong value)
        {
            Expect(WireKind.Integer);
            value = magnitude;
            return !negative && !overflows;
        }

        /// <summary>The value of a map field, or null when the map lacks it.</summary>
        public WireValue Field(string name)
        {
            foreach (var entry in AsMap)
                if (entry.Key == name) return entry.Value;
            return null;
        }

        WireValue Expect(WireKind kind)
        {
            if (Kind != kind) throw new InvalidOperationException($"wire value is {Kind}, not {kind}");
            return this;
        }

        /// <summary>Structural equality: same kinds, same values; maps compare as unordered sets of fields.</summary>
        public static bool StructurallyEqual(WireValue a, WireValue b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a == null || b == null || a.Kind != b.Kind) return false;
            switch (a.Kind)
            {
                case WireKind.Nil: return true;
                case WireKind.Bool: return a.boolValue == b.boolValue;
                case WireKind.Integer:
                    return a.negative == b.negative && a.magnitude == b.magnitude && a.overflows == b.overflows;
                case WireKind.Float: return a.floatValue.Equals(b.floatValue);
                case WireKind.String: return a.text == b.text;
                case WireKind.Bytes:
                case WireKind.Extension:
                    return a.magnitude == b.magnitude && ByteArrays.Equal(a.bytes, b.bytes);
                case WireKind.Array:
                    if (a.items.Count != b.items.Count) return false;
                    for (int i = 0; i < a.items.Count; i++)
                        if (!StructurallyEqual(a.items[i], b.items[i])) return false;
                    return true;
                case WireKind.Map:
                    if (a.entries.Count != b.entries.Count) return false;
                    foreach (var entry in a.entries)
                        if (!StructurallyEqual(entry.Value, b.Field(entry.Key))) return false;
                    return true;
                default: return false;
            }
        }

        /// <summary>A readable rendering for test failures and logs (not the wire JSON).</summary>
        public override string ToString()
        {
            var sb = new StringBuilder();
            Describe(sb);
            return sb.ToString();
        }

        void Describe(StringBuilder sb)
        {
            switch (Kind)
            {
                case WireKind.Nil: sb.Append("nil"); break;
                case WireKind.Bool: sb.Append(boolValue ? "true" : "false"); break;
                case WireKind.Integer:
                    if (overflows) sb.Append(negative ? "-huge" : "huge");
                    else sb.Append(negative ? "-" : "").Append(magnitude.ToString(CultureInfo.InvariantCulture));
                    break;
                case WireKind.Float: sb.Append(floatValue.ToString("R", CultureInfo.InvariantCulture)).Append('f'); break;
                case WireKind.String: sb.Append('"').Append(text).Append('"'); break;
                case WireKind.Bytes: sb.Append("h'").Append(ByteArrays.ToHex(bytes)).Append('\''); break;
                case WireKind.Extension: sb.Append("ext(").Append(magnitude).Append(')'); break;
                case WireKind.Array:
                    sb.Append('[');
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        items[i].Describe(sb);
                    }
                    sb.Append(']');
                    break;
                case WireKind.Map:
                    sb.Append('{');
                    for (int i = 0; i < entries.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        sb.Append(entries[i].Key).Append(": ");
                        entries[i].Value.Describe(sb);
                    }
                    sb.Append('}');
                    break;
            }
        }
    }

    /// <summary>Small helpers for byte arrays used across the core.</summary>
    public static class ByteArrays
    {
        public static bool Equal(byte[] a, byte[] b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a == null || b == null || a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
                if (a[i] != b[i]) return false;
            return true;
        }

        /// <summary>Compares in time independent of where the arrays differ (for tags).</summary>
        public static bool ConstantTimeEqual(byte[] a, int aOffset, byte[] b, int bOffset, int count)
        {
            int difference = 0;
            for (int i = 0; i < count; i++) difference |= a[aOffset + i] ^ b[bOffset + i];
            return difference == 0;
        }

        public static string ToHex(byte[] data)
        {
            var sb = new StringBuilder(data.Length * 2);
            foreach (byte b in data) sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        public static byte[] FromHex(string hex)
        {
            if (hex.Length % 2 != 0) throw new FormatException("hex string has an odd length");
            var result = new byte[hex.Length / 2];
            for (int i = 0; i < result.Length; i++)
                result[i] = byte.Parse(hex.Substring(2 * i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return result;
        }

        public static byte[] Slice(byte[] data, int offset, int count)
        {
            var result = new byte[count];
            Buffer.BlockCopy(data, offset, result, 0, count);
            return result;
        }

        public static byte[] Concat(byte[] a, byte[] b)
        {
            var result = new byte[a.Length + b.Length];
            Buffer.BlockCopy(a, 0, result, 0, a.Length);
            Buffer.BlockCopy(b, 0, result, a.Length, b.Length);
            return result;
        }
    }
}

// A small strict JSON (RFC 8259) reader and a compact writer for control messages.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace Yume.Bridge.Core
{
    /// <summary>
    /// Reads one JSON value from UTF-8 bytes and reports where it ended, so that a tag may follow.
    /// Strict: no NaN/Infinity literals, no comments, no leading zeros, no raw control characters,
    /// no duplicate keys, invalid UTF-8 rejected. Integers (no fraction, no exponent) stay integers.
    /// </summary>
    public static class JsonReader
    {
        public const int MaxDepth = 32;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Parses the value starting at <paramref name="start"/>; <paramref name="end"/> is the index after it.</summary>
        public static WireValue Parse(byte[] data, int start, int length, out int end)
        {
            var parser = new Parser(data, start, start + length);
            var value = parser.ParseValue(0);
            end = parser.Position;
            return value;
        }

        /// <summary>Parses a whole document (whitespace allowed around it); used for test vectors and files.</summary>
        public static WireValue ParseDocument(string text)
        {
            var bytes = StrictUtf8.GetBytes(text);
            var parser = new Parser(bytes, 0, bytes.Length);
            parser.SkipWhitespace();
            var value = parser.ParseValue(0);
            parser.SkipWhitespace();
            if (parser.Position != bytes.Length) throw ProtocolViolation.Malformed("bytes after the JSON document");
            return value;
        }

        sealed class Parser
        {
            readonly byte[] data;
            readonly int limit;
            public int Position;

            public Parser(byte[] data, int start, int limit)
            {
                this.data = data;
                Position = start;
                this.limit = limit;
            }

            public void SkipWhitespace()
            {
                while (Position < limit)
                {
                    byte b = data[Position];
                    if (b != (byte)' ' && b != (byte)'\t' && b != (byte)'\n' && b != (byte)'\r') return;
                    Position++;
                }
            }

            byte Peek()
            {
                if (Position >= limit) throw ProtocolViolation.Malformed("JSON ends early");
                return data[Position];
            }

            void Expect(byte expected)
            {
                if (Peek() != expected)
                    throw ProtocolViolation.Malformed($"expected '{(char)expected}' at byte {Position}");
                Position++;
            }

            public WireValue ParseValue(int depth)
            {
                if (depth > MaxDepth) throw ProtocolViolation.Malformed("JSON nests too deeply");
                byte b = Peek();
                switch (b)
                {
                    case (byte)'{': return ParseObject(depth);
                    case (byte)'[': return ParseArray(depth);
                    case (byte)'"': return WireValue.String(ParseString());
                    case (byte)'t': ExpectWord("true"); return WireValue.True;
                    case (byte)'f': ExpectWord("false"); return WireValue.False;
                    case (byte)'n': ExpectWord("null"); return WireValue.Nil;
                    default:
                        if (b == (byte)'-' || (b >= (byte)'0' && b <= (byte)'9')) return ParseNumber();
                        throw ProtocolViolation.Malformed($"unexpected byte 0x{b:x2} at {Position} (NaN and Infinity are not JSON)");
                }
            }

            void ExpectWord(string word)
            {
                foreach (char c in word) Expect((byte)c);
            }

            WireValue ParseObject(int depth)
            {
                Expect((byte)'{');
                var fields = new List<KeyValuePair<string, WireValue>>();
                var seen = new HashSet<string>();
                SkipWhitespace();
                if (Peek() == (byte)'}')
                {
                    Position++;
                    return WireValue.Map(fields);
                }
                while (true)
                {
                    SkipWhitespace();
                    if (Peek() != (byte)'"') throw ProtocolViolation.Malformed("object key is not a string");
                    string key = ParseString();
                    if (!seen.Add(key)) throw ProtocolViolation.Malformed($"duplicate key \"{key}\"");
                    SkipWhitespace();
                    Expect((byte)':');
                    SkipWhitespace();
                    fields.Add(new KeyValuePair<string, WireValue>(key, ParseValue(depth + 1)));
                    SkipWhitespace();
                    byte b = Peek();
                    Position++;
                    if (b == (byte)'}') return WireValue.Map(fields);
                    if (b != (byte)',') throw ProtocolViolation.Malformed($"expected ',' or '}}' at byte {Position - 1}");
                }
            }

            WireValue ParseArray(int depth)
            {
                Expect((byte)'[');
                var items = new List<WireValue>();
                SkipWhitespace();
                if (Peek() == (byte)']')
                {
                    Position++;
                    return WireValue.Array(items);
                }
                while (true)
                {
                    SkipWhitespace();
                    items.Add(ParseValue(depth + 1));
                    SkipWhitespace();
                    byte b = Peek();
                    Position++;
                    if (b == (byte)']') return WireValue.Array(items);
                    if (b != (byte)',') throw ProtocolViolation.Malformed($"expected ',' or ']' at byte {Position - 1}");
                }
            }

            string ParseString()
            {
                Expect((byte)'"');
                var builder = new StringBuilder();
                int runStart = Position;
                while (true)
                {
                    byte b = Peek();
                    if (b == (byte)'"')
                    {
                        AppendUtf8(builder, runStart, Position);
                        Position++;
                        return builder.ToString();
                    }
                    if (b < 0x20) throw ProtocolViolation.Malformed("raw control character in a JSON string");
                    if (b != (byte)'\\')
                    {
                        Position++;
                        continue;
                    }
                    AppendUtf8(builder, runStart, Position);
                    Position++;
                    byte escape = Peek();
                    Position++;
                    switch (escape)
                    {
                        case (byte)'"': builder.Append('"'); break;
                        case (byte)'\\': builder.Append('\\'); break;
                        case (byte)'/': builder.Append('/'); break;
                        case (byte)'b': builder.Append('\b'); break;
                        case (byte)'f': builder.Append('\f'); break;
                        case (byte)'n': builder.Append('\n'); break;
                        case (byte)'r': builder.Append('\r'); break;
                        case (byte)'t': builder.Append('\t'); break;
                        case (byte)'u': builder.Append(ParseUnicodeEscape()); break;
                        default: throw ProtocolViolation.Malformed("unknown escape in a JSON string");
                    }
                    runStart = Position;
                }
            }

            string ParseUnicodeEscape()
            {
                char first = (char)ParseHex4();
                if (!char.IsSurrogate(first)) return first.ToString();
                if (char.IsHighSurrogate(first) && Position + 6 <= limit && data[Position] == (byte)'\\' && data[Position + 1] == (byte)'u')
                {
                    Position += 2;
                    char second = (char)ParseHex4();
                    if (char.IsLowSurrogate(second)) return new string(new[] { first, second });
                }
                throw ProtocolViolation.Malformed("lone surrogate in a JSON string");
            }

            int ParseHex4()
            {
                if (Position + 4 > limit) throw ProtocolViolation.Malformed("JSON ends inside \\u escape");
                int value = 0;
                for (int i = 0; i < 4; i++)
                {
                    int digit = HexDigit(data[Position++]);
                    if (digit < 0) throw ProtocolViolation.Malformed("bad \\u escape");
                    value = value * 16 + digit;
                }
                return value;
            }

            static int HexDigit(byte b)
            {
                if (b >= (byte)'0' && b <= (byte)'9') return b - '0';
                if (b >= (byte)'a' && b <= (byte)'f') return b - 'a' + 10;
                if (b >= (byte)'A' && b <= (byte)'F') return b - 'A' + 10;
                return -1;
            }

            void AppendUtf8(StringBuilder builder, int from, int to)
            {
                if (to <= from) return;
                try
                {
                    builder.Append(StrictUtf8.GetString(data, from, to - from));
                }
                catch (ArgumentException)
                {
                    throw ProtocolViolation.Malformed("invalid UTF-8 in a JSON string");
                }
            }

            WireValue ParseNumber()
            {
                int start = Position;
                bool negative = false;
                if (data[Position] == (byte)'-')
                {
                    negative = true;
                    Position++;
                }
                if (Peek() == (byte)'0')
                {
                    Position++;
                }
                else if (Peek() >= (byte)'1' && Peek() <= (byte)'9')
                {
                    while (Position < limit && IsDigit(data[Position])) Position++;
                }
                else throw ProtocolViolation.Malformed("bad JSON number");
                bool isInteger = true;
                if (Position < limit && data[Position] == (byte)'.')
                {
                    isInteger = false;
                    Position++;
                    if (Position >= limit || !IsDigit(data[Position])) throw ProtocolViolation.Malformed("bad JSON fraction");
                    while (Position < limit && IsDigit(data[Position])) Position++;
                }
                if (Position < limit && (data[Position] == (byte)'e' || data[Position] == (byte)'E'))
                {
                    isInteger = false;
                    Position++;
                    if (Position < limit && (data[Position] == (byte)'+' || data[Position] == (byte)'-')) Position++;
                    if (Position >= limit || !IsDigit(data[Position])) throw ProtocolViolation.Malformed("bad JSON exponent");
                    while (Position < limit && IsDigit(data[Position])) Position++;
                }
                string literal = Encoding.ASCII.GetString(data, start, Position - start);
                if (isInteger)
                {
                    string digits = negative ? literal.Substring(1) : literal;
                    ulong magnitude;
                    if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude))
                        return WireValue.OverflowingInteger(negative);
                    if (!negative) return WireValue.Unsigned(magnitude);
                    if (magnitude == 0) return WireValue.Integer(0);
                    if (magnitude > 1UL + long.MaxValue) return WireValue.OverflowingInteger(true);
                    return WireValue.Integer(magnitude == 1UL + long.MaxValue ? long.MinValue : -(long)magnitude);
                }
                double value;
                try
                {
                    value = double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
                }
                catch (OverflowException)
                {
                    // Older runtimes throw where newer ones return infinity; either way the float is not finite.
                    value = negative ? double.NegativeInfinity : double.PositiveInfinity;
                }
                return WireValue.Float(value);
            }

            static bool IsDigit(byte b) => b >= (byte)'0' && b <= (byte)'9';
        }
    }

    /// <summary>
    /// Writes a <see cref="WireValue"/> as compact JSON: no spaces, non-ASCII characters unescaped,
    /// bytes as standard base64, floats always with a fraction or exponent. The output matches
    /// the daemon's encoder byte for byte on the protocol vectors.
    /// </summary>
    public static class JsonWriter
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public static byte[] Write(WireValue value)
        {
            var sb = new StringBuilder(256);
            Append(sb, value);
            try
            {
                return StrictUtf8.GetBytes(sb.ToString());
            }
            catch (ArgumentException)
            {
                throw new ArgumentException("a string in the message is not valid Unicode (lone surrogate)");
            }
        }

        static void Append(StringBuilder sb, WireValue value)
        {
            switch (value.Kind)
            {
                case WireKind.Nil: sb.Append("null"); break;
                case WireKind.Bool: sb.Append(value.AsBool ? "true" : "false"); break;
                case WireKind.Integer:
                    if (value.IntegerOverflows) throw new ArgumentException("integer does not fit 64 bits");
                    long signed;
                    ulong unsigned;
                    if (value.TryGetUInt64(out unsigned)) sb.Append(unsigned.ToString(CultureInfo.InvariantCulture));
                    else if (value.TryGetInt64(out signed)) sb.Append(signed.ToString(CultureInfo.InvariantCulture));
                    break;
                case WireKind.Float: sb.Append(FormatFloat(value.AsFloat)); break;
                case WireKind.String: AppendString(sb, value.AsString); break;
                case WireKind.Bytes: sb.Append('"').Append(Convert.ToBase64String(value.AsBytes)).Append('"'); break;
                case WireKind.Array:
                    sb.Append('[');
                    var items = value.AsArray;
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        Append(sb, items[i]);
                    }
                    sb.Append(']');
                    break;
                case WireKind.Map:
                    sb.Append('{');
                    var fields = value.AsMap;
                    for (int i = 0; i < fields.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        AppendString(sb, fields[i].Key);
                        sb.Append(':');
                        Append(sb, fields[i].Value);
                    }
                    sb.Append('}');
                    break;
                default: throw new ArgumentException($"{value.Kind} has no JSON form");
            }
        }

        /// <summary>Shortest round-trip form, always marked as a float ("16.0", "0.75", "1e-05").</summary>
        public static string FormatFloat(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new ArgumentException("JSON has no literal for NaN or infinity");
            if (value == Math.Floor(value) && Math.Abs(value) < 1e16)
            {
                bool negativeZero = value == 0 && BitConverter.DoubleToInt64Bits(value) < 0;
                return (negativeZero ? "-" : "") + ((long)value).ToString(CultureInfo.InvariantCulture) + ".0";
            }
            // Shortest form that reads back as the same double (like Python's repr); "R" is not shortest on every runtime.
            string text = null;
            for (int precision = 15; precision <= 17 && text == null; precision++)
            {
                string candidate = value.ToString("G" + precision, CultureInfo.InvariantCulture);
                if (double.Parse(candidate, CultureInfo.InvariantCulture) == value || precision == 17) text = candidate;
            }
            text = text.Replace('E', 'e');
            if (text.IndexOf('.') < 0 && text.IndexOf('e') < 0) text += ".0";
            return text;
        }

        static void AppendString(StringBuilder sb, string text)
        {
            sb.Append('"');
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }
    }

    /// <summary>Standard base64 with padding (RFC 4648 §4), strictly: no whitespace, no URL alphabet, canonical padding bits.</summary>
    public static class StrictBase64
    {
        public static bool TryDecode(string text, out byte[] result)
        {
            result = null;
            if (text.Length % 4 != 0) return false;
            int padding = 0;
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
                if (c == '=')
                {
                    if (i < text.Length - 2) return false;
                    padding++;
                }
                else if (!alphabet || padding > 0) return false;
            }
            try
            {
                result = Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                return false;
            }
            // Reject non-canonical encodings (unused bits set), so that each byte string has one text form.
            return Convert.ToBase64String(result) == text;
        }
    }
}

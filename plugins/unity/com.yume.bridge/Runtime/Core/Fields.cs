// Typed, validated access to the fields of a decoded message (SPEC §2.1) and an ordered field builder.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Yume.Bridge.Core
{
    public enum WireEncoding { Json, MsgPack }

    /// <summary>
    /// Reads the fields of one message map. A missing required field or a wrong type is
    /// <c>bad_message</c>; a number outside its range or a non-finite float is <c>value_out_of_range</c>.
    /// In JSON, <c>bytes</c> are base64 strings; in MessagePack they must be bin.
    /// </summary>
    public sealed class FieldReader
    {
        readonly WireValue map;
        readonly WireEncoding encoding;
        readonly string context;

        public FieldReader(WireValue map, WireEncoding encoding, string context)
        {
            if (map.Kind != WireKind.Map) throw ProtocolViolation.Malformed($"{context} is not a map");
            this.map = map;
            this.encoding = encoding;
            this.context = context;
        }

        public bool Has(string name) => map.Field(name) != null;

        WireValue Required(string name)
        {
            var value = map.Field(name);
            if (value == null) throw ProtocolViolation.Malformed($"{context}.{name} is missing");
            return value;
        }

        ProtocolViolation WrongType(string name, string expected) =>
            ProtocolViolation.Malformed($"{context}.{name} is not {expected}");

        // ---- integers -------------------------------------------------------------------------

        public long Int(string name, long min = long.MinValue, long max = long.MaxValue) => IntOf(name, Required(name), min, max);

        public long Int(string name, long defaultValue, long min, long max)
        {
            var value = map.Field(name);
            return value == null ? defaultValue : IntOf(name, value, min, max);
        }

        public uint U32(string name) => (uint)Int(name, 0, uint.MaxValue);

        public uint U32(string name, uint defaultValue) => (uint)Int(name, defaultValue, 0, uint.MaxValue);

        public uint? OptionalU32(string name) => Has(name) ? U32(name) : (uint?)null;

        public long? OptionalInt(string name, long min, long max) => Has(name) ? Int(name, min, max) : (long?)null;

        long IntOf(string name, WireValue value, long min, long max)
        {
            long result;
            if (value.Kind == WireKind.Float)
            {
                // v1.1: an integral float (7.0, as some engines' JSON writers emit) is accepted as an integer; 7.5 is not.
                double number = value.AsFloat;
                if (Math.Floor(number) != number || number < long.MinValue || number > long.MaxValue) throw WrongType(name, "an integer");
                result = (long)number;
                if (result < min || result > max) throw ProtocolViolation.OutOfRange($"{context}.{name} is outside {min}…{max}");
                return result;
            }
            if (value.Kind != WireKind.Integer) throw WrongType(name, "an integer");
            if (!value.TryGetInt64(out result) || result < min || result > max)
                throw ProtocolViolation.OutOfRange($"{context}.{name} is outside {min}…{max}");
            return result;
        }

        // ---- floats ---------------------------------------------------------------------------

        public double Float(string name, double min = double.MinValue, double max = double.MaxValue) =>
            FloatOf(name, Required(name), min, max);

        public double Float(string name, double defaultValue, double min, double max)
        {
            var value = map.Field(name);
            return value == null ? defaultValue : FloatOf(name, value, min, max);
        }

        public double? OptionalFloat(string name, double min, double max) =>
            Has(name) ? Float(name, min, max) : (double?)null;

        double FloatOf(string name, WireValue value, double min, double max)
        {
            double result;
            if (value.Kind == WireKind.Float) result = value.AsFloat;
            else if (value.Kind == WireKind.Integer)
            {
                long integer;
                if (!value.TryGetInt64(out integer)) throw ProtocolViolation.OutOfRange($"{context}.{name} is too large");
                result = integer;
            }
            else throw WrongType(name, "a number");
            if (double.IsNaN(result) || double.IsInfinity(result))
                throw ProtocolViolation.OutOfRange($"{context}.{name} is not finite");
            if (result < min || result > max)
                throw ProtocolViolation.OutOfRange($"{context}.{name} is outside {min.ToString(CultureInfo.InvariantCulture)}…{max.ToString(CultureInfo.InvariantCulture)}");
            return result;
        }

        /// <summary>A list of exactly two floats, each in [min, max] (input axes).</summary>
        public double[] FloatPair(string name, double[] defaultValue, double min, double max)
        {
            var value = map.Field(name);
            if (value == null) return (double[])defaultValue.Clone();
            if (value.Kind != WireKind.Array) throw WrongType(name, "a list");
            if (value.AsArray.Count != 2) throw ProtocolViolation.Malformed($"{context}.{name} does not have 2 items");
            var result = new double[2];
            for (int i = 0; i < 2; i++) result[i] = FloatOf(name, value.AsArray[i], min, max);
            return result;
        }

        // ---- other scalars --------------------------------------------------------------------

        public bool Bool(string name) => BoolOf(name, Required(name));

        public bool Bool(string name, bool defaultValue)
        {
            var value = map.Field(name);
            return value == null ? defaultValue : BoolOf(name, value);
        }

        public bool? OptionalBool(string name) => Has(name) ? Bool(name) : (bool?)null;

        bool BoolOf(string name, WireValue value)
        {
            if (value.Kind != WireKind.Bool) throw WrongType(name, "a bool");
            return value.AsBool;
        }

        public string String(string name, int maxCodePoints = int.MaxValue) => StringOf(name, Required(name), maxCodePoints);

        public string String(string name, string defaultValue, int maxCodePoints = int.MaxValue)
        {
            var value = map.Field(name);
            return value == null ? defaultValue : StringOf(name, value, maxCodePoints);
        }

        string StringOf(string name, WireValue value, int maxCodePoints)
        {
            if (value.Kind != WireKind.String) throw WrongType(name, "a string");
            if (CodePoints.Count(value.AsString) > maxCodePoints)
                throw ProtocolViolation.OutOfRange($"{context}.{name} is longer than {maxCodePoints} characters");
            return value.AsString;
        }

        /// <summary>Bytes whose length must be in [minLength, maxLength]; a wrong length is <c>bad_message</c>.</summary>
        public byte[] Bytes(string name, int minLength, int maxLength) => BytesOf(name, Required(name), minLength, maxLength);

        public byte[] OptionalBytes(string name, int minLength, int maxLength)
        {
            var value = map.Field(name);
            return value == null ? null : BytesOf(name, value, minLength, maxLength);
        }

        byte[] BytesOf(string name, WireValue value, int minLength, int maxLength)
        {
            byte[] bytes;
            if (encoding == WireEncoding.Json)
            {
                if (value.Kind != WireKind.String) throw WrongType(name, "a base64 string");
                if (!StrictBase64.TryDecode(value.AsString, out bytes))
                    throw ProtocolViolation.Malformed($"{context}.{name} is not standard base64");
            }
            else
            {
                if (value.Kind != WireKind.Bytes) throw WrongType(name, "bin");
                bytes = value.AsBytes;
            }
            if (bytes.Length < minLength || bytes.Length > maxLength)
                throw ProtocolViolation.Malformed(minLength == maxLength
                    ? $"{context}.{name} is {bytes.Length} bytes, not {minLength}"
                    : $"{context}.{name} is {bytes.Length} bytes, not {minLength}…{maxLength}");
            return bytes;
        }

        // ---- containers -----------------------------------------------------------------------

        IReadOnlyList<WireValue> ListOf(string name, WireValue value, int maxCount)
        {
            if (value.Kind != WireKind.Array) throw WrongType(name, "a list");
            if (value.AsArray.Count > maxCount)
                throw ProtocolViolation.OutOfRange($"{context}.{name} has more than {maxCount} items");
            return value.AsArray;
        }

        public string[] StringList(string name, int maxCount = int.MaxValue) => StringListOf(name, Required(name), maxCount);

        public string[] StringList(string name, string[] defaultValue, int maxCount)
        {
            var value = map.Field(name);
            return value == null ? (string[])defaultValue.Clone() : StringListOf(name, value, maxCount);
        }

        string[] StringListOf(string name, WireValue value, int maxCount)
        {
            var items = ListOf(name, value, maxCount);
            var result = new string[items.Count];
            for (int i = 0; i < items.Count; i++) result[i] = StringOf(name, items[i], int.MaxValue);
            return result;
        }

        public long[] IntList(string name, long min, long max, int maxCount = int.MaxValue)
        {
            var items = ListOf(name, Required(name), maxCount);
            var result = new long[items.Count];
            for (int i = 0; i < items.Count; i++) result[i] = IntOf(name, items[i], min, max);
            return result;
        }

        public FieldReader Map(string name)
        {
            var value = Required(name);
            if (value.Kind != WireKind.Map) throw WrongType(name, "a map");
            return new FieldReader(value, encoding, context + "." + name);
        }
    }

    /// <summary>Builds a message map with fields in a fixed order (the order of SPEC §5's tables).</summary>
    public sealed class FieldWriter
    {
        readonly List<KeyValuePair<string, WireValue>> fields = new List<KeyValuePair<string, WireValue>>();

        public FieldWriter Add(string name, WireValue value)
        {
            fields.Add(new KeyValuePair<string, WireValue>(name, value));
            return this;
        }

        public FieldWriter Int(string name, long value) => Add(name, WireValue.Integer(value));
        public FieldWriter Float(string name, double value) => Add(name, WireValue.Float(value));
        public FieldWriter Bool(string name, bool value) => Add(name, WireValue.Bool(value));
        public FieldWriter String(string name, string value) => Add(name, WireValue.String(value));
        public FieldWriter Bytes(string name, byte[] value) => Add(name, WireValue.Bytes(value));

        public FieldWriter FloatList(string name, IList<double> values)
        {
            var items = new List<WireValue>();
            foreach (var v in values) items.Add(WireValue.Float(v));
            return Add(name, WireValue.Array(items));
        }

        public FieldWriter IntList(string name, IEnumerable<long> values)
        {
            var items = new List<WireValue>();
            foreach (var v in values) items.Add(WireValue.Integer(v));
            return Add(name, WireValue.Array(items));
        }

        public FieldWriter StringList(string name, IEnumerable<string> values)
        {
            var items = new List<WireValue>();
            foreach (var v in values) items.Add(WireValue.String(v));
            return Add(name, WireValue.Array(items));
        }

        public FieldWriter Map(string name, FieldWriter inner) => Add(name, inner.ToValue());

        public WireValue ToValue() => WireValue.Map(fields);
    }

    /// <summary>SPEC lengths are in Unicode code points, not UTF-16 units.</summary>
    public static class CodePoints
    {
        public static int Count(string text)
        {
            int count = 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
                count++;
            }
            return count;
        }
    }
}

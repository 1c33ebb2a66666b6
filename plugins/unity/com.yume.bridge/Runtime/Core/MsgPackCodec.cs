// A MessagePack subset codec: every type is read (so unknown fields can be skipped); maps need string keys.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Yume.Bridge.Core
{
    /// <summary>Reads one MessagePack value and reports where it ended, so that a tag may follow.</summary>
    public static class MsgPackReader
    {
        public const int MaxDepth = 32;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public static WireValue Parse(byte[] data, int start, int length, out int end)
        {
            int position = start;
            var value = ReadValue(data, ref position, start + length, 0);
            end = position;
            return value;
        }

        static WireValue ReadValue(byte[] d, ref int p, int limit, int depth)
        {
            if (depth > MaxDepth) throw ProtocolViolation.Malformed("MessagePack nests too deeply");
            byte b = Take(d, ref p, limit, 1)[0];
            if (b <= 0x7f) return WireValue.Unsigned(b);
            if (b >= 0xe0) return WireValue.Integer((sbyte)b);
            if (b >= 0x80 && b <= 0x8f) return ReadMap(d, ref p, limit, b & 0x0f, depth);
            if (b >= 0x90 && b <= 0x9f) return ReadArray(d, ref p, limit, b & 0x0f, depth);
            if (b >= 0xa0 && b <= 0xbf) return ReadString(d, ref p, limit, b & 0x1f);
            switch (b)
            {
                case 0xc0: return WireValue.Nil;
                case 0xc2: return WireValue.False;
                case 0xc3: return WireValue.True;
                case 0xc4: return WireValue.Bytes(TakeCopy(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 1)));
                case 0xc5: return WireValue.Bytes(TakeCopy(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 2)));
                case 0xc6: return WireValue.Bytes(TakeCopy(d, ref p, limit, CheckedLength(ReadBigEndian(d, ref p, limit, 4))));
                case 0xc7: return ReadExtension(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 1));
                case 0xc8: return ReadExtension(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 2));
                case 0xc9: return ReadExtension(d, ref p, limit, CheckedLength(ReadBigEndian(d, ref p, limit, 4)));
                case 0xca:
                    {
                        var raw = (uint)ReadBigEndian(d, ref p, limit, 4);
                        return WireValue.Float(BitConverter.ToSingle(BitConverter.GetBytes(raw), 0));
                    }
                case 0xcb: return WireValue.Float(BitConverter.Int64BitsToDouble((long)ReadBigEndian(d, ref p, limit, 8)));
                case 0xcc: return WireValue.Unsigned(ReadBigEndian(d, ref p, limit, 1));
                case 0xcd: return WireValue.Unsigned(ReadBigEndian(d, ref p, limit, 2));
                case 0xce: return WireValue.Unsigned(ReadBigEndian(d, ref p, limit, 4));
                case 0xcf: return WireValue.Unsigned(ReadBigEndian(d, ref p, limit, 8));
                case 0xd0: return WireValue.Integer((sbyte)ReadBigEndian(d, ref p, limit, 1));
                case 0xd1: return WireValue.Integer((short)ReadBigEndian(d, ref p, limit, 2));
                case 0xd2: return WireValue.Integer((int)ReadBigEndian(d, ref p, limit, 4));
                case 0xd3: return WireValue.Integer((long)ReadBigEndian(d, ref p, limit, 8));
                case 0xd4: return ReadExtension(d, ref p, limit, 1);
                case 0xd5: return ReadExtension(d, ref p, limit, 2);
                case 0xd6: return ReadExtension(d, ref p, limit, 4);
                case 0xd7: return ReadExtension(d, ref p, limit, 8);
                case 0xd8: return ReadExtension(d, ref p, limit, 16);
                case 0xd9: return ReadString(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 1));
                case 0xda: return ReadString(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 2));
                case 0xdb: return ReadString(d, ref p, limit, CheckedLength(ReadBigEndian(d, ref p, limit, 4)));
                case 0xdc: return ReadArray(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 2), depth);
                case 0xdd: return ReadArray(d, ref p, limit, CheckedLength(ReadBigEndian(d, ref p, limit, 4)), depth);
                case 0xde: return ReadMap(d, ref p, limit, (int)ReadBigEndian(d, ref p, limit, 2), depth);
                case 0xdf: return ReadMap(d, ref p, limit, CheckedLength(ReadBigEndian(d, ref p, limit, 4)), depth);
                default: throw ProtocolViolation.Malformed($"0x{b:x2} is not a MessagePack type");
            }
        }

        static int CheckedLength(ulong length)
        {
            // A control datagram is at most 64 KiB, so anything larger is a lie about the length.
            if (length > int.MaxValue) throw ProtocolViolation.Malformed("MessagePack length beyond the datagram");
            return (int)length;
        }

        static WireValue ReadMap(byte[] d, ref int p, int limit, int count, int depth)
        {
            if (count > limit - p) throw ProtocolViolation.Malformed("MessagePack map longer than the datagram");
            var fields = new List<KeyValuePair<string, WireValue>>(count);
            var seen = new HashSet<string>();
            for (int i = 0; i < count; i++)
            {
                var key = ReadValue(d, ref p, limit, depth + 1);
                if (key.Kind != WireKind.String) throw ProtocolViolation.Malformed("MessagePack map key is not a string");
                if (!seen.Add(key.AsString)) throw ProtocolViolation.Malformed($"duplicate key \"{key.AsString}\"");
                fields.Add(new KeyValuePair<string, WireValue>(key.AsString, ReadValue(d, ref p, limit, depth + 1)));
            }
            return WireValue.Map(fields);
        }

        static WireValue ReadArray(byte[] d, ref int p, int limit, int count, int depth)
        {
            if (count > limit - p) throw ProtocolViolation.Malformed("MessagePack array longer than the datagram");
            var items = new List<WireValue>(count);
            for (int i = 0; i < count; i++) items.Add(ReadValue(d, ref p, limit, depth + 1));
            return WireValue.Array(items);
        }

        static WireValue ReadString(byte[] d, ref int p, int limit, int length)
        {
            Take(d, ref p, limit, length);
            try
            {
                return WireValue.String(StrictUtf8.GetString(d, p - length, length));
            }
            catch (ArgumentException)
            {
                throw ProtocolViolation.Malformed("invalid UTF-8 in a MessagePack string");
            }
        }

        static WireValue ReadExtension(byte[] d, ref int p, int limit, int length)
        {
            sbyte type = (sbyte)Take(d, ref p, limit, 1)[0];
            return WireValue.Extension(type, TakeCopy(d, ref p, limit, length));
        }

        static ulong ReadBigEndian(byte[] d, ref int p, int limit, int size)
        {
            Take(d, ref p, limit, size);
            ulong value = 0;
            for (int i = p - size; i < p; i++) value = (value << 8) | d[i];
            return value;
        }

        static byte[] Take(byte[] d, ref int p, int limit, int count)
        {
            if (count < 0 || count > limit - p) throw ProtocolViolation.Malformed("MessagePack ends early");
            p += count;
            return count == 1 ? new[] { d[p - 1] } : null;
        }

        static byte[] TakeCopy(byte[] d, ref int p, int limit, int count)
        {
            Take(d, ref p, limit, count);
            return ByteArrays.Slice(d, p - count, count);
        }
    }

    /// <summary>
    /// Writes a <see cref="WireValue"/> in the canonical compact form: smallest integer encoding
    /// (unsigned for non-negative values), float64 for floats, str8 and bin for short strings and bytes.
    /// </summary>
    public static class MsgPackWriter
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public static byte[] Write(WireValue value)
        {
            using (var stream = new MemoryStream(256))
            {
                Append(stream, value);
                return stream.ToArray();
            }
        }

        static void Append(MemoryStream s, WireValue value)
        {
            switch (value.Kind)
            {
                case WireKind.Nil: s.WriteByte(0xc0); break;
                case WireKind.Bool: s.WriteByte(value.AsBool ? (byte)0xc3 : (byte)0xc2); break;
                case WireKind.Integer: AppendInteger(s, value); break;
                case WireKind.Float:
                    s.WriteByte(0xcb);
                    WriteBigEndian(s, (ulong)BitConverter.DoubleToInt64Bits(value.AsFloat), 8);
                    break;
                case WireKind.String:
                    {
                        byte[] utf8;
                        try { utf8 = StrictUtf8.GetBytes(value.AsString); }
                        catch (ArgumentException) { throw new ArgumentException("a string in the message is not valid Unicode (lone surrogate)"); }
                        if (utf8.Length <= 31) s.WriteByte((byte)(0xa0 | utf8.Length));
                        else WriteHeader(s, utf8.Length, 0xd9, 0xda, 0xdb);
                        s.Write(utf8, 0, utf8.Length);
                        break;
                    }
                case WireKind.Bytes:
                    {
                        var bytes = value.AsBytes;
                        WriteHeader(s, bytes.Length, 0xc4, 0xc5, 0xc6);
                        s.Write(bytes, 0, bytes.Length);
                        break;
                    }
                case WireKind.Array:
                    {
                        var items = value.AsArray;
                        if (items.Count <= 15) s.WriteByte((byte)(0x90 | items.Count));
                        else WriteHeader(s, items.Count, 0, 0xdc, 0xdd);
                        foreach (var item in items) Append(s, item);
                        break;
                    }
                case WireKind.Map:
                    {
                        var fields = value.AsMap;
                        if (fields.Count <= 15) s.WriteByte((byte)(0x80 | fields.Count));
                        else WriteHeader(s, fields.Count, 0, 0xde, 0xdf);
                        foreach (var field in fields)
                        {
                            Append(s, WireValue.String(field.Key));
                            Append(s, field.Value);
                        }
                        break;
                    }
                default: throw new ArgumentException($"{value.Kind} is not written by this codec");
            }
        }

        static void AppendInteger(MemoryStream s, WireValue value)
        {
            if (value.IntegerOverflows) throw new ArgumentException("integer does not fit 64 bits");
            ulong unsigned;
            if (value.TryGetUInt64(out unsigned))
            {
                if (unsigned <= 0x7f) s.WriteByte((byte)unsigned);
                else if (unsigned <= byte.MaxValue) { s.WriteByte(0xcc); WriteBigEndian(s, unsigned, 1); }
                else if (unsigned <= ushort.MaxValue) { s.WriteByte(0xcd); WriteBigEndian(s, unsigned, 2); }
                else if (unsigned <= uint.MaxValue) { s.WriteByte(0xce); WriteBigEndian(s, unsigned, 4); }
                else { s.WriteByte(0xcf); WriteBigEndian(s, unsigned, 8); }
                return;
            }
            long signed;
            value.TryGetInt64(out signed);
            if (signed >= -32) s.WriteByte(unchecked((byte)(sbyte)signed));
            else if (signed >= sbyte.MinValue) { s.WriteByte(0xd0); WriteBigEndian(s, unchecked((ulong)signed), 1); }
            else if (signed >= short.MinValue) { s.WriteByte(0xd1); WriteBigEndian(s, unchecked((ulong)signed), 2); }
            else if (signed >= int.MinValue) { s.WriteByte(0xd2); WriteBigEndian(s, unchecked((ulong)signed), 4); }
            else { s.WriteByte(0xd3); WriteBigEndian(s, unchecked((ulong)signed), 8); }
        }

        static void WriteHeader(MemoryStream s, int length, byte code8, byte code16, byte code32)
        {
            if (code8 != 0 && length <= byte.MaxValue) { s.WriteByte(code8); WriteBigEndian(s, (ulong)length, 1); }
            else if (length <= ushort.MaxValue) { s.WriteByte(code16); WriteBigEndian(s, (ulong)length, 2); }
            else { s.WriteByte(code32); WriteBigEndian(s, (ulong)length, 4); }
        }

        static void WriteBigEndian(MemoryStream s, ulong value, int size)
        {
            for (int shift = (size - 1) * 8; shift >= 0; shift -= 8) s.WriteByte((byte)(value >> shift));
        }
    }
}

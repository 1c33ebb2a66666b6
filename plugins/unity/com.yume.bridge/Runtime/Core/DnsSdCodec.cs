// A small DNS message codec for DNS-SD over mDNS (RFC 1035 §4, RFC 6762, RFC 6763): encodes the queries a
// browser sends and parses the answers daemons send (PTR, SRV, TXT, A, AAAA; other types are skipped).
// Sans-IO: no sockets, no clock. Checked against protocol/vectors/dnssd.json (packets from python-zeroconf).
using System;
using System.Collections.Generic;
using System.Net;
using System.Text;

namespace Yume.Bridge.Core
{
    public static class DnsTypes
    {
        public const int A = 1, Ptr = 12, Txt = 16, Aaaa = 28, Srv = 33, Nsec = 47, Any = 255;

        public static string Name(int type)
        {
            switch (type)
            {
                case A: return "A";
                case Ptr: return "PTR";
                case Txt: return "TXT";
                case Aaaa: return "AAAA";
                case Srv: return "SRV";
                case Nsec: return "NSEC";
                default: return type.ToString();
            }
        }
    }

    public sealed class DnsQuestion
    {
        public DnsQuestion(string name, int type, bool unicastResponse = false)
        {
            Name = name;
            Type = type;
            UnicastResponse = unicastResponse;
        }

        public string Name { get; }
        public int Type { get; }

        /// <summary>The QU bit (RFC 6762 §5.4): the top bit of the question class.</summary>
        public bool UnicastResponse { get; }
    }

    /// <summary>One resource record; the fields of its type are set, the others stay empty.</summary>
    public sealed class DnsRecord
    {
        public string Name { get; internal set; }
        public int Type { get; internal set; }
        public int Class { get; internal set; }

        /// <summary>The cache-flush bit (RFC 6762 §10.2): the top bit of the record class.</summary>
        public bool CacheFlush { get; internal set; }

        public uint Ttl { get; internal set; }

        /// <summary>PTR: the instance name; SRV: the host name.</summary>
        public string Target { get; internal set; }

        public int Priority { get; internal set; }
        public int Weight { get; internal set; }
        public int Port { get; internal set; }

        /// <summary>TXT: the character strings, decoded as UTF-8.</summary>
        public IReadOnlyList<string> Strings { get; internal set; }

        /// <summary>A or AAAA.</summary>
        public IPAddress Address { get; internal set; }
    }

    public sealed class DnsMessage
    {
        public int Id { get; internal set; }
        public int Flags { get; internal set; }
        public bool IsResponse => (Flags & 0x8000) != 0;
        public List<DnsQuestion> Questions { get; } = new List<DnsQuestion>();

        /// <summary>Answer, authority and additional records, in packet order.</summary>
        public List<DnsRecord> Records { get; } = new List<DnsRecord>();
    }

    public static class DnsSdCodec
    {
        public const string ServiceType = "_yume-bridge._udp.local.";
        public const int MdnsPort = 5353;
        public static readonly IPAddress MdnsGroup = IPAddress.Parse("224.0.0.251");
        const int ClassIn = 1;
        const int TopBit = 0x8000;
        const int MaxNameLength = 255;
        const int MaxPointerHops = 64;

        /// <summary>A query (id 0, no flags, RFC 6762 §18) with the given questions; names compressed as RFC 1035 §4.1.4.</summary>
        public static byte[] EncodeQuery(params DnsQuestion[] questions)
        {
            var packet = new List<byte>(64);
            Put16(packet, 0);
            Put16(packet, 0);
            Put16(packet, questions.Length);
            Put16(packet, 0);
            Put16(packet, 0);
            Put16(packet, 0);
            var written = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            foreach (var question in questions)
            {
                WriteName(packet, question.Name, written);
                Put16(packet, question.Type);
                Put16(packet, ClassIn | (question.UnicastResponse ? TopBit : 0));
            }
            return packet.ToArray();
        }

        /// <summary>The browse query for the daemons' service type.</summary>
        public static byte[] EncodeBrowseQuery(bool unicastResponse = false) =>
            EncodeQuery(new DnsQuestion(ServiceType, DnsTypes.Ptr, unicastResponse));

        static void WriteName(List<byte> packet, string name, Dictionary<string, int> written)
        {
            var labels = name.TrimEnd('.').Split('.');
            for (int i = 0; i < labels.Length; i++)
            {
                string suffix = string.Join(".", labels, i, labels.Length - i);
                int offset;
                if (written.TryGetValue(suffix, out offset))
                {
                    Put16(packet, 0xC000 | offset);
                    return;
                }
                if (packet.Count < 0x3FFF) written[suffix] = packet.Count;
                var bytes = Encoding.UTF8.GetBytes(labels[i]);
                if (bytes.Length < 1 || bytes.Length > 63) throw new ArgumentException($"DNS label \"{labels[i]}\" must have 1–63 bytes");
                packet.Add((byte)bytes.Length);
                packet.AddRange(bytes);
            }
            packet.Add(0);
        }

        static void Put16(List<byte> packet, int value)
        {
            packet.Add((byte)(value >> 8));
            packet.Add((byte)value);
        }

        /// <summary>
        /// Parses a whole DNS message. False, with a reason, when any part is malformed: truncated, a label or
        /// pointer past the end, a compression loop, counts the packet does not hold. A browser drops such packets.
        /// </summary>
        public static bool TryParse(byte[] data, int length, out DnsMessage message, out string reason)
        {
            message = null;
            try
            {
                message = Parse(data, length);
                reason = null;
                return true;
            }
            catch (FormatException e)
            {
                reason = e.Message;
                return false;
            }
        }

        static DnsMessage Parse(byte[] data, int length)
        {
            if (length < 12) throw new FormatException("shorter than a DNS header");
            var message = new DnsMessage { Id = U16(data, 0, length), Flags = U16(data, 2, length) };
            int questions = U16(data, 4, length), answers = U16(data, 6, length), authorities = U16(data, 8, length),
                additionals = U16(data, 10, length);
            int at = 12;
            for (int i = 0; i < questions; i++)
            {
                string name = ReadName(data, length, ref at);
                int type = U16(data, at, length), klass = U16(data, at + 2, length);
                at += 4;
                message.Questions.Add(new DnsQuestion(name, type, (klass & TopBit) != 0));
            }
            int records = answers + authorities + additionals;
            for (int i = 0; i < records; i++) message.Records.Add(ReadRecord(data, length, ref at));
            return message;
        }

        static DnsRecord ReadRecord(byte[] data, int length, ref int at)
        {
            var record = new DnsRecord { Name = ReadName(data, length, ref at) };
            record.Type = U16(data, at, length);
            int klass = U16(data, at + 2, length);
            record.Class = klass & 0x7FFF;
            record.CacheFlush = (klass & TopBit) != 0;
            record.Ttl = (uint)((U16(data, at + 4, length) << 16) | U16(data, at + 6, length));
            int rdLength = U16(data, at + 8, length);
            at += 10;
            int end = at + rdLength;
            if (end > length) throw new FormatException("record data runs past the end");
            switch (record.Type)
            {
                case DnsTypes.Ptr:
                    int ptrAt = at;
                    record.Target = ReadName(data, length, ref ptrAt);
                    if (ptrAt > end) throw new FormatException("PTR name runs past its record");
                    break;
                case DnsTypes.Srv:
                    if (rdLength < 7) throw new FormatException("SRV record too short");
                    record.Priority = U16(data, at, end);
                    record.Weight = U16(data, at + 2, end);
                    record.Port = U16(data, at + 4, end);
                    int srvAt = at + 6;
                    record.Target = ReadName(data, length, ref srvAt);
                    if (srvAt > end) throw new FormatException("SRV target runs past its record");
                    break;
                case DnsTypes.Txt:
                    record.Strings = ReadStrings(data, at, end);
                    break;
                case DnsTypes.A:
                case DnsTypes.Aaaa:
                    int size = record.Type == DnsTypes.A ? 4 : 16;
                    if (rdLength != size) throw new FormatException($"{DnsTypes.Name(record.Type)} record of {rdLength} bytes");
                    record.Address = new IPAddress(ByteArrays.Slice(data, at, size));
                    break;
            }
            at = end;
            return record;
        }

        static List<string> ReadStrings(byte[] data, int at, int end)
        {
            var strings = new List<string>();
            while (at < end)
            {
                int size = data[at];
                if (at + 1 + size > end) throw new FormatException("TXT string runs past its record");
                strings.Add(Encoding.UTF8.GetString(data, at + 1, size));
                at += 1 + size;
            }
            return strings;
        }

        /// <summary>Reads a possibly compressed name; <paramref name="at"/> moves past it (past the first pointer).</summary>
        static string ReadName(byte[] data, int limit, ref int at)
        {
            var name = new StringBuilder();
            int position = at, hops = 0, nameBytes = 0;
            bool jumped = false;
            while (true)
            {
                if (position >= limit) throw new FormatException("name runs past the end");
                int size = data[position];
                if ((size & 0xC0) == 0xC0)
                {
                    if (position + 1 >= limit) throw new FormatException("compression pointer runs past the end");
                    int target = ((size & 0x3F) << 8) | data[position + 1];
                    if (!jumped) at = position + 2;
                    jumped = true;
                    if (++hops > MaxPointerHops || target >= position) throw new FormatException("compression pointer loops or points forward");
                    position = target;
                    continue;
                }
                if ((size & 0xC0) != 0) throw new FormatException("reserved label type");
                if (size == 0)
                {
                    if (!jumped) at = position + 1;
                    return name.Length == 0 ? "." : name.ToString();
                }
                if (position + 1 + size > limit) throw new FormatException("label runs past the end");
                nameBytes += size + 1;
                if (nameBytes > MaxNameLength) throw new FormatException("name longer than 255 bytes");
                name.Append(Encoding.UTF8.GetString(data, position + 1, size)).Append('.');
                position += 1 + size;
            }
        }

        static int U16(byte[] data, int at, int limit)
        {
            if (at + 2 > limit) throw new FormatException("packet ends inside a field");
            return (data[at] << 8) | data[at + 1];
        }
    }
}

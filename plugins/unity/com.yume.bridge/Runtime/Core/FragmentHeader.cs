// The 44-byte little-endian header of a frame fragment datagram (SPEC §6.1) and its validity rules (§6.2).
using System;

namespace Yume.Bridge.Core
{
    [Flags]
    public enum FragmentFlags : byte
    {
        None = 0,
        Retransmission = 1,
        LastInChunk = 2,
        /// <summary>The first frame of a chunk that replaced a chunk cut short (pre-emption, SPEC §6.5).</summary>
        AfterCut = 4,
    }

    /// <summary>A parsed fragment header: a value type, so that parsing a datagram allocates nothing.</summary>
    public readonly struct FragmentHeader
    {
        public const int Size = 44;
        public const byte Magic0 = 0x59; // 'Y'
        public const byte Magic1 = 0x46; // 'F'
        public const byte Version = 1;

        public FragmentHeader(FragmentFlags flags, uint session, uint frame, uint chunk, int frameInChunk, int fragmentIndex,
                              int fragmentCount, int payloadLength, uint frameLength, uint inputSeq, ulong timeUs, int action,
                              int latent = 0, int cutLatents = 0)
        {
            Latent = latent;
            CutLatents = cutLatents;
            Flags = flags;
            Session = session;
            Frame = frame;
            Chunk = chunk;
            FrameInChunk = frameInChunk;
            FragmentIndex = fragmentIndex;
            FragmentCount = fragmentCount;
            PayloadLength = payloadLength;
            FrameLength = frameLength;
            InputSeq = inputSeq;
            TimeUs = timeUs;
            Action = action;
        }

        public readonly FragmentFlags Flags;
        public readonly uint Session;
        public readonly uint Frame;
        public readonly uint Chunk;
        public readonly int FrameInChunk;
        public readonly int FragmentIndex;
        public readonly int FragmentCount;
        public readonly int PayloadLength;
        public readonly uint FrameLength;
        public readonly uint InputSeq;
        public readonly ulong TimeUs;
        public readonly int Action;

        /// <summary>SPEC §6.5: the latent (within its chunk) this frame was decoded from; 0 from an older daemon.</summary>
        public readonly int Latent;

        /// <summary>SPEC §6.5, on an <see cref="FragmentFlags.AfterCut"/> frame: how many latents of the cut chunk were shown.</summary>
        public readonly int CutLatents;

        public bool IsRetransmission => (Flags & FragmentFlags.Retransmission) != 0;
        public bool IsLastInChunk => (Flags & FragmentFlags.LastInChunk) != 0;
        public bool IsAfterCut => (Flags & FragmentFlags.AfterCut) != 0;

        /// <summary><c>ceil(frame_length / fragment_count)</c></summary>
        public long Stride => ((long)FrameLength + FragmentCount - 1) / FragmentCount;

        /// <summary>Where this fragment's payload goes in the JPEG.</summary>
        public long PayloadOffset => FragmentIndex * Stride;

        /// <summary>The payload size SPEC §6.2 prescribes for this index.</summary>
        public long ExpectedPayloadLength => Math.Min((FragmentIndex + 1) * Stride, FrameLength) - PayloadOffset;

        /// <summary>
        /// Parses and checks a fragment: magic, version, 1 ≤ n, index &lt; n, L ≥ 1, (n − 1)·stride &lt; L and
        /// payload_length equal to both the bytes present and the prescribed size. Returns null with a reason otherwise.
        /// Allocates nothing for a valid fragment.
        /// </summary>
        public static FragmentHeader? TryParse(byte[] data, int length, out string reason)
        {
            reason = null;
            if (length < Size) { reason = "shorter than the fragment header"; return null; }
            if (data[0] != Magic0 || data[1] != Magic1) { reason = "bad magic"; return null; }
            if (data[2] != Version) { reason = $"fragment version {data[2]}"; return null; }
            var header = new FragmentHeader(
                flags: (FragmentFlags)data[3], session: U32(data, 4), frame: U32(data, 8), chunk: U32(data, 12),
                frameInChunk: U16(data, 16), fragmentIndex: U16(data, 18), fragmentCount: U16(data, 20),
                payloadLength: U16(data, 22), frameLength: U32(data, 24), inputSeq: U32(data, 28), timeUs: U64(data, 32),
                action: data[40], latent: data[41], cutLatents: data[42]);
            if (header.FragmentCount < 1) { reason = "fragment_count is 0"; return null; }
            if (header.FrameLength < 1) { reason = "frame_length is 0"; return null; }
            if (header.FragmentIndex >= header.FragmentCount) { reason = "fragment_index ≥ fragment_count"; return null; }
            if ((header.FragmentCount - 1) * header.Stride >= header.FrameLength) { reason = "too many fragments for frame_length"; return null; }
            if (header.PayloadLength != length - Size) { reason = "payload_length differs from the bytes present"; return null; }
            if (header.PayloadLength != header.ExpectedPayloadLength) { reason = "payload_length differs from the prescribed size"; return null; }
            return header;
        }

        /// <summary>
        /// True when two fragments may belong to the same frame: every header byte equal except
        /// fragment_index, payload_length and the retransmission flag (SPEC §6.2).
        /// </summary>
        public static bool SameFrameFields(byte[] a, byte[] b)
        {
            for (int i = 2; i < Size; i++)
            {
                if (i == 18 || i == 19 || i == 22 || i == 23) continue;
                int mask = i == 3 ? ~(int)FragmentFlags.Retransmission : 0xff;
                if ((a[i] & mask) != (b[i] & mask)) return false;
            }
            return true;
        }

        /// <summary>Writes header and payload as one datagram (used by tests and tools).</summary>
        public byte[] Pack(byte[] payload)
        {
            var d = new byte[Size + payload.Length];
            d[0] = Magic0;
            d[1] = Magic1;
            d[2] = Version;
            d[3] = (byte)Flags;
            PutU32(d, 4, Session);
            PutU32(d, 8, Frame);
            PutU32(d, 12, Chunk);
            PutU16(d, 16, FrameInChunk);
            PutU16(d, 18, FragmentIndex);
            PutU16(d, 20, FragmentCount);
            PutU16(d, 22, PayloadLength);
            PutU32(d, 24, FrameLength);
            PutU32(d, 28, InputSeq);
            PutU32(d, 32, (uint)TimeUs);
            PutU32(d, 36, (uint)(TimeUs >> 32));
            d[40] = (byte)Action;
            d[41] = (byte)Latent;
            d[42] = (byte)CutLatents; // byte 43 stays 0 (reserved)
            Buffer.BlockCopy(payload, 0, d, Size, payload.Length);
            return d;
        }

        static int U16(byte[] d, int o) => d[o] | (d[o + 1] << 8);
        static uint U32(byte[] d, int o) => (uint)(d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24));
        static ulong U64(byte[] d, int o) => U32(d, o) | ((ulong)U32(d, o + 4) << 32);

        static void PutU16(byte[] d, int o, int v)
        {
            d[o] = (byte)v;
            d[o + 1] = (byte)(v >> 8);
        }

        static void PutU32(byte[] d, int o, uint v)
        {
            for (int i = 0; i < 4; i++) d[o + i] = (byte)(v >> (8 * i));
        }
    }
}

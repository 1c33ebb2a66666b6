// Builds fragment datagrams the way SPEC §6.2 prescribes, for reassembly and session tests.
using System;
using System.Collections.Generic;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    public static class TestFrames
    {
        /// <summary>Splits a JPEG into n = ceil(L / (maxDatagram − 44)) fragments of stride ceil(L / n).</summary>
        public static List<byte[]> Split(byte[] jpeg, uint session, uint frame, int maxDatagram = 576, uint chunk = 0,
                                         int frameInChunk = 0, uint inputSeq = 0, ulong timeUs = 0, int action = 0,
                                         FragmentFlags flags = FragmentFlags.None, int latent = 0, int cutLatents = 0)
        {
            int capacity = maxDatagram - FragmentHeader.Size;
            int count = (jpeg.Length + capacity - 1) / capacity;
            int stride = (jpeg.Length + count - 1) / count;
            var datagrams = new List<byte[]>();
            for (int i = 0; i < count; i++)
            {
                int offset = i * stride;
                int length = Math.Min(stride, jpeg.Length - offset);
                var header = new FragmentHeader(flags, session, frame, chunk, frameInChunk, i, count, length, (uint)jpeg.Length,
                                                inputSeq, timeUs, action, latent, cutLatents);
                datagrams.Add(header.Pack(ByteArrays.Slice(jpeg, offset, length)));
            }
            return datagrams;
        }

        /// <summary>A deterministic stand-in for JPEG bytes.</summary>
        public static byte[] Payload(int length, int salt = 1)
        {
            var data = new byte[length];
            for (int i = 0; i < length; i++) data[i] = (byte)((i * 31 + salt * 17) % 251);
            return data;
        }

        public static byte[] AsRetransmission(byte[] datagram)
        {
            var copy = (byte[])datagram.Clone();
            copy[3] |= (byte)FragmentFlags.Retransmission;
            return copy;
        }
    }
}

// Protocol v1.1 NACK budget: the daemon resends for one nack at most 10× the nack datagram's size, so a nack
// carries ignored `pad` bytes that make it big enough for the fragments it asks for, and asks for few enough
// that it stays near 3,900 bytes.
using System;

namespace Yume.Bridge.Core
{
    public static class NackPadding
    {
        /// <summary>The daemon resends at most this many times a nack's size.</summary>
        public const int ResendFactor = 10;

        /// <summary>A nack stays at or below about this many bytes.</summary>
        public const int MaxNackBytes = 3900;

        /// <summary>Most fragment indices one nack asks for: floor(39,000 / max_datagram) (32 at 1,200).</summary>
        public static int MaxIndices(int maxDatagram) => Math.Max(1, MaxNackBytes * ResendFactor / Math.Max(1, maxDatagram));

        /// <summary>Bytes a nack for <paramref name="indices"/> fragments must reach, tag included: ceil(k · max_datagram / 10).</summary>
        public static int RequiredBytes(int indices, int maxDatagram) => (indices * maxDatagram + ResendFactor - 1) / ResendFactor;

        /// <summary>The nack with enough <c>pad</c> that its encoded size (+16 when tagged) reaches <see cref="RequiredBytes"/>.</summary>
        public static NackMessage Padded(NackMessage nack, int maxDatagram, WireEncoding encoding, bool tagged)
        {
            int required = RequiredBytes(nack.Missing.Count, maxDatagram);
            int tag = tagged ? SessionAuth.TagLength : 0;
            int size = ControlCodec.Encode(nack, encoding).Length + tag;
            int padLength = 0;
            var missing = new System.Collections.Generic.List<int>(nack.Missing);
            while (size < required)
            {
                int shortfall = required - size;
                // JSON writes bytes as base64 (4 characters per 3 bytes): about ¾ of the shortfall in bytes.
                padLength += encoding == WireEncoding.Json ? Math.Max(1, shortfall * 3 / 4) : Math.Max(1, shortfall);
                nack = new NackMessage(nack.Session, nack.Seq, nack.Frame, missing, new byte[padLength]);
                size = ControlCodec.Encode(nack, encoding).Length + tag;
            }
            return nack;
        }
    }
}

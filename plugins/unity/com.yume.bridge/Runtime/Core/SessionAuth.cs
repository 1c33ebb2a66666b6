// Token proof, session key and datagram tags (SPEC §4), and the replay window for the daemon's seq (§3.3).
using System;
using System.Security.Cryptography;
using System.Text;

namespace Yume.Bridge.Core
{
    public static class SessionAuth
    {
        public const int TagLength = 16;
        public const int HelloAuthLength = 16;
        static readonly byte[] HelloLabel = Encoding.ASCII.GetBytes("yume-bridge/1 hello");
        static readonly byte[] SessionLabel = Encoding.ASCII.GetBytes("yume-bridge/1 session");

        public static byte[] Hmac(byte[] key, byte[] message)
        {
            using (var hmac = new HMACSHA256(key)) return hmac.ComputeHash(message);
        }

        /// <summary><c>HMAC(token, "yume-bridge/1 hello" || client_nonce || cookie)[0:16]</c></summary>
        public static byte[] HelloAuth(string token, byte[] clientNonce, byte[] cookie)
        {
            var digest = Hmac(TokenBytes(token), Concat(HelloLabel, clientNonce, cookie));
            return ByteArrays.Slice(digest, 0, HelloAuthLength);
        }

        /// <summary><c>HMAC(token, "yume-bridge/1 session" || client_nonce || server_nonce || u32le(session))</c></summary>
        public static byte[] SessionKey(string token, byte[] clientNonce, byte[] serverNonce, uint session)
        {
            var sessionLe = new[] { (byte)session, (byte)(session >> 8), (byte)(session >> 16), (byte)(session >> 24) };
            return Hmac(TokenBytes(token), Concat(SessionLabel, clientNonce, serverNonce, sessionLe));
        }

        /// <summary><c>HMAC(session_key, body)[0:16]</c></summary>
        public static byte[] Tag(byte[] sessionKey, byte[] body, int offset, int count)
        {
            using (var hmac = new HMACSHA256(sessionKey))
                return ByteArrays.Slice(hmac.ComputeHash(body, offset, count), 0, TagLength);
        }

        public static byte[] Tag(byte[] sessionKey, byte[] body) => Tag(sessionKey, body, 0, body.Length);

        /// <summary>body || tag</summary>
        public static byte[] Append(byte[] sessionKey, byte[] body) => ByteArrays.Concat(body, Tag(sessionKey, body));

        /// <summary>True when the 16 bytes after the body are the body's tag (compared in constant time).</summary>
        public static bool Verify(byte[] sessionKey, byte[] datagram, int bodyLength, int datagramLength)
        {
            if (datagramLength - bodyLength != TagLength) return false;
            var expected = Tag(sessionKey, datagram, 0, bodyLength);
            return ByteArrays.ConstantTimeEqual(expected, 0, datagram, bodyLength, TagLength);
        }

        static byte[] TokenBytes(string token)
        {
            if (string.IsNullOrEmpty(token)) throw new ArgumentException("the token is empty");
            return new UTF8Encoding(false, true).GetBytes(token);
        }

        static byte[] Concat(params byte[][] parts)
        {
            int length = 0;
            foreach (var part in parts) length += part.Length;
            var result = new byte[length];
            int offset = 0;
            foreach (var part in parts)
            {
                Buffer.BlockCopy(part, 0, result, offset, part.Length);
                offset += part.Length;
            }
            return result;
        }
    }

    /// <summary>
    /// A 64-wide sliding window over received <c>seq</c> values (DTLS style, SPEC §3.3): a seq already
    /// seen, or 64 or more below the highest seen, is a replay. Only call <see cref="Accept"/> for
    /// datagrams that are otherwise valid (tag checked), so that forged packets cannot move the window.
    /// </summary>
    public sealed class ReplayWindow
    {
        public const int Width = 64;
        ulong seenMask;   // bit i: highest - i was seen
        uint highest;
        bool any;

        public uint Highest => highest;

        public bool IsReplay(uint seq)
        {
            if (!any || seq > highest) return false;
            uint behind = highest - seq;
            return behind >= Width || (seenMask & (1UL << (int)behind)) != 0;
        }

        /// <summary>Records seq; false (and no change) when it is a replay.</summary>
        public bool Accept(uint seq)
        {
            if (IsReplay(seq)) return false;
            if (!any)
            {
                any = true;
                highest = seq;
                seenMask = 1;
                return true;
            }
            if (seq > highest)
            {
                uint shift = seq - highest;
                seenMask = shift >= Width ? 1UL : (seenMask << (int)shift) | 1UL;
                highest = seq;
            }
            else seenMask |= 1UL << (int)(highest - seq);
            return true;
        }
    }
}

// The daemon's side of the wire, scripted by hand, so that session tests need no sockets and no sleeps.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    /// <summary>Fills buffers with 0, 1, 2, ...: the first nonce equals the vectors' client nonce.</summary>
    public sealed class CountingRandom : IRandomSource
    {
        byte next;

        public void Fill(byte[] buffer)
        {
            for (int i = 0; i < buffer.Length; i++) buffer[i] = next++;
        }
    }

    public sealed class FakeDaemon
    {
        public static readonly byte[] ServerNonce = ByteArrays.FromHex("6465666768696a6b6c6d6e6f70717273");
        public static readonly byte[] Cookie = ByteArrays.FromHex("c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb");
        public const uint SessionId = 305419896;

        readonly WireEncoding encoding;
        uint seq;

        public FakeDaemon(WireEncoding encoding, string token = null)
        {
            this.encoding = encoding;
            Token = token;
        }

        public string Token { get; }
        public byte[] Key { get; private set; }
        public WireLimits Limits { get; set; } = WireLimits.Defaults;
        public int MaxDatagram { get; set; } = 1200;

        public byte[] Retry(byte[] nonce, byte[] cookie = null) =>
            ControlCodec.Encode(new RetryMessage(nonce, cookie ?? Cookie, Token != null), encoding);

        /// <summary>A welcome for the client nonce; tagged with the derived session key when the daemon has a token.</summary>
        public byte[] Welcome(byte[] clientNonce, int protocol = 1)
        {
            seq = 1;
            if (Token != null) Key = SessionAuth.SessionKey(Token, clientNonce, ServerNonce, SessionId);
            var vocabulary = new Vocabulary("camera", "yume1.5-camera-1",
                                            new[] { "None", "W", "A", "S", "D", "W+A", "W+D", "S+A", "S+D" },
                                            new[] { "·", "→", "←", "↑", "↓", "↑→", "↑←", "↓→", "↓←" });
            var welcome = new WelcomeMessage(SessionId, seq++, protocol, ServerNonce, "0.1.0", "preview", "preview", "1", "ready",
                                             960, 544, 16.0, 29, 85, MaxDatagram, Token != null, vocabulary, Limits,
                                             new[] { "json", "msgpack", "upload", "text_start", "events", "nack", "keys", "pause" });
            return Seal(ControlCodec.Encode(welcome, encoding));
        }

        /// <summary>A session message with the daemon's next seq, tagged when authenticated.</summary>
        public byte[] Send(Func<uint, uint, SessionMessage> build) => Seal(ControlCodec.Encode(build(SessionId, seq++), encoding));

        /// <summary>An error; with session 0 it is a pre-session error (no seq, never tagged).</summary>
        public byte[] Error(string code, string message, uint reference = 0, bool fatal = false, uint session = SessionId) =>
            Seal(ControlCodec.Encode(new ErrorMessage(code, message, session, session == 0 ? 0 : seq++, reference, fatal), encoding),
                 session != 0);

        public byte[] Status(string state = ReadinessStates.Generating) => Send((s, q) => new StatusMessage(
            s, q, state, 1.0, 1, 0, 0, 16.0, 10, 0, 0, new Latency(0, 50, 2, 0.1)));

        byte[] Seal(byte[] body, bool tag = true) => Key != null && tag ? SessionAuth.Append(Key, body) : body;

        // ---- reading what the client sent ------------------------------------------------------

        public static ControlMessage Decode(byte[] datagram)
        {
            var result = ControlCodec.Decode(datagram, datagram.Length);
            Assert.AreEqual(DecodeOutcome.Decoded, result.Outcome, "the client sent an undecodable datagram: " + result);
            return result.Message;
        }

        public static List<ControlMessage> DecodeAll(IEnumerable<byte[]> datagrams)
        {
            var messages = new List<ControlMessage>();
            foreach (var d in datagrams) messages.Add(Decode(d));
            return messages;
        }

        public static List<T> OfType<T>(IEnumerable<byte[]> datagrams) where T : ControlMessage
        {
            var result = new List<T>();
            foreach (var m in DecodeAll(datagrams))
                if (m is T typed) result.Add(typed);
            return result;
        }

        /// <summary>Asserts that a client datagram carries a valid tag under this daemon's key.</summary>
        public void AssertTagged(byte[] datagram)
        {
            var result = ControlCodec.Decode(datagram, datagram.Length);
            Assert.AreEqual(16, result.TagLength, result.Message.Type + " has no tag");
            Assert.IsTrue(SessionAuth.Verify(Key, datagram, result.BodyLength, datagram.Length), result.Message.Type + " has a wrong tag");
        }
    }
}

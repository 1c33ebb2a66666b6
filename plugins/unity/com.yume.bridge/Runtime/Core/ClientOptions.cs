// Everything a client session can be configured with, in one immutable object (the only home of defaults).
using System;
using System.Security.Cryptography;

namespace Yume.Bridge.Core
{
    public sealed class ClientOptions
    {
        public const string DefaultClientName = "yume-bridge-unity";
        public const string PluginVersion = "0.2.0";

        /// <summary>Protocol v1.1: the minor version and the capabilities this client announces in its hello.</summary>
        public const int ProtocolMinor = 1;
        public static readonly string[] Capabilities = { "path_response" };

        /// <summary>Pre-emption policy to ask for in the hello ("latent" or "off"); null leaves it to the daemon.</summary>
        public string Preempt { get; }

        public ClientOptions(
            string token = null,
            WireEncoding encoding = WireEncoding.MsgPack,
            string clientName = DefaultClientName,
            string clientVersion = PluginVersion,
            string engine = "",
            int width = 0,
            int height = 0,
            double fps = 0,
            int quality = 85,
            int maxDatagram = 1200,
            int minHelloBytes = 256,
            double helloFirstRetransmitSeconds = 0.25,
            double helloMaxRetransmitSeconds = 2.0,
            double handshakeTimeoutSeconds = 10.0,
            double pingIntervalSeconds = 1.0,
            double inputMinIntervalSeconds = 1.0 / 60,
            double inputHeartbeatSeconds = 0.5,
            int uploadMaxInFlight = 32,
            double uploadResendSeconds = 0.5,
            int uploadMaxSendsPerPiece = 20,
            double eventResendSeconds = 0.5,
            int eventMaxAttempts = 20,
            int maxPendingEvents = 32,
            double startResendSeconds = 1.0,
            int startMaxAttempts = 4,
            double? silenceTimeoutSeconds = null,
            int maxQueuedEvents = 256,
            string preempt = null,
            double maxPlayoutDelaySeconds = 0.25)
        {
            if (preempt != null && CodePoints.Count(preempt) > 16) throw new ArgumentException("preempt: at most 16 characters (\"latent\" or \"off\")");
            Preempt = string.IsNullOrEmpty(preempt) ? null : preempt;
            if (width < 0 || height < 0 || width > 65535 || height > 65535) throw new ArgumentException("width and height lie in 0…65535");
            if (fps != 0 && !(fps >= 1 && fps <= 240)) throw new ArgumentException("fps is 0 (the daemon's) or 1…240");
            if (!(maxPlayoutDelaySeconds >= 0 && maxPlayoutDelaySeconds <= 10)) throw new ArgumentException("the playout delay lies in 0…10 s (0: none)");
            if (quality < 1 || quality > 100) throw new ArgumentException("quality lies in 1…100");
            if (maxDatagram < 576 || maxDatagram > 65000) throw new ArgumentException("max datagram lies in 576…65000");
            if (uploadMaxInFlight < 1 || uploadMaxInFlight > 32) throw new ArgumentException("at most 32 upload pieces in flight (SPEC §5.4)");
            if (clientName == null || CodePoints.Count(clientName) > 64) throw new ArgumentException("client name: at most 64 characters");
            if (clientVersion == null || CodePoints.Count(clientVersion) > 32) throw new ArgumentException("client version: at most 32 characters");
            if (engine == null || CodePoints.Count(engine) > 64) throw new ArgumentException("engine: at most 64 characters");
            Token = string.IsNullOrEmpty(token) ? null : token;
            Encoding = encoding;
            ClientName = clientName;
            ClientVersion = clientVersion;
            Engine = engine;
            Width = width;
            Height = height;
            Fps = fps;
            Quality = quality;
            MaxDatagram = maxDatagram;
            MinHelloBytes = minHelloBytes;
            HelloFirstRetransmitSeconds = helloFirstRetransmitSeconds;
            HelloMaxRetransmitSeconds = helloMaxRetransmitSeconds;
            HandshakeTimeoutSeconds = handshakeTimeoutSeconds;
            PingIntervalSeconds = pingIntervalSeconds;
            InputMinIntervalSeconds = inputMinIntervalSeconds;
            InputHeartbeatSeconds = inputHeartbeatSeconds;
            UploadMaxInFlight = uploadMaxInFlight;
            UploadResendSeconds = uploadResendSeconds;
            UploadMaxSendsPerPiece = uploadMaxSendsPerPiece;
            EventResendSeconds = eventResendSeconds;
            EventMaxAttempts = eventMaxAttempts;
            MaxPendingEvents = maxPendingEvents;
            StartResendSeconds = startResendSeconds;
            StartMaxAttempts = startMaxAttempts;
            SilenceTimeoutSeconds = silenceTimeoutSeconds;
            MaxQueuedEvents = maxQueuedEvents;
            MaxPlayoutDelaySeconds = maxPlayoutDelaySeconds;
        }

        /// <summary>Shared token (SPEC §4); null when the daemon needs none (loopback).</summary>
        public string Token { get; }
        public WireEncoding Encoding { get; }
        public string ClientName { get; }
        public string ClientVersion { get; }
        public string Engine { get; }
        public int Width { get; }
        public int Height { get; }
        public double Fps { get; }
        public int Quality { get; }
        public int MaxDatagram { get; }

        /// <summary>Pad hellos to this size: the daemon answers an unvalidated address with at most 3× the bytes received.</summary>
        public int MinHelloBytes { get; }
        public double HelloFirstRetransmitSeconds { get; }
        public double HelloMaxRetransmitSeconds { get; }
        public double HandshakeTimeoutSeconds { get; }
        public double PingIntervalSeconds { get; }
        public double InputMinIntervalSeconds { get; }
        public double InputHeartbeatSeconds { get; }
        public int UploadMaxInFlight { get; }
        public double UploadResendSeconds { get; }
        public int UploadMaxSendsPerPiece { get; }
        public double EventResendSeconds { get; }
        public int EventMaxAttempts { get; }
        public int MaxPendingEvents { get; }
        public double StartResendSeconds { get; }
        public int StartMaxAttempts { get; }

        /// <summary>Close when the daemon sends nothing valid for this long; null: the welcome's <c>idle_timeout_ms</c>.</summary>
        public double? SilenceTimeoutSeconds { get; }

        /// <summary>Cap of the event queue; frames never queue (only the newest is kept).</summary>
        public int MaxQueuedEvents { get; }

        /// <summary>
        /// SPEC §6.3 playout delay: the longest a complete frame waits for an older one still being repaired (it waits
        /// about as long as repairs take, measured). 0 shows the newest complete frame at once (the protocol 1.0 policy).
        /// </summary>
        public double MaxPlayoutDelaySeconds { get; }
    }

    /// <summary>Randomness for nonces and seeds, injectable so that tests are deterministic.</summary>
    public interface IRandomSource
    {
        void Fill(byte[] buffer);
    }

    public sealed class CryptoRandomSource : IRandomSource
    {
        public static readonly CryptoRandomSource Instance = new CryptoRandomSource();
        readonly RandomNumberGenerator generator = RandomNumberGenerator.Create();

        public void Fill(byte[] buffer)
        {
            lock (generator) generator.GetBytes(buffer);
        }
    }
}

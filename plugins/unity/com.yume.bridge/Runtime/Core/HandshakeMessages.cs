// Immutable messages of the handshake (SPEC §5.1–5.3) and the error message (§5.13).
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    /// <summary>A control message. Field order in <see cref="WriteFields"/> follows SPEC §5.</summary>
    public abstract class ControlMessage
    {
        public abstract string Type { get; }

        /// <summary>The session the message belongs to; 0 for handshake messages and pre-session errors.</summary>
        public virtual uint Session => 0;

        /// <summary>The sender's packet counter (SPEC §3.3); 0 when the message has none.</summary>
        public virtual uint Seq => 0;

        internal abstract void WriteFields(FieldWriter writer);

        /// <summary>The message as a map, <c>type</c> first, in the order it is encoded.</summary>
        public WireValue ToWireValue()
        {
            var writer = new FieldWriter().String("type", Type);
            WriteFields(writer);
            return writer.ToValue();
        }

        public override string ToString() => ToWireValue().ToString();

        internal static byte[] CopyOf(byte[] value) => value == null ? null : (byte[])value.Clone();

        internal static void RequireLength(byte[] value, int length, string name)
        {
            if (value == null || value.Length != length)
                throw new ArgumentException($"{name} must be {length} bytes");
        }
    }

    /// <summary>A message that carries <c>session</c> and <c>seq</c> (SPEC §3.3).</summary>
    public abstract class SessionMessage : ControlMessage
    {
        readonly uint session;
        readonly uint seq;

        protected SessionMessage(uint session, uint seq)
        {
            this.session = session;
            this.seq = seq;
        }

        public override uint Session => session;
        public override uint Seq => seq;

        protected void WriteSession(FieldWriter writer) => writer.Int("session", session).Int("seq", seq);
    }

    public sealed class HelloMessage : ControlMessage
    {
        public const int NonceLength = 16;
        public const int MaxCookieLength = 64;
        public const int AuthLength = 16;
        readonly byte[] nonce, cookie, auth, pad;

        public HelloMessage(int protocol, byte[] nonce, string client = "", string clientVersion = "", string engine = "",
                     int width = 0, int height = 0, double fps = 0, int quality = 85, int maxDatagram = 1200,
                     byte[] cookie = null, byte[] auth = null, byte[] pad = null, int? minor = null,
                     IList<string> capabilities = null, string preempt = null)
        {
            if (capabilities != null && capabilities.Count > MaxCapabilities) throw new ArgumentException("at most 16 capabilities");
            Minor = minor;
            capabilityList = capabilities == null ? null : new List<string>(capabilities);
            Capabilities = capabilityList?.AsReadOnly();
            Preempt = string.IsNullOrEmpty(preempt) ? null : preempt;
            RequireLength(nonce, NonceLength, "nonce");
            if (auth != null) RequireLength(auth, AuthLength, "auth");
            if (cookie != null && cookie.Length > MaxCookieLength) throw new ArgumentException("cookie is longer than 64 bytes");
            Protocol = protocol;
            this.nonce = CopyOf(nonce);
            Client = client ?? "";
            ClientVersion = clientVersion ?? "";
            Engine = engine ?? "";
            Width = width;
            Height = height;
            Fps = fps;
            Quality = quality;
            MaxDatagram = maxDatagram;
            this.cookie = CopyOf(cookie);
            this.auth = CopyOf(auth);
            this.pad = CopyOf(pad);
        }

        public override string Type => "hello";
        public int Protocol { get; }
        public byte[] Nonce => CopyOf(nonce);
        public string Client { get; }
        public string ClientVersion { get; }
        public string Engine { get; }
        public int Width { get; }
        public int Height { get; }
        public double Fps { get; }
        public int Quality { get; }
        public int MaxDatagram { get; }
        public byte[] Cookie => CopyOf(cookie);
        public byte[] Auth => CopyOf(auth);
        public byte[] Pad => CopyOf(pad);

        /// <summary>v1.1: the minor protocol version (1), absent for a v1.0 client.</summary>
        public int? Minor { get; }

        /// <summary>v1.1: what this client can do (e.g. "path_response"), absent for a v1.0 client.</summary>
        public IReadOnlyList<string> Capabilities { get; }

        /// <summary>Pre-emption policy asked for ("latent", "off"); null leaves it to the daemon.</summary>
        public string Preempt { get; }

        public const int MaxCapabilities = 16;
        readonly List<string> capabilityList;

        /// <summary>The same hello with a different padding (used to reach the minimum hello size).</summary>
        public HelloMessage WithPad(byte[] newPad) => new HelloMessage(Protocol, nonce, Client, ClientVersion, Engine, Width, Height, Fps,
                                                       Quality, MaxDatagram, cookie, auth, newPad, Minor, capabilityList, Preempt);

        internal override void WriteFields(FieldWriter w)
        {
            w.Int("protocol", Protocol).Bytes("nonce", nonce).String("client", Client).String("client_version", ClientVersion)
             .String("engine", Engine).Int("width", Width).Int("height", Height).Float("fps", Fps).Int("quality", Quality)
             .Int("max_datagram", MaxDatagram);
            if (cookie != null) w.Bytes("cookie", cookie);
            if (auth != null) w.Bytes("auth", auth);
            if (Minor.HasValue) w.Int("minor", Minor.Value);
            if (Capabilities != null) w.StringList("capabilities", Capabilities);
            if (Preempt != null) w.String("preempt", Preempt);
            if (pad != null) w.Bytes("pad", pad);
        }

        internal static HelloMessage Read(FieldReader r)
        {
            double fps = r.Float("fps", 0, 0, 240);
            if (fps != 0 && fps < 1) throw ProtocolViolation.OutOfRange("hello.fps is neither 0 nor 1…240");
            return new HelloMessage(
                protocol: (int)r.Int("protocol", int.MinValue, int.MaxValue),
                nonce: r.Bytes("nonce", NonceLength, NonceLength),
                client: r.String("client", 64),
                clientVersion: r.String("client_version", 32),
                engine: r.String("engine", "", 64),
                width: (int)r.Int("width", 0, 0, 65535),
                height: (int)r.Int("height", 0, 0, 65535),
                fps: fps,
                quality: (int)r.Int("quality", 85, 1, 100),
                maxDatagram: (int)r.Int("max_datagram", 1200, 576, 65000),
                cookie: r.OptionalBytes("cookie", 1, MaxCookieLength),
                auth: r.OptionalBytes("auth", AuthLength, AuthLength),
                pad: r.OptionalBytes("pad", 0, int.MaxValue),
                minor: r.Has("minor") ? (int?)r.Int("minor", 0, 255) : null,
                capabilities: r.Has("capabilities") ? r.StringList("capabilities", MaxCapabilities) : null,
                preempt: r.String("preempt", "", 16));
        }
    }

    public sealed class RetryMessage : ControlMessage
    {
        readonly byte[] nonce, cookie;

        public RetryMessage(byte[] nonce, byte[] cookie, bool tokenRequired)
        {
            RequireLength(nonce, HelloMessage.NonceLength, "nonce");
            if (cookie == null || cookie.Length < 1 || cookie.Length > HelloMessage.MaxCookieLength)
                throw new ArgumentException("cookie must be 1…64 bytes");
            this.nonce = CopyOf(nonce);
            this.cookie = CopyOf(cookie);
            TokenRequired = tokenRequired;
        }

        public override string Type => "retry";
        public byte[] Nonce => CopyOf(nonce);
        public byte[] Cookie => CopyOf(cookie);
        public bool TokenRequired { get; }

        internal override void WriteFields(FieldWriter w) =>
            w.Bytes("nonce", nonce).Bytes("cookie", cookie).Bool("token_required", TokenRequired);

        internal static RetryMessage Read(FieldReader r) => new RetryMessage(
            r.Bytes("nonce", HelloMessage.NonceLength, HelloMessage.NonceLength),
            r.Bytes("cookie", 1, HelloMessage.MaxCookieLength),
            r.Bool("token_required"));
    }

    /// <summary>The action vocabulary named by the welcome (SPEC §7).</summary>
    public sealed class Vocabulary
    {
        public Vocabulary(string name, string version, IList<string> movement, IList<string> look)
        {
            Name = name;
            Version = version;
            Movement = new List<string>(movement).AsReadOnly();
            Look = new List<string>(look).AsReadOnly();
        }

        public string Name { get; }
        public string Version { get; }
        public IReadOnlyList<string> Movement { get; }
        public IReadOnlyList<string> Look { get; }

        /// <summary>"W+D ↑→"-style description of an action id (<c>movement · 9 + look</c>).</summary>
        public string Describe(int action)
        {
            int lookCount = Math.Max(1, Look.Count);
            int movement = action / lookCount, look = action % lookCount;
            string m = movement < Movement.Count ? Movement[movement] : "?";
            string l = look < Look.Count ? Look[look] : "?";
            return m + " " + l;
        }

        internal FieldWriter ToFields() => new FieldWriter().String("name", Name).String("version", Version)
            .StringList("movement", Movement).StringList("look", Look);

        internal static Vocabulary Read(FieldReader r) => new Vocabulary(
            r.String("name"), r.String("version"), r.StringList("movement", 64), r.StringList("look", 64));
    }

    /// <summary>The limits of SPEC §9 that apply to clients; absent ones keep their defaults.</summary>
    public sealed class WireLimits
    {
        public static readonly WireLimits Defaults = new WireLimits();

        public WireLimits(int maxControlBytes = 4096, int maxPromptChars = 1000, int maxEventChars = 300, int maxEvents = 4,
                          long maxUploadBytes = 8388608, long maxImagePixels = 40000000, int idleTimeoutMs = 10000,
                          int frameDeadlineMs = 300, int maxNackFragments = 128, int maxKeys = 16, int maxSessions = 4)
        {
            MaxControlBytes = maxControlBytes;
            MaxPromptChars = maxPromptChars;
            MaxEventChars = maxEventChars;
            MaxEvents = maxEvents;
            MaxUploadBytes = maxUploadBytes;
            MaxImagePixels = maxImagePixels;
            IdleTimeoutMs = idleTimeoutMs;
            FrameDeadlineMs = frameDeadlineMs;
            MaxNackFragments = maxNackFragments;
            MaxKeys = maxKeys;
            MaxSessions = maxSessions;
        }

        public int MaxControlBytes { get; }
        public int MaxPromptChars { get; }
        public int MaxEventChars { get; }
        public int MaxEvents { get; }
        public long MaxUploadBytes { get; }
        public long MaxImagePixels { get; }
        public int IdleTimeoutMs { get; }
        public int FrameDeadlineMs { get; }
        public int MaxNackFragments { get; }
        public int MaxKeys { get; }
        public int MaxSessions { get; }

        internal FieldWriter ToFields() => new FieldWriter()
            .Int("max_control_bytes", MaxControlBytes).Int("max_prompt_chars", MaxPromptChars)
            .Int("max_event_chars", MaxEventChars).Int("max_events", MaxEvents).Int("max_upload_bytes", MaxUploadBytes)
            .Int("max_image_pixels", MaxImagePixels).Int("idle_timeout_ms", IdleTimeoutMs)
            .Int("frame_deadline_ms", FrameDeadlineMs).Int("max_nack_fragments", MaxNackFragments)
            .Int("max_keys", MaxKeys).Int("max_sessions", MaxSessions);

        internal static WireLimits Read(FieldReader r)
        {
            var d = Defaults;
            return new WireLimits(
                maxControlBytes: (int)r.Int("max_control_bytes", d.MaxControlBytes, 512, 65507),
                maxPromptChars: (int)r.Int("max_prompt_chars", d.MaxPromptChars, 0, int.MaxValue),
                maxEventChars: (int)r.Int("max_event_chars", d.MaxEventChars, 0, int.MaxValue),
                maxEvents: (int)r.Int("max_events", d.MaxEvents, 0, int.MaxValue),
                maxUploadBytes: r.Int("max_upload_bytes", d.MaxUploadBytes, 0, long.MaxValue),
                maxImagePixels: r.Int("max_image_pixels", d.MaxImagePixels, 0, long.MaxValue),
                idleTimeoutMs: (int)r.Int("idle_timeout_ms", d.IdleTimeoutMs, 1, int.MaxValue),
                frameDeadlineMs: (int)r.Int("frame_deadline_ms", d.FrameDeadlineMs, 0, int.MaxValue),
                maxNackFragments: (int)r.Int("max_nack_fragments", d.MaxNackFragments, 1, 65535),
                maxKeys: (int)r.Int("max_keys", d.MaxKeys, 0, int.MaxValue),
                maxSessions: (int)r.Int("max_sessions", d.MaxSessions, 0, int.MaxValue));
        }
    }

    public sealed class WelcomeMessage : SessionMessage
    {
        readonly byte[] nonce;

        public WelcomeMessage(uint session, uint seq, int protocol, byte[] nonce, string daemonVersion, string backend, string model,
                       string modelVersion, string state, int width, int height, double fps, int framesPerChunk, int quality,
                       int maxDatagram, bool authenticated, Vocabulary vocabulary, WireLimits limits, IList<string> capabilities)
            : base(session, seq)
        {
            RequireLength(nonce, HelloMessage.NonceLength, "nonce");
            Protocol = protocol;
            this.nonce = CopyOf(nonce);
            DaemonVersion = daemonVersion;
            Backend = backend;
            Model = model;
            ModelVersion = modelVersion;
            State = state;
            Width = width;
            Height = height;
            Fps = fps;
            FramesPerChunk = framesPerChunk;
            Quality = quality;
            MaxDatagram = maxDatagram;
            Authenticated = authenticated;
            Vocabulary = vocabulary;
            Limits = limits;
            Capabilities = new List<string>(capabilities).AsReadOnly();
        }

        public override string Type => "welcome";
        public int Protocol { get; }
        public byte[] Nonce => CopyOf(nonce);
        public string DaemonVersion { get; }
        public string Backend { get; }
        public string Model { get; }
        public string ModelVersion { get; }
        public string State { get; }
        public int Width { get; }
        public int Height { get; }
        public double Fps { get; }
        public int FramesPerChunk { get; }
        public int Quality { get; }
        public int MaxDatagram { get; }
        public bool Authenticated { get; }
        public Vocabulary Vocabulary { get; }
        public WireLimits Limits { get; }
        public IReadOnlyList<string> Capabilities { get; }

        public bool HasCapability(string name)
        {
            foreach (var c in Capabilities)
                if (c == name) return true;
            return false;
        }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("protocol", Protocol).Bytes("nonce", nonce).String("daemon_version", DaemonVersion).String("backend", Backend)
             .String("model", Model).String("model_version", ModelVersion).String("state", State).Int("width", Width)
             .Int("height", Height).Float("fps", Fps).Int("frames_per_chunk", FramesPerChunk).Int("quality", Quality)
             .Int("max_datagram", MaxDatagram).Bool("authenticated", Authenticated).Map("vocabulary", Vocabulary.ToFields())
             .Map("limits", Limits.ToFields()).StringList("capabilities", Capabilities);
        }

        internal static WelcomeMessage Read(FieldReader r)
        {
            var welcome = new WelcomeMessage(
            r.U32("session"), r.U32("seq"), (int)r.Int("protocol", int.MinValue, int.MaxValue),
            r.Bytes("nonce", HelloMessage.NonceLength, HelloMessage.NonceLength), r.String("daemon_version"), r.String("backend"),
            r.String("model"), r.String("model_version"), r.String("state"), (int)r.Int("width", 1, 65535),
            (int)r.Int("height", 1, 65535), r.Float("fps", 1, 240), (int)r.Int("frames_per_chunk", 1, 65535),
            (int)r.Int("quality", 1, 100), (int)r.Int("max_datagram", 576, 65000), r.Bool("authenticated"),
            Vocabulary.Read(r.Map("vocabulary")), WireLimits.Read(r.Map("limits")), r.StringList("capabilities"));
            welcome.Minor = (int)r.Int("minor", 0, 0, 255);
            return welcome;
        }

        /// <summary>v1.1: the daemon's minor protocol version; 0 for a v1.0 daemon.</summary>
        public int Minor { get; private set; }
    }

    public sealed class ErrorMessage : ControlMessage
    {
        readonly uint session, seq;

        public ErrorMessage(string code, string message, uint session = 0, uint seq = 0, uint reference = 0, bool fatal = false)
        {
            Code = code ?? throw new ArgumentNullException(nameof(code));
            Message = message ?? "";
            this.session = session;
            this.seq = seq;
            Ref = reference;
            Fatal = fatal;
        }

        public override string Type => "error";
        public override uint Session => session;
        public override uint Seq => seq;
        public string Code { get; }
        public string Message { get; }

        /// <summary>The <c>seq</c> of the datagram that caused the error, 0 when unknown.</summary>
        public uint Ref { get; }

        public bool Fatal { get; }

        internal override void WriteFields(FieldWriter w) =>
            w.String("code", Code).String("message", Message).Int("session", session).Int("seq", seq).Int("ref", Ref)
             .Bool("fatal", Fatal);

        internal static ErrorMessage Read(FieldReader r) => new ErrorMessage(
            r.String("code"), r.String("message"), r.U32("session", 0), r.U32("seq", 0), r.U32("ref", 0), r.Bool("fatal"));
    }
}

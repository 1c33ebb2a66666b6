// Immutable messages exchanged inside a session (SPEC §5.4–5.12).
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    public sealed class UploadMessage : SessionMessage
    {
        public const int HashLength = 32;
        readonly byte[] hash, data;

        public UploadMessage(uint session, uint seq, byte[] hash, long size, long offset, byte[] data) : base(session, seq)
        {
            RequireLength(hash, HashLength, "hash");
            if (data == null || data.Length < 1) throw new ArgumentException("an upload piece holds at least one byte");
            if (size < 1 || offset < 0 || offset + data.Length > size) throw new ArgumentException("piece lies outside the file");
            this.hash = CopyOf(hash);
            Size = size;
            Offset = offset;
            this.data = CopyOf(data);
        }

        public override string Type => "upload";
        public byte[] Hash => CopyOf(hash);
        public long Size { get; }
        public long Offset { get; }
        public byte[] Data => CopyOf(data);
        public int DataLength => data.Length;

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Bytes("hash", hash).Int("size", Size).Int("offset", Offset).Bytes("data", data);
        }

        internal static UploadMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq");
            var hash = r.Bytes("hash", HashLength, HashLength);
            long size = r.Int("size", 1, long.MaxValue);
            long offset = r.Int("offset", 0, long.MaxValue);
            var data = r.Bytes("data", 1, int.MaxValue);
            if (offset + data.Length > size) throw ProtocolViolation.Malformed("upload piece lies outside size");
            return new UploadMessage(session, seq, hash, size, offset, data);
        }
    }

    public sealed class UploadAckMessage : SessionMessage
    {
        readonly byte[] hash;

        public UploadAckMessage(uint session, uint seq, byte[] hash, long offset, long length, long received, bool complete)
            : base(session, seq)
        {
            RequireLength(hash, UploadMessage.HashLength, "hash");
            this.hash = CopyOf(hash);
            Offset = offset;
            Length = length;
            Received = received;
            Complete = complete;
        }

        public override string Type => "upload_ack";
        public byte[] Hash => CopyOf(hash);
        public long Offset { get; }
        public long Length { get; }
        public long Received { get; }
        public bool Complete { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Bytes("hash", hash).Int("offset", Offset).Int("length", Length).Int("received", Received).Bool("complete", Complete);
        }

        internal static UploadAckMessage Read(FieldReader r) => new UploadAckMessage(
            r.U32("session"), r.U32("seq"), r.Bytes("hash", UploadMessage.HashLength, UploadMessage.HashLength),
            r.Int("offset", 0, long.MaxValue), r.Int("length", 0, long.MaxValue), r.Int("received", 0, long.MaxValue),
            r.Bool("complete"));
    }

    public static class StartSources
    {
        public const string Image = "image";
        public const string Text = "text";
        public const string Default = "default";
    }

    public sealed class StartMessage : SessionMessage
    {
        readonly byte[] image;

        public StartMessage(uint session, uint seq, string source, byte[] image = null, string prompt = "", uint? seed = null)
            : base(session, seq)
        {
            if (source != StartSources.Image && source != StartSources.Text && source != StartSources.Default)
                throw new ArgumentException("source must be image, text or default");
            if (image != null) RequireLength(image, UploadMessage.HashLength, "image");
            if (source == StartSources.Image && image == null) throw new ArgumentException("an image start names the image hash");
            if (source == StartSources.Text && string.IsNullOrEmpty(prompt)) throw new ArgumentException("a text start needs a prompt");
            Source = source;
            this.image = CopyOf(image);
            Prompt = prompt ?? "";
            Seed = seed;
        }

        public override string Type => "start";
        public string Source { get; }
        public byte[] Image => CopyOf(image);
        public string Prompt { get; }
        public uint? Seed { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.String("source", Source);
            if (image != null) w.Bytes("image", image);
            w.String("prompt", Prompt);
            if (Seed.HasValue) w.Int("seed", Seed.Value);
        }

        internal static StartMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq");
            string source = r.String("source");
            if (source != StartSources.Image && source != StartSources.Text && source != StartSources.Default)
                throw ProtocolViolation.Malformed($"start.source \"{source}\" is not image, text or default");
            var image = r.OptionalBytes("image", UploadMessage.HashLength, UploadMessage.HashLength);
            string prompt = r.String("prompt", "");
            if (source == StartSources.Image && image == null) throw ProtocolViolation.Malformed("start.image is missing");
            if (source == StartSources.Text && prompt.Length == 0) throw ProtocolViolation.Malformed("a text start has no prompt");
            return new StartMessage(session, seq, source, image, prompt, r.OptionalU32("seed"));
        }
    }

    public sealed class StartedMessage : SessionMessage
    {
        public StartedMessage(uint session, uint seq, long world, string source, uint seed, uint reference = 0) : base(session, seq)
        {
            Ref = reference;
            World = world;
            Source = source;
            SeedUsed = seed;
        }

        public override string Type => "started";
        public long World { get; }
        public string Source { get; }
        public uint SeedUsed { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("world", World).String("source", Source).Int("seed", SeedUsed);
            if (Ref != 0) w.Int("ref", Ref);
        }

        internal static StartedMessage Read(FieldReader r)
        {
            return new StartedMessage(r.U32("session"), r.U32("seq"), r.Int("world", 0, long.MaxValue), r.String("source"), r.U32("seed"),
                                      r.U32("ref", 0));
        }

        /// <summary>v1.1: the seq of the start this answers; 0 from a v1.0 daemon.</summary>
        public uint Ref { get; }
    }

    public sealed class InputMessage : SessionMessage
    {
        public const int MaxKeys = 16;
        static readonly double[] Zero = { 0, 0 };
        readonly double[] move, look;
        readonly string[] keys;

        public InputMessage(uint session, uint seq, long timeUs, double moveX, double moveY, double lookX, double lookY,
                            IList<string> keys = null) : base(session, seq)
        {
            foreach (var axis in new[] { moveX, moveY, lookX, lookY })
                if (double.IsNaN(axis) || axis < -1 || axis > 1) throw new ArgumentException("input axes lie in [-1, 1]");
            TimeUs = timeUs;
            move = new[] { moveX, moveY };
            look = new[] { lookX, lookY };
            this.keys = keys == null ? new string[0] : new List<string>(keys).ToArray();
            if (this.keys.Length > MaxKeys) throw new ArgumentException("at most 16 keys");
        }

        public override string Type => "input";
        public long TimeUs { get; }
        public double MoveX => move[0];
        public double MoveY => move[1];
        public double LookX => look[0];
        public double LookY => look[1];
        public IReadOnlyList<string> Keys => Array.AsReadOnly(keys);

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("time_us", TimeUs).FloatList("move", move).FloatList("look", look).StringList("keys", keys);
        }

        internal static InputMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq");
            long timeUs = r.Int("time_us", 0, long.MinValue, long.MaxValue);
            var move = r.FloatPair("move", Zero, -1, 1);
            var look = r.FloatPair("look", Zero, -1, 1);
            var keys = r.StringList("keys", new string[0], MaxKeys);
            return new InputMessage(session, seq, timeUs, move[0], move[1], look[0], look[1], keys);
        }
    }

    public sealed class EventMessage : SessionMessage
    {
        public EventMessage(uint session, uint seq, uint id, string text) : base(session, seq)
        {
            Id = id;
            Text = text ?? throw new ArgumentNullException(nameof(text));
        }

        public override string Type => "event";
        public uint Id { get; }

        /// <summary>The event prompt; "" clears event <see cref="Id"/>.</summary>
        public string Text { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("id", Id).String("text", Text);
        }

        internal static EventMessage Read(FieldReader r) =>
            new EventMessage(r.U32("session"), r.U32("seq"), r.U32("id"), r.String("text"));
    }

    public sealed class EventAckMessage : SessionMessage
    {
        readonly uint[] active;

        public EventAckMessage(uint session, uint seq, uint id, long chunk, IList<uint> active) : base(session, seq)
        {
            Id = id;
            Chunk = chunk;
            this.active = new List<uint>(active).ToArray();
        }

        public override string Type => "event_ack";
        public uint Id { get; }

        /// <summary>The first chunk the change applies to.</summary>
        public long Chunk { get; }

        /// <summary>The ids now active, oldest first.</summary>
        public IReadOnlyList<uint> Active => Array.AsReadOnly(active);

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            var ids = new List<long>();
            foreach (var id in active) ids.Add(id);
            w.Int("id", Id).Int("chunk", Chunk).IntList("active", ids);
        }

        internal static EventAckMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq"), id = r.U32("id");
            long chunk = r.Int("chunk", long.MinValue, long.MaxValue);
            var ids = new List<uint>();
            foreach (var value in r.IntList("active", 0, uint.MaxValue)) ids.Add((uint)value);
            return new EventAckMessage(session, seq, id, chunk, ids);
        }
    }

    public sealed class ConfigMessage : SessionMessage
    {
        public ConfigMessage(uint session, uint seq, int? quality = null, double? fps = null, bool? paused = null, string preempt = null)
            : base(session, seq)
        {
            Preempt = string.IsNullOrEmpty(preempt) ? null : preempt;
            if (quality.HasValue && (quality < 1 || quality > 100)) throw new ArgumentException("quality lies in 1…100");
            if (fps.HasValue && !(fps >= 1 && fps <= 240)) throw new ArgumentException("fps lies in 1…240");
            Quality = quality;
            Fps = fps;
            Paused = paused;
        }

        public override string Type => "config";
        public int? Quality { get; }
        public double? Fps { get; }
        public bool? Paused { get; }

        /// <summary>Pre-emption policy ("latent" or "off"); null leaves it unchanged.</summary>
        public string Preempt { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            if (Quality.HasValue) w.Int("quality", Quality.Value);
            if (Fps.HasValue) w.Float("fps", Fps.Value);
            if (Paused.HasValue) w.Bool("paused", Paused.Value);
            if (Preempt != null) w.String("preempt", Preempt);
        }

        internal static ConfigMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq");
            var quality = r.OptionalInt("quality", 1, 100);
            return new ConfigMessage(session, seq, quality.HasValue ? (int?)quality.Value : null,
                                     r.OptionalFloat("fps", 1, 240), r.OptionalBool("paused"), r.String("preempt", "", 16));
        }
    }

    public sealed class PingMessage : SessionMessage
    {
        public PingMessage(uint session, uint seq, long timeUs) : base(session, seq) { TimeUs = timeUs; }

        public override string Type => "ping";
        public long TimeUs { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("time_us", TimeUs);
        }

        internal static PingMessage Read(FieldReader r) => new PingMessage(r.U32("session"), r.U32("seq"), r.Int("time_us"));
    }

    /// <summary>v1.1 path validation: a session message carrying 8 opaque bytes (challenge and response share the shape).</summary>
    public abstract class PathMessage : SessionMessage
    {
        public const int DataLength = 8;
        readonly byte[] data;

        protected PathMessage(uint session, uint seq, byte[] data) : base(session, seq)
        {
            RequireLength(data, DataLength, "data");
            this.data = CopyOf(data);
        }

        public byte[] Data => CopyOf(data);

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Bytes("data", data);
        }

        internal static byte[] ReadData(FieldReader r) => r.Bytes("data", DataLength, DataLength);
    }

    /// <summary>
    /// v1.1, daemon → client: a tagged datagram of this session arrived from a new address (NAT rebinding, roaming);
    /// the daemon moves the stream there once the client echoes <see cref="PathMessage.Data"/> in a <see cref="PathResponseMessage"/>.
    /// </summary>
    public sealed class PathChallengeMessage : PathMessage
    {
        public PathChallengeMessage(uint session, uint seq, byte[] data) : base(session, seq, data) { }
        public override string Type => "path_challenge";
        internal static PathChallengeMessage Read(FieldReader r) => new PathChallengeMessage(r.U32("session"), r.U32("seq"), ReadData(r));
    }

    /// <summary>v1.1, client → daemon: the answer to a <see cref="PathChallengeMessage"/>, with the same 8 bytes.</summary>
    public sealed class PathResponseMessage : PathMessage
    {
        public PathResponseMessage(uint session, uint seq, byte[] data) : base(session, seq, data) { }
        public override string Type => "path_response";
        internal static PathResponseMessage Read(FieldReader r) => new PathResponseMessage(r.U32("session"), r.U32("seq"), ReadData(r));
    }

    public sealed class PongMessage : SessionMessage
    {
        public PongMessage(uint session, uint seq, long timeUs, long daemonTimeUs) : base(session, seq)
        {
            TimeUs = timeUs;
            DaemonTimeUs = daemonTimeUs;
        }

        public override string Type => "pong";

        /// <summary>The ping's <c>time_us</c>, echoed.</summary>
        public long TimeUs { get; }

        public long DaemonTimeUs { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.Int("time_us", TimeUs).Int("daemon_time_us", DaemonTimeUs);
        }

        internal static PongMessage Read(FieldReader r) =>
            new PongMessage(r.U32("session"), r.U32("seq"), r.Int("time_us"), r.Int("daemon_time_us"));
    }

    public sealed class NackMessage : SessionMessage
    {
        readonly int[] missing;
        readonly byte[] pad;

        /// <param name="pad">v1.1: ignored bytes that make the nack big enough for the resend it asks for (the daemon
        /// resends at most 10× a nack's size)</param>
        public NackMessage(uint session, uint seq, uint frame, IList<int> missing, byte[] pad = null) : base(session, seq)
        {
            if (missing == null || missing.Count < 1) throw new ArgumentException("a nack lists at least one fragment");
            Frame = frame;
            this.missing = new List<int>(missing).ToArray();
            this.pad = pad;
        }

        public int PadLength => pad?.Length ?? 0;

        public override string Type => "nack";
        public uint Frame { get; }
        public IReadOnlyList<int> Missing => Array.AsReadOnly(missing);

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            var indices = new List<long>();
            foreach (var i in missing) indices.Add(i);
            w.Int("frame", Frame).IntList("missing", indices);
            if (pad != null) w.Bytes("pad", pad);
        }

        internal static NackMessage Read(FieldReader r)
        {
            uint session = r.U32("session"), seq = r.U32("seq"), frame = r.U32("frame");
            var indices = new List<int>();
            foreach (var value in r.IntList("missing", 0, ushort.MaxValue)) indices.Add((int)value);
            if (indices.Count < 1) throw ProtocolViolation.OutOfRange("nack.missing is empty");
            return new NackMessage(session, seq, frame, indices, r.OptionalBytes("pad", 0, int.MaxValue));
        }
    }

    /// <summary>Milliseconds of the last chunk, per stage (SPEC §5.11).</summary>
    public sealed class Latency
    {
        public Latency(double queueMs, double generateMs, double encodeMs, double sendMs)
        {
            QueueMs = queueMs;
            GenerateMs = generateMs;
            EncodeMs = encodeMs;
            SendMs = sendMs;
        }

        public double QueueMs { get; }
        public double GenerateMs { get; }
        public double EncodeMs { get; }
        public double SendMs { get; }

        internal FieldWriter ToFields() => new FieldWriter().Float("queue_ms", QueueMs).Float("generate_ms", GenerateMs)
            .Float("encode_ms", EncodeMs).Float("send_ms", SendMs);

        internal static Latency Read(FieldReader r)
        {
            var latency = new Latency(r.Float("queue_ms"), r.Float("generate_ms"), r.Float("encode_ms"), r.Float("send_ms"));
            latency.WaitMs = r.OptionalFloat("wait_ms", 0, double.MaxValue);
            latency.DecodeMs = r.OptionalFloat("decode_ms", 0, double.MaxValue);
            latency.PacingMs = r.OptionalFloat("pacing_ms", 0, double.MaxValue);
            latency.TotalMs = r.OptionalFloat("total_ms", 0, double.MaxValue);
            return latency;
        }

        /// <summary>Newer daemons' finer breakdown (SPEC §5.11); null from a daemon that does not send it.</summary>
        public double? WaitMs { get; private set; }
        public double? DecodeMs { get; private set; }
        public double? PacingMs { get; private set; }
        public double? TotalMs { get; private set; }
    }

    /// <summary>Generator readiness as reported by <c>status.state</c> and <c>welcome.state</c>.</summary>
    public static class ReadinessStates
    {
        public const string Loading = "loading";
        public const string Warming = "warming";
        public const string Ready = "ready";
        public const string Generating = "generating";
        public const string Paused = "paused";
        public const string Error = "error";
    }

    public sealed class StatusMessage : SessionMessage
    {
        public StatusMessage(uint session, uint seq, string state, double progress, long world, long chunk, long queue,
                             double fps, long framesSent, int action, uint inputSeq, Latency latency, string message = "")
            : base(session, seq)
        {
            State = state;
            Progress = progress;
            World = world;
            Chunk = chunk;
            Queue = queue;
            Fps = fps;
            FramesSent = framesSent;
            Action = action;
            InputSeq = inputSeq;
            Latency = latency;
            Message = message ?? "";
        }

        public override string Type => "status";
        public string State { get; }
        public double Progress { get; }
        public long World { get; }
        public long Chunk { get; }
        public long Queue { get; }
        public double Fps { get; }
        public long FramesSent { get; }
        public int Action { get; }
        public uint InputSeq { get; }
        public Latency Latency { get; }
        public string Message { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.String("state", State).Float("progress", Progress).Int("world", World).Int("chunk", Chunk).Int("queue", Queue)
             .Float("fps", Fps).Int("frames_sent", FramesSent).Int("action", Action).Int("input_seq", InputSeq)
             .Map("latency", Latency.ToFields()).String("message", Message);
        }

        internal static StatusMessage Read(FieldReader r)
        {
            var status = new StatusMessage(
            // progress is 0–1 by the spec; a rounding step past 1 must not cost the client a whole status.
            r.U32("session"), r.U32("seq"), r.String("state"), Math.Max(0, Math.Min(1, r.Float("progress"))), r.Int("world", 0, long.MaxValue),
            r.Int("chunk", -1, long.MaxValue), r.Int("queue", 0, long.MaxValue), r.Float("fps", 0, double.MaxValue),
            r.Int("frames_sent", 0, long.MaxValue), (int)r.Int("action", 0, 255), r.U32("input_seq"),
            Latency.Read(r.Map("latency")), r.String("message", ""));
            status.Preempt = r.String("preempt", "", 16);
            status.Cuts = r.Int("cuts", 0, 0, long.MaxValue);
            status.Wasted = r.Float("wasted", 0, 0, 1);
            return status;
        }

        /// <summary>The pre-emption policy in force ("" from a daemon without pre-emption).</summary>
        public string Preempt { get; private set; } = "";

        /// <summary>Chunks cut short so far, and the share of generated frames never shown (SPEC §6.5).</summary>
        public long Cuts { get; private set; }
        public double Wasted { get; private set; }
    }

    public static class ByeReasons
    {
        public const string Client = "client";
        public const string Shutdown = "shutdown";
        public const string IdleTimeout = "idle_timeout";
        public const string Replaced = "replaced";
    }

    public sealed class ByeMessage : SessionMessage
    {
        public ByeMessage(uint session, uint seq, string reason = "") : base(session, seq) { Reason = reason ?? ""; }

        public override string Type => "bye";
        public string Reason { get; }

        internal override void WriteFields(FieldWriter w)
        {
            WriteSession(w);
            w.String("reason", Reason);
        }

        internal static ByeMessage Read(FieldReader r) => new ByeMessage(r.U32("session"), r.U32("seq"), r.String("reason", ""));
    }
}

// Live interop check of the Unity plugin's core against a running daemon (`yume-bridge serve`):
// handshake, start-image upload, start, inputs (W, then W + look right), an event prompt and its ack,
// and complete frames whose JPEG size must equal the welcome's. Prints one JSON line; exit 0 on success.
//
//   mono YumeBridgeInterop.exe --host 127.0.0.1 --port 47811 --image start.jpg [--token T] [--seconds S]
//                              [--encoding json|msgpack] [--min-frames N] [--expect-actions] [--drop-fragments PERCENT]
// --drop-fragments discards that share of incoming fragments (seeded, repeatable) to exercise NACK and retransmission.
// --check-errors then provokes two daemon errors (too_many_events, unknown_image) and checks they reach the right request.
// --discover SECONDS first finds the daemon by DNS-SD (_yume-bridge._udp.local., the daemon started with --advertise):
// the one answering with --port; its advertised address replaces --host.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Yume.Bridge.Core;

namespace Yume.Bridge.Interop
{
    static class ExitCodes
    {
        public const int Ok = 0, Failed = 1, Usage = 2, Connect = 3, Start = 4, Event = 5, Frames = 6;
    }

    sealed class InteropFailure : Exception
    {
        public InteropFailure(int exitCode, string stage, string message) : base(message)
        {
            ExitCode = exitCode;
            Stage = stage;
        }

        public int ExitCode { get; }
        public string Stage { get; }
    }

    sealed class Arguments
    {
        public string Host = "127.0.0.1";
        public int Port = 47800;
        public string Image;
        public string Token;
        public double Seconds = 8;
        public WireEncoding Encoding = WireEncoding.MsgPack;
        public int MinFrames = 5;
        public bool ExpectActions;
        public int DropFragmentsPercent;
        public bool CheckErrors;
        public double DiscoverSeconds;

        public static Arguments Parse(string[] args)
        {
            var a = new Arguments();
            for (int i = 0; i < args.Length; i++)
            {
                string name = args[i];
                if (name == "--expect-actions" || name == "--check-errors")
                {
                    if (name == "--expect-actions") a.ExpectActions = true;
                    else a.CheckErrors = true;
                    continue;
                }
                if (i + 1 >= args.Length) throw Usage($"{name} needs a value");
                string value = args[++i];
                switch (name)
                {
                    case "--host": a.Host = value; break;
                    case "--port": a.Port = ParseInt(name, value, 1, 65535); break;
                    case "--image": a.Image = value; break;
                    case "--token": a.Token = value; break;
                    case "--seconds":
                        double seconds;
                        if (!double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out seconds) ||
                            seconds < 1 || seconds > 3600)
                            throw Usage("--seconds must be a number in 1…3600");
                        a.Seconds = seconds;
                        break;
                    case "--min-frames": a.MinFrames = ParseInt(name, value, 1, 1000000); break;
                    case "--discover": a.DiscoverSeconds = ParseInt(name, value, 1, 60); break;
                    case "--drop-fragments": a.DropFragmentsPercent = ParseInt(name, value, 0, 50); break;
                    case "--encoding":
                        if (value == "json") a.Encoding = WireEncoding.Json;
                        else if (value == "msgpack") a.Encoding = WireEncoding.MsgPack;
                        else throw Usage("--encoding is json or msgpack");
                        break;
                    default: throw Usage($"unknown option {name}");
                }
            }
            if (a.Image == null) throw Usage("--image FILE is required");
            return a;
        }

        static int ParseInt(string name, string value, int min, int max)
        {
            int result;
            if (!int.TryParse(value, out result) || result < min || result > max) throw Usage($"{name} must be an integer in {min}…{max}");
            return result;
        }

        static InteropFailure Usage(string message) => new InteropFailure(ExitCodes.Usage, "arguments",
            message + "\nusage: YumeBridgeInterop.exe --host H --port N --image FILE [--token T] [--seconds S] " +
            "[--encoding json|msgpack] [--min-frames N] [--expect-actions] [--drop-fragments PERCENT] [--check-errors] [--discover SECONDS]");
    }

    sealed class Program
    {
        const string EventText = "a dragon circles the tower";
        readonly Arguments args;
        readonly Stopwatch wall = Stopwatch.StartNew();
        readonly Dictionary<string, WireValue> summary = new Dictionary<string, WireValue>();
        readonly List<string> summaryOrder = new List<string>();
        BridgeConnection connection;
        WelcomeMessage welcome;
        StatusMessage lastStatus;
        EventAcknowledged eventAck;
        double? rttMs;
        int framesChecked, framesRepaired, framesDecoded;
        double decodeMsTotal, lastDecodeAt = double.NegativeInfinity;
        readonly BaselineJpegDecoder decoder = new BaselineJpegDecoder();
        readonly DecodedImage decoded = new DecodedImage();
        long fragmentsDiscarded;
        long lastFrame = -1;
        readonly SortedSet<int> actionsWalking = new SortedSet<int>(), actionsTurning = new SortedSet<int>();
        readonly List<string> notes = new List<string>();

        Program(Arguments args) { this.args = args; }

        static int Main(string[] argv)
        {
            Arguments args;
            try
            {
                args = Arguments.Parse(argv);
            }
            catch (InteropFailure failure)
            {
                Console.Error.WriteLine("YumeBridgeInterop: " + failure.Message);
                return failure.ExitCode;
            }
            return new Program(args).Run();
        }

        int Run()
        {
            Put("ok", WireValue.False);
            try
            {
                var image = ReadImage();
                if (args.DiscoverSeconds > 0) Discover();
                connection = new BridgeConnection(args.Host, args.Port, new ClientOptions(
                    token: args.Token, encoding: args.Encoding, engine: "interop console (mono " + Environment.Version + ")"));
                if (args.DropFragmentsPercent > 0) connection.ReceiveFilter = LossyFilter(args.DropFragmentsPercent);
                connection.Start();
                Connect();
                StartFromImage(image);
                Stream();
                Check();
                if (args.CheckErrors) CheckDaemonErrors();
                Put("ok", WireValue.True);
                Console.WriteLine(Encode());
                return ExitCodes.Ok;
            }
            catch (InteropFailure failure)
            {
                Put("stage", WireValue.String(failure.Stage));
                Put("error", WireValue.String(failure.Message));
                Console.WriteLine(Encode());
                Console.Error.WriteLine($"YumeBridgeInterop: FAILED at {failure.Stage}: {failure.Message}");
                return failure.ExitCode;
            }
            catch (Exception unexpected)
            {
                Put("stage", WireValue.String("unexpected"));
                Put("error", WireValue.String(unexpected.ToString()));
                Console.WriteLine(Encode());
                Console.Error.WriteLine("YumeBridgeInterop: FAILED: " + unexpected);
                return ExitCodes.Failed;
            }
            finally
            {
                connection?.Dispose();
            }
        }

        /// <summary>Finds the daemon listening on --port by DNS-SD and takes its advertised address as the host.</summary>
        void Discover()
        {
            var clock = Stopwatch.StartNew();
            var found = DaemonDiscovery.Browse(args.DiscoverSeconds);
            var names = new List<WireValue>();
            DiscoveredDaemon chosen = null;
            foreach (var daemon in found)
            {
                names.Add(WireValue.String(daemon.ToString()));
                if (daemon.Port == args.Port && daemon.PreferredAddress != null) chosen = daemon;
            }
            Put("discovered", WireValue.Array(names));
            Put("discover_ms", WireValue.Float(Math.Round(clock.Elapsed.TotalMilliseconds, 1)));
            if (chosen == null)
                throw new InteropFailure(ExitCodes.Connect, "discover",
                    $"no daemon on port {args.Port} answered the DNS-SD browse for {DnsSdCodec.ServiceType} within {args.DiscoverSeconds} s " +
                    $"({found.Count} other daemon(s) found). Was it started with --advertise?");
            args.Host = chosen.PreferredAddress.ToString();
            Put("discovered_instance", WireValue.String(chosen.Instance));
            Put("discovered_address", WireValue.String(args.Host));
            Put("discovered_protocol", WireValue.Integer(chosen.ProtocolVersion));
        }

        /// <summary>Discards a seeded share of fragment datagrams (never control datagrams).</summary>
        Func<byte[], int, bool> LossyFilter(int percent)
        {
            var random = new Random(1);
            return (data, length) =>
            {
                if (ControlCodec.Classify(data, length) != DatagramKind.Fragment || random.Next(100) >= percent) return true;
                Interlocked.Increment(ref fragmentsDiscarded);
                return false;
            };
        }

        byte[] ReadImage()
        {
            byte[] image;
            try
            {
                image = File.ReadAllBytes(args.Image);
            }
            catch (Exception e)
            {
                throw new InteropFailure(ExitCodes.Usage, "arguments", $"cannot read --image {args.Image}: {e.Message}");
            }
            string reason;
            bool png = image.Length > 8 && image[0] == 0x89 && image[1] == (byte)'P';
            if (!png && JpegInfo.TryRead(image, out reason) == null)
                throw new InteropFailure(ExitCodes.Usage, "arguments", $"--image {args.Image} is not a JPEG or PNG ({reason})");
            Put("image_bytes", WireValue.Integer(image.Length));
            return image;
        }

        void Connect()
        {
            var connected = WaitFor<SessionConnected>("connect", ExitCodes.Connect, 15);
            welcome = connected.Welcome;
            Put("daemon_version", WireValue.String(welcome.DaemonVersion));
            Put("backend", WireValue.String(welcome.Backend));
            Put("session", WireValue.Integer(welcome.Session));
            Put("authenticated", WireValue.Bool(welcome.Authenticated));
            Put("encoding", WireValue.String(args.Encoding == WireEncoding.Json ? "json" : "msgpack"));
            Put("width", WireValue.Integer(welcome.Width));
            Put("height", WireValue.Integer(welcome.Height));
            Put("fps", WireValue.Float(welcome.Fps));
            Put("frames_per_chunk", WireValue.Integer(welcome.FramesPerChunk));
            Put("connect_ms", WireValue.Float(Math.Round(wall.Elapsed.TotalMilliseconds, 1)));
        }

        void StartFromImage(byte[] image)
        {
            connection.StartFromImageFile(image, "", 7);
            var started = WaitFor<WorldStarted>("start", ExitCodes.Start, 60);
            Put("world", WireValue.Integer(started.Started.World));
            Put("seed", WireValue.Integer(started.Started.SeedUsed));
        }

        void Stream()
        {
            double end = Now + args.Seconds;
            double turnAt = Now + args.Seconds / 2;
            var walking = new InputState(0, 1, 0, 0, new[] { KeyCodes.W });
            var turning = new InputState(0, 1, 1, 0, new[] { KeyCodes.W, KeyCodes.ArrowRight });
            connection.SetInput(walking);
            uint eventId = connection.SendEvent(EventText);
            bool turned = false;
            while (Now < end || (eventAck == null && Now < end + 5))
            {
                if (!turned && Now >= turnAt)
                {
                    connection.SetInput(turning);
                    turned = true;
                }
                ClientEvent e;
                while (connection.TryDequeueEvent(out e)) Observe(e, eventId, "stream", ExitCodes.Event);
                var frame = connection.TakeNextFrame();
                if (frame != null)
                {
                    CheckFrame(frame, turned);
                    frame.Release(); // its buffer serves a later frame
                }
                else Thread.Sleep(2);
            }
            connection.Ping();
            Thread.Sleep(200);
            ClientEvent last;
            while (connection.TryDequeueEvent(out last)) Observe(last, eventId, "stream", ExitCodes.Event);
        }

        void CheckFrame(CompleteFrame frame, bool turned)
        {
            string reason;
            var info = JpegInfo.TryRead(frame.Jpeg, out reason); // an exact copy: fine for a check
            if (info == null)
                throw new InteropFailure(ExitCodes.Frames, "frames", $"frame {frame.Frame} is not a JPEG: {reason}");
            if (info.Width != welcome.Width || info.Height != welcome.Height)
                throw new InteropFailure(ExitCodes.Frames, "frames",
                    $"frame {frame.Frame} is {info.Width}x{info.Height}; the welcome said {welcome.Width}x{welcome.Height}");
            if (!info.IsBaseline || !info.IsYCbCr420 || !info.EndsWithEoi)
                notes.Add($"frame {frame.Frame}: SOF 0x{info.Marker:X2}, {info.Components} components, " +
                          $"luma {info.LumaHorizontalSampling}x{info.LumaVerticalSampling}, EOI {info.EndsWithEoi} (SPEC §6.2: baseline 4:2:0)");
            if (lastFrame >= 0 && frame.Frame <= lastFrame)
                throw new InteropFailure(ExitCodes.Frames, "frames", $"frame {frame.Frame} shown after frame {lastFrame}");
            lastFrame = frame.Frame;
            framesChecked++;
            if (Now - lastDecodeAt >= 0.25) Decode(frame);
            if (frame.RepairedByRetransmission) framesRepaired++;
            (turned ? actionsTurning : actionsWalking).Add(frame.Action);
        }

        /// <summary>Decodes a sample of frames with the plugin's managed decoder (what Unity uses off the main thread).</summary>
        void Decode(CompleteFrame frame)
        {
            lastDecodeAt = Now;
            var clock = Stopwatch.StartNew();
            var image = decoded;
            try
            {
                decoder.DecodeInto(frame.Buffer, frame.Length, true, PixelLayout.Rgba32, image);
            }
            catch (Exception e)
            {
                throw new InteropFailure(ExitCodes.Frames, "decode", $"frame {frame.Frame} does not decode: {e.Message}");
            }
            decodeMsTotal += clock.Elapsed.TotalMilliseconds;
            if (image.Width != welcome.Width || image.Height != welcome.Height)
                throw new InteropFailure(ExitCodes.Frames, "decode", $"frame {frame.Frame} decodes to {image.Width}x{image.Height}");
            framesDecoded++;
        }

        void Observe(ClientEvent e, uint eventId, string stage, int exitCode)
        {
            var ack = e as EventAcknowledged;
            if (ack != null && ack.Id == eventId) eventAck = ack;
            var status = e as StatusReceived;
            if (status != null) lastStatus = status.Status;
            var rtt = e as RttMeasured;
            if (rtt != null) rttMs = rtt.SmoothedRttMs;
            var failed = e as EventFailed;
            if (failed != null) throw new InteropFailure(ExitCodes.Event, "event", $"event {failed.Id}: {failed.Code}: {failed.Message}");
            var error = e as DaemonErrorReceived;
            if (error != null)
            {
                notes.Add($"daemon error {error.Error.Code}: {error.Error.Message} (ref {error.Error.Ref})");
            }
            var warning = e as SessionWarning;
            if (warning != null)
            {
                notes.Add(warning.Message);
            }
            var closed = e as SessionClosed;
            if (closed != null) throw new InteropFailure(exitCode, stage, $"session closed ({closed.Reason}, {closed.Code}): {closed.Message}");
        }

        T WaitFor<T>(string stage, int exitCode, double timeoutSeconds) where T : ClientEvent
        {
            double deadline = Now + timeoutSeconds;
            while (Now < deadline)
            {
                ClientEvent e;
                while (connection.TryDequeueEvent(out e))
                {
                    if (e is T wanted) return wanted;
                    var startFailed = e as StartFailed;
                    if (startFailed != null) throw new InteropFailure(exitCode, stage, $"{startFailed.Code}: {startFailed.Message}");
                    var uploadFailed = e as UploadFailed;
                    if (uploadFailed != null) throw new InteropFailure(exitCode, stage, $"upload {uploadFailed.Code}: {uploadFailed.Message}");
                    Observe(e, 0, stage, exitCode);
                }
                Thread.Sleep(5);
            }
            throw new InteropFailure(exitCode, stage, $"no {typeof(T).Name} within {timeoutSeconds} s");
        }

        void Check()
        {
            var stats = connection.FrameStats;
            Put("frames_complete", WireValue.Integer(connection.FramesReceived));
            Put("frame_buffers_created", WireValue.Integer(connection.FrameBuffersCreated));
            Put("frames_checked", WireValue.Integer(framesChecked));
            Put("frames_dropped", WireValue.Integer(connection.FramesDropped));
            Put("fragments", WireValue.Integer(stats.Fragments));
            Put("fragments_dropped", WireValue.Integer(stats.Dropped));
            Put("frames_abandoned", WireValue.Integer(stats.FramesAbandoned));
            Put("nacks_sent", WireValue.Integer(stats.NacksSent));
            if (args.DropFragmentsPercent > 0)
            {
                Put("fragments_discarded", WireValue.Integer(Interlocked.Read(ref fragmentsDiscarded)));
                Put("frames_repaired", WireValue.Integer(framesRepaired));
            }
            Put("frames_decoded", WireValue.Integer(framesDecoded));
            if (framesDecoded > 0) Put("decode_ms", WireValue.Float(Math.Round(decodeMsTotal / framesDecoded, 2)));
            var inputToFrame = connection.InputToFrameMs;
            if (inputToFrame.HasValue) Put("input_to_frame_ms", WireValue.Float(Math.Round(inputToFrame.Value, 1)));
            Put("actions_walking", IntArray(actionsWalking));
            Put("actions_turning", IntArray(actionsTurning));
            if (eventAck != null)
            {
                Put("event_ack_chunk", WireValue.Integer(eventAck.Ack.Chunk));
                Put("event_ack_ms", WireValue.Float(Math.Round(eventAck.RoundTripSeconds * 1000, 1)));
            }
            if (rttMs.HasValue) Put("rtt_ms", WireValue.Float(Math.Round(rttMs.Value, 2)));
            if (lastStatus != null)
            {
                Put("status_state", WireValue.String(lastStatus.State));
                Put("generate_ms", WireValue.Float(lastStatus.Latency.GenerateMs));
            }
            Put("datagrams_dropped", WireValue.Integer(connection.DatagramsDropped));
            if (notes.Count > 0)
            {
                var items = new List<WireValue>();
                foreach (var n in notes.GetRange(0, Math.Min(10, notes.Count))) items.Add(WireValue.String(n));
                Put("notes", WireValue.Array(items));
            }
            Put("seconds", WireValue.Float(Math.Round(wall.Elapsed.TotalSeconds, 2)));
            if (eventAck == null)
                throw new InteropFailure(ExitCodes.Event, "event", $"the event \"{EventText}\" was not acknowledged");
            if (framesChecked < args.MinFrames)
                throw new InteropFailure(ExitCodes.Frames, "frames",
                    $"only {framesChecked} complete frames in {args.Seconds} s (wanted at least {args.MinFrames})");
            if (args.ExpectActions)
            {
                // action = movement · 9 + look (SPEC §7): W is movement 1, → is look 1.
                if (!Contains(actionsWalking, a => a / 9 == 1))
                    throw new InteropFailure(ExitCodes.Frames, "actions", "no frame reflected W while walking");
                if (!Contains(actionsTurning, a => a / 9 == 1 && a % 9 == 1))
                    throw new InteropFailure(ExitCodes.Frames, "actions", "no frame reflected W + look right while turning");
            }
        }

        /// <summary>
        /// Fills the daemon's event slots until it answers too_many_events, and starts from an image it does not
        /// hold (unknown_image): each error must come back as the failure of exactly the request that caused it.
        /// </summary>
        void CheckDaemonErrors()
        {
            var ids = new List<uint>();
            for (int i = 0; i < welcome.Limits.MaxEvents; i++) ids.Add(connection.SendEvent($"test event {i + 2}"));
            var acked = new List<uint>();
            EventFailed tooMany = null;
            double deadline = Now + 5;
            while (Now < deadline && acked.Count + (tooMany == null ? 0 : 1) < ids.Count)
            {
                ClientEvent e;
                while (connection.TryDequeueEvent(out e))
                {
                    if (e is EventAcknowledged ack && ids.Contains(ack.Id)) acked.Add(ack.Id);
                    else if (e is EventFailed failed) tooMany = failed;
                }
                Thread.Sleep(5);
            }
            if (tooMany == null || tooMany.Code != ErrorCodes.TooManyEvents || tooMany.Id != ids[ids.Count - 1])
                throw new InteropFailure(ExitCodes.Event, "errors",
                    $"expected event {ids[ids.Count - 1]} to fail with too_many_events; got {(tooMany == null ? "no failure" : tooMany.Id + " " + tooMany.Code)}");
            foreach (var id in acked) connection.ClearEvent(id);

            connection.StartFromImageHash(new byte[UploadMessage.HashLength]);
            StartFailed startFailed = null;
            deadline = Now + 5;
            while (Now < deadline && startFailed == null)
            {
                ClientEvent e;
                while (connection.TryDequeueEvent(out e))
                    if (e is StartFailed failed) startFailed = failed;
                Thread.Sleep(5);
            }
            if (startFailed == null || startFailed.Code != ErrorCodes.UnknownImage)
                throw new InteropFailure(ExitCodes.Start, "errors",
                    $"expected the start from an unknown image to fail with unknown_image; got {(startFailed == null ? "nothing" : startFailed.Code)}");
            Put("errors_checked", WireValue.Array(new List<WireValue> { WireValue.String(tooMany.Code), WireValue.String(startFailed.Code) }));
        }

        static bool Contains(IEnumerable<int> values, Func<int, bool> predicate)
        {
            foreach (var v in values)
                if (predicate(v)) return true;
            return false;
        }

        static WireValue IntArray(IEnumerable<int> values)
        {
            var items = new List<WireValue>();
            foreach (var v in values) items.Add(WireValue.Integer(v));
            return WireValue.Array(items);
        }

        double Now => wall.Elapsed.TotalSeconds;

        void Put(string key, WireValue value)
        {
            if (!summary.ContainsKey(key)) summaryOrder.Add(key);
            summary[key] = value;
        }

        string Encode()
        {
            var fields = new List<KeyValuePair<string, WireValue>>();
            foreach (var key in summaryOrder) fields.Add(new KeyValuePair<string, WireValue>(key, summary[key]));
            return System.Text.Encoding.UTF8.GetString(JsonWriter.Write(WireValue.Map(fields)));
        }
    }
}

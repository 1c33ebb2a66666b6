// The client side of protocol v1 as a sans-IO state machine: no sockets, no clock, no threads.
// Drive it with ReceiveDatagram(data, now), HandleTimer(now) and the request methods; collect
// DatagramsToSend(), NextEvent() and GetTimer(). See ClientSession.Requests.cs for the requests.
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    public enum ClientSessionState { Idle, Handshaking, Open, Closed }

    public sealed partial class ClientSession
    {
        /// <summary>An untagged unknown_session is ignored while tagged traffic is this recent (it may be forged).</summary>
        const double AuthenticatedTrafficGraceSeconds = 2.5;
        const int MaxOutstandingPings = 8;

        readonly ClientOptions options;
        readonly IRandomSource random;
        readonly List<byte[]> outgoing = new List<byte[]>();
        readonly List<ClientEvent> events = new List<ClientEvent>();

        // Handshake.
        byte[] clientNonce;
        byte[] cookie;
        bool tokenRequired;
        double handshakeDeadline, nextHelloAt, helloInterval;
        int hellosSent;

        // Open session.
        uint sessionId;
        byte[] sessionKey;
        uint nextSeq = 1;
        readonly ReplayWindow replay = new ReplayWindow();
        double lastValidAt, lastAuthenticatedAt = double.NegativeInfinity, silenceSeconds, nextPingAt;
        readonly Dictionary<long, double> outstandingPings = new Dictionary<long, double>();
        FrameReassembler reassembler;
        readonly List<NackRequest> dueNacks = new List<NackRequest>();
        double lastNow;

        public ClientSession(ClientOptions options, IRandomSource random = null)
        {
            this.options = options ?? throw new ArgumentNullException(nameof(options));
            this.random = random ?? CryptoRandomSource.Instance;
        }

        public ClientOptions Options => options;
        public ClientSessionState State { get; private set; } = ClientSessionState.Idle;
        public WelcomeMessage Welcome { get; private set; }
        public StatusMessage LastStatus { get; private set; }
        public StartedMessage LastStarted { get; private set; }
        public uint SessionId => sessionId;
        public bool Authenticated => sessionKey != null;
        public double? SmoothedRttMs { get; private set; }

        /// <summary>From sending an input to completing the first frame whose <c>input_seq</c> names it (ms).</summary>
        public double? InputToFrameMs { get; private set; }
        public SessionClosed CloseInfo { get; private set; }
        public ReassemblyStats FrameStats => reassembler?.Stats;

        /// <summary>Where this session's frame buffers come from (null before the session opens).</summary>
        public FramePool FramePool => reassembler?.Pool;

        /// <summary>Datagrams ignored: undecodable, wrong session, bad tag, replayed or unexpected.</summary>
        public long DatagramsDropped { get; private set; }

        /// <summary>Complete frames released undelivered because <see cref="FrameQueue.Capacity"/> newer ones waited in the event queue.</summary>
        public long FramesDropped { get; private set; }

        // ---- sans-IO surface ------------------------------------------------------------------

        /// <summary>Starts the handshake: a hello with a fresh nonce (SPEC §3.1).</summary>
        public void Connect(double now)
        {
            if (State != ClientSessionState.Idle) throw new InvalidOperationException("a ClientSession connects once; make a new one to reconnect");
            lastNow = now;
            clientNonce = new byte[HelloMessage.NonceLength];
            random.Fill(clientNonce);
            State = ClientSessionState.Handshaking;
            handshakeDeadline = now + options.HandshakeTimeoutSeconds;
            helloInterval = options.HelloFirstRetransmitSeconds;
            SendHello(now);
        }

        public void ReceiveDatagram(byte[] data, double now) => ReceiveDatagram(data, data.Length, now);

        public void ReceiveDatagram(byte[] data, int length, double now)
        {
            lastNow = now;
            if (State != ClientSessionState.Handshaking && State != ClientSessionState.Open) return;
            var kind = ControlCodec.Classify(data, length);
            if (kind == DatagramKind.Fragment)
            {
                if (State == ClientSessionState.Open) ReceiveFragment(data, length, now);
                else DatagramsDropped++;
                return;
            }
            var decoded = ControlCodec.Decode(data, length);
            if (decoded.Outcome != DecodeOutcome.Decoded)
            {
                DatagramsDropped++;
                return;
            }
            if (State == ClientSessionState.Handshaking) ReceiveDuringHandshake(decoded, data, length, now);
            else ReceiveInSession(decoded, data, length, now);
            Pump(now);
        }

        public void HandleTimer(double now)
        {
            lastNow = now;
            Pump(now);
        }

        /// <summary>When <see cref="HandleTimer"/> should next be called, or null when nothing is scheduled.</summary>
        public double? GetTimer()
        {
            if (State == ClientSessionState.Handshaking) return Math.Min(nextHelloAt, handshakeDeadline);
            if (State != ClientSessionState.Open) return null;
            double earliest = Math.Min(lastValidAt + silenceSeconds, nextPingAt);
            earliest = Earliest(earliest, NextRequestTimer());
            earliest = Earliest(earliest, reassembler.NextNackTime());
            earliest = Earliest(earliest, reassembler.NextReleaseTime());
            return earliest;
        }

        /// <summary>How many datagrams wait to be taken (lets a shell skip <see cref="DatagramsToSend"/>, which allocates).</summary>
        public int PendingDatagramCount => outgoing.Count;

        /// <summary>Takes the datagrams to send, oldest first.</summary>
        public List<byte[]> DatagramsToSend()
        {
            var result = new List<byte[]>(outgoing);
            outgoing.Clear();
            return result;
        }

        /// <summary>The next event, or null.</summary>
        public ClientEvent NextEvent()
        {
            if (events.Count == 0) return null;
            var next = events[0];
            events.RemoveAt(0);
            return next;
        }

        /// <summary>Ends the session: sends bye when open. Idempotent.</summary>
        public void Close(double now, string reason = ByeReasons.Client)
        {
            lastNow = now;
            if (State == ClientSessionState.Open) SendSessionMessage(seq => new ByeMessage(sessionId, seq, reason));
            if (State == ClientSessionState.Handshaking || State == ClientSessionState.Open)
                CloseWith(CloseReason.ClientClosed, ByeReasons.Client, "The session was closed by this client.");
            else if (State == ClientSessionState.Idle) State = ClientSessionState.Closed;
        }

        /// <summary>
        /// Ends the session because the shell could not reach the daemon at all (the host name does not resolve,
        /// no socket could be opened): reported as <see cref="CloseReason.Unreachable"/> with the shell's message.
        /// </summary>
        public void FailTransport(string message, double now)
        {
            lastNow = now;
            if (State == ClientSessionState.Idle) State = ClientSessionState.Handshaking;
            CloseWith(CloseReason.Unreachable, ErrorCodes.DaemonUnreachable, message);
        }

        // ---- handshake ------------------------------------------------------------------------

        void SendHello(double now)
        {
            byte[] auth = tokenRequired && cookie != null ? SessionAuth.HelloAuth(options.Token, clientNonce, cookie) : null;
            var hello = new HelloMessage(1, clientNonce, options.ClientName, options.ClientVersion, options.Engine, options.Width,
                                         options.Height, options.Fps, options.Quality, options.MaxDatagram, cookie, auth,
                                         minor: ClientOptions.ProtocolMinor, capabilities: ClientOptions.Capabilities,
                                         preempt: options.Preempt);
            outgoing.Add(PadToMinimum(hello));
            hellosSent++;
            nextHelloAt = now + helloInterval;
            helloInterval = Math.Min(helloInterval * 2, options.HelloMaxRetransmitSeconds);
        }

        /// <summary>Lengthens a hello with <c>pad</c> so that the daemon's 3× answer limit leaves room for its reply.</summary>
        byte[] PadToMinimum(HelloMessage hello)
        {
            var encoded = ControlCodec.Encode(hello, options.Encoding);
            int padLength = 0;
            while (encoded.Length < options.MinHelloBytes)
            {
                int missing = options.MinHelloBytes - encoded.Length;
                padLength += options.Encoding == WireEncoding.Json ? Math.Max(1, missing * 3 / 4) : Math.Max(1, missing);
                encoded = ControlCodec.Encode(hello.WithPad(new byte[padLength]), options.Encoding);
            }
            return encoded;
        }

        void ReceiveDuringHandshake(ControlDecodeResult decoded, byte[] data, int length, double now)
        {
            var retry = decoded.Message as RetryMessage;
            if (retry != null)
            {
                OnRetry(retry, now);
                return;
            }
            var welcome = decoded.Message as WelcomeMessage;
            if (welcome != null)
            {
                OnWelcome(welcome, decoded, data, length, now);
                return;
            }
            var error = decoded.Message as ErrorMessage;
            if (error != null && error.Session == 0)
            {
                OnHandshakeError(error);
                return;
            }
            DatagramsDropped++;
        }

        void OnRetry(RetryMessage retry, double now)
        {
            if (!ByteArrays.Equal(retry.Nonce, clientNonce))
            {
                DatagramsDropped++;
                return;
            }
            if (retry.TokenRequired && options.Token == null)
            {
                CloseWith(CloseReason.AuthRequired, ErrorCodes.AuthRequired,
                          "The daemon requires a token and none is set. Copy the token the daemon printed when it first " +
                          "started (or the one given to it with --token) into the Token field.");
                return;
            }
            if (cookie != null && ByteArrays.Equal(cookie, retry.Cookie) && tokenRequired == retry.TokenRequired) return;
            cookie = retry.Cookie;
            tokenRequired = retry.TokenRequired;
            helloInterval = options.HelloFirstRetransmitSeconds;
            SendHello(now);
        }

        void OnWelcome(WelcomeMessage welcome, ControlDecodeResult decoded, byte[] data, int length, double now)
        {
            if (cookie == null)
            {
                DatagramsDropped++; // a welcome can only answer a hello that carried a cookie
                return;
            }
            byte[] key = null;
            if (welcome.Authenticated)
            {
                if (options.Token == null)
                {
                    CloseWith(CloseReason.AuthRequired, ErrorCodes.AuthRequired,
                              "The daemon authenticates this session but no token is set. Set the Token field.");
                    return;
                }
                key = SessionAuth.SessionKey(options.Token, clientNonce, welcome.Nonce, welcome.Session);
                if (!SessionAuth.Verify(key, data, decoded.BodyLength, length))
                {
                    DatagramsDropped++; // SPEC §4.3: a wrong or missing tag is dropped silently
                    return;
                }
            }
            else if (tokenRequired)
            {
                DatagramsDropped++; // the daemon asked for a token, so an untagged welcome is not from it
                return;
            }
            if (welcome.Protocol != 1)
            {
                CloseWith(CloseReason.VersionMismatch, ErrorCodes.UnsupportedVersion,
                          $"The daemon answered with protocol {welcome.Protocol}; this plugin speaks protocol 1. " +
                          "Update the plugin or the daemon so that they match.");
                return;
            }
            OpenSession(welcome, key, now);
        }

        void OpenSession(WelcomeMessage welcome, byte[] key, double now)
        {
            Welcome = welcome;
            sessionId = welcome.Session;
            sessionKey = key;
            replay.Accept(welcome.Seq);
            State = ClientSessionState.Open;
            lastValidAt = now;
            if (key != null) lastAuthenticatedAt = now;
            silenceSeconds = options.SilenceTimeoutSeconds ?? welcome.Limits.IdleTimeoutMs / 1000.0;
            nextPingAt = now;
            reassembler = new FrameReassembler(sessionId, ReassemblyOptions.FromLimits(welcome.Limits, options.MaxPlayoutDelaySeconds));
            Emit(new SessionConnected(welcome));
            if (options.Token != null && key == null)
                Emit(new SessionWarning("A token is set but the daemon does not use one (it is on loopback without a " +
                                        "token), so this session is not authenticated."));
        }

        void OnHandshakeError(ErrorMessage error)
        {
            switch (error.Code)
            {
                case ErrorCodes.AuthRequired:
                    CloseWith(CloseReason.AuthRequired, error.Code,
                              "The daemon requires a token and none was sent. Set the Token field to the daemon's token. " +
                              $"(daemon: {error.Message})");
                    break;
                case ErrorCodes.AuthFailed:
                    CloseWith(CloseReason.AuthFailed, error.Code,
                              "The daemon rejected the token: it is wrong. Check the Token field against the token the " +
                              $"daemon printed or was given with --token. (daemon: {error.Message})");
                    break;
                case ErrorCodes.UnsupportedVersion:
                    CloseWith(CloseReason.VersionMismatch, error.Code,
                              "The daemon does not speak protocol 1, which this plugin speaks. Update the plugin or the " +
                              $"daemon so that they match. (daemon: {error.Message})");
                    break;
                case ErrorCodes.SessionLimit:
                    CloseWith(CloseReason.SessionLimit, error.Code,
                              "The daemon already serves as many sessions as it allows. Close another client or start the " +
                              $"daemon with a higher --max-sessions. (daemon: {error.Message})");
                    break;
                default:
                    CloseWith(CloseReason.FatalError, error.Code, $"The daemon refused the hello: {error.Code}: {error.Message}");
                    break;
            }
        }

        // ---- open session ---------------------------------------------------------------------

        void ReceiveInSession(ControlDecodeResult decoded, byte[] data, int length, double now)
        {
            var message = decoded.Message;
            var error = message as ErrorMessage;
            bool tagValid = sessionKey != null && SessionAuth.Verify(sessionKey, data, decoded.BodyLength, length);
            if (error != null && error.Code == ErrorCodes.UnknownSession && (error.Session == sessionId || error.Session == 0))
            {
                // The daemon cannot tag this answer (it has no key for the session), so accept it untagged,
                // unless tagged traffic arrived recently: then the session is alive and this one is forged.
                if (sessionKey != null && !tagValid && now - lastAuthenticatedAt < AuthenticatedTrafficGraceSeconds)
                {
                    DatagramsDropped++;
                    return;
                }
                CloseWith(CloseReason.UnknownSession, error.Code,
                          "The daemon no longer knows this session (it probably restarted). Connect again.");
                return;
            }
            if (message.Session != sessionId || (sessionKey != null && !tagValid) || message.Seq == 0 || !replay.Accept(message.Seq))
            {
                DatagramsDropped++;
                return;
            }
            lastValidAt = now;
            if (sessionKey != null) lastAuthenticatedAt = now;
            Dispatch(message, now);
        }

        void Dispatch(ControlMessage message, double now)
        {
            var status = message as StatusMessage;
            if (status != null)
            {
                LastStatus = status;
                Emit(new StatusReceived(status));
                ReconcilePause(status, now);
                return;
            }
            var pong = message as PongMessage;
            if (pong != null)
            {
                OnPong(pong, now);
                return;
            }
            var challenge = message as PathChallengeMessage;
            if (challenge != null)
            {
                // v1.1: the daemon saw this session from a new address; echoing the data (tagged) moves the stream there.
                var data = challenge.Data;
                SendSessionMessage(seq => new PathResponseMessage(sessionId, seq, data));
                return;
            }
            var bye = message as ByeMessage;
            if (bye != null)
            {
                CloseWith(CloseReason.DaemonBye, bye.Reason, DescribeBye(bye.Reason));
                return;
            }
            var error = message as ErrorMessage;
            if (error != null)
            {
                OnSessionError(error, now);
                return;
            }
            if (!DispatchRequestReply(message, now)) DatagramsDropped++;
        }

        static string DescribeBye(string reason)
        {
            switch (reason)
            {
                case ByeReasons.Shutdown: return "The daemon is shutting down.";
                case ByeReasons.IdleTimeout: return "The daemon closed the session because it heard nothing from this client for too long.";
                case ByeReasons.Replaced: return "The daemon replaced this session with a newer one.";
                default: return $"The daemon ended the session ({(reason.Length == 0 ? "no reason given" : reason)}).";
            }
        }

        void OnPong(PongMessage pong, double now)
        {
            double sentAt;
            if (!outstandingPings.TryGetValue(pong.TimeUs, out sentAt))
            {
                DatagramsDropped++;
                return;
            }
            outstandingPings.Remove(pong.TimeUs);
            double rttMs = Math.Max(0, (now - sentAt) * 1000.0);
            SmoothedRttMs = SmoothedRttMs.HasValue ? SmoothedRttMs.Value * 0.875 + rttMs * 0.125 : rttMs;
            Emit(new RttMeasured(rttMs, SmoothedRttMs.Value));
        }

        void OnSessionError(ErrorMessage error, double now)
        {
            if (error.Code == ErrorCodes.RateLimited)
            {
                // v1.1: the request was dropped by a per-session budget, not refused: resend it later.
                DeferRateLimitedRequest(error, now);
                Emit(new SessionWarning("The daemon rate-limited a request (" + error.Message + "); it is sent again shortly."));
                return;
            }
            Emit(new DaemonErrorReceived(error));
            RouteErrorToRequest(error, now);
            if (error.Fatal || error.Code == ErrorCodes.ShuttingDown)
                CloseWith(CloseReason.FatalError, error.Code, $"The daemon ended the session: {error.Code}: {error.Message}");
        }

        void ReceiveFragment(byte[] data, int length, double now)
        {
            reassembler.Push(data, length, now);
            EmitShownFrames(now);
            SendDueNacks(now);
        }

        /// <summary>Frames the reassembler shows now (a completed one, or held ones whose wait is over), oldest first.</summary>
        void EmitShownFrames(double now)
        {
            CompleteFrame frame;
            while ((frame = reassembler.TakeCompletedFrame()) != null)
            {
                MeasureInputToFrame(frame, now);
                EmitFrame(frame.Arrival);
            }
        }

        void SendDueNacks(double now)
        {
            if (reassembler.TakeNacks(now, dueNacks) == 0) return; // the loss-free path allocates nothing
            int maxIndices = NackPadding.MaxIndices(Welcome.MaxDatagram);
            foreach (var nack in dueNacks)
            {
                var missing = new List<int>(nack.Missing);
                if (missing.Count > maxIndices) missing.RemoveRange(maxIndices, missing.Count - maxIndices);
                SendSessionMessage(seq => NackPadding.Padded(new NackMessage(sessionId, seq, nack.Frame, missing), Welcome.MaxDatagram,
                                                             options.Encoding, sessionKey != null));
            }
            dueNacks.Clear();
        }

        // ---- timers ---------------------------------------------------------------------------

        void Pump(double now)
        {
            if (State == ClientSessionState.Handshaking)
            {
                if (now >= handshakeDeadline)
                    CloseWith(CloseReason.Unreachable, ErrorCodes.DaemonUnreachable,
                              $"No answer from the daemon after {options.HandshakeTimeoutSeconds:0.#} s ({hellosSent} hellos " +
                              "sent). Is `yume-bridge serve` running on this host and port, and does no firewall drop UDP?");
                else if (now >= nextHelloAt) SendHello(now);
                return;
            }
            if (State != ClientSessionState.Open) return;
            if (now >= lastValidAt + silenceSeconds)
            {
                CloseWith(CloseReason.DaemonSilent, ErrorCodes.DaemonSilent,
                          $"The daemon stopped answering ({silenceSeconds:0.#} s without a valid datagram). It may have " +
                          "stopped or the network dropped the connection. Connect again.");
                return;
            }
            if (now >= nextPingAt) SendPing(now);
            PumpRequests(now);
            reassembler.Release(now);
            EmitShownFrames(now);
            SendDueNacks(now);
        }

        void SendPing(double now)
        {
            long timeUs = (long)Math.Round(now * 1e6);
            if (outstandingPings.Count >= MaxOutstandingPings) outstandingPings.Clear();
            outstandingPings[timeUs] = now;
            SendSessionMessage(seq => new PingMessage(sessionId, seq, timeUs));
            nextPingAt = now + options.PingIntervalSeconds;
        }

        // ---- helpers --------------------------------------------------------------------------

        /// <summary>Encodes, tags (when authenticated) and queues a session message; false when it exceeds max_control_bytes.</summary>
        bool SendSessionMessage(Func<uint, SessionMessage> build)
        {
            var body = ControlCodec.Encode(build(nextSeq), options.Encoding);
            int size = body.Length + (sessionKey != null ? SessionAuth.TagLength : 0);
            if (size > Welcome.Limits.MaxControlBytes) return false;
            nextSeq++;
            outgoing.Add(sessionKey != null ? SessionAuth.Append(sessionKey, body) : body);
            return true;
        }

        /// <summary>The seq the next session message will carry.</summary>
        uint PeekSeq => nextSeq;

        void CloseWith(CloseReason reason, string code, string message)
        {
            if (State == ClientSessionState.Closed) return;
            State = ClientSessionState.Closed;
            CloseInfo = new SessionClosed(reason, code, message);
            Emit(CloseInfo);
        }

        void Emit(ClientEvent e)
        {
            if (events.Count >= options.MaxQueuedEvents)
            {
                // Bounded: drop the oldest event that is not a close (closes are rare and matter most).
                int victim = events.FindIndex(x => !(x is SessionClosed));
                if (victim >= 0) events.RemoveAt(victim);
            }
            events.Add(e);
        }

        /// <summary>
        /// Undelivered frames wait in order, at most <see cref="FrameQueue.Capacity"/> of them: for a newer one the oldest
        /// goes back to the pool (counted in <see cref="FramesDropped"/>).
        /// </summary>
        void EmitFrame(FrameArrived frame)
        {
            int waiting = 0, oldest = -1;
            for (int i = 0; i < events.Count; i++)
                if (events[i] is FrameArrived)
                {
                    if (oldest < 0) oldest = i;
                    waiting++;
                }
            if (waiting >= FrameQueue.Capacity)
            {
                ((FrameArrived)events[oldest]).Frame.Release();
                events.RemoveAt(oldest);
                FramesDropped++;
            }
            Emit(frame);
        }

        static double Earliest(double current, double? candidate) =>
            candidate.HasValue && candidate.Value < current ? candidate.Value : current;
    }
}

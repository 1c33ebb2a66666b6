// Runs a ClientSession over a UdpTransport on one background thread; every public member is thread-safe.
// Engines poll it: TryDequeueEvent() for events, TakeFrameToShow() (or TakeNextFrame()) for complete frames, in order.
// Name resolution happens on that thread too, so Start() never blocks the engine's main thread on DNS.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Yume.Bridge.Core
{
    public sealed class BridgeConnection : IFrameSource, IDisposable
    {
        const int MaxWaitMicroseconds = 5000;     // the wait ends at the session's timer (NACKs, held frames, input) or after 5 ms
        const int MaxDatagramsPerRound = 512;     // then timers and sends get a turn
        const int MaxQueuedEvents = 256;

        readonly string host;
        readonly int port;
        readonly ClientSession session;
        readonly object sync = new object();
        readonly object eventSync = new object();
        readonly Queue<ClientEvent> events = new Queue<ClientEvent>();
        readonly Stopwatch clock = Stopwatch.StartNew();
        readonly AutoResetEvent frameSignal = new AutoResetEvent(false);
        readonly FrameQueue<CompleteFrame> frames = new FrameQueue<CompleteFrame>(ReleaseFrame); // guarded by itself
        UdpTransport transport;
        Thread thread;
        volatile bool stopping;
        bool stopped;
        long framesReceived;

        public BridgeConnection(string host, int port, ClientOptions options, IRandomSource random = null)
        {
            this.host = host;
            this.port = port;
            session = new ClientSession(options, random);
        }

        /// <summary>Seconds on this connection's monotonic clock.</summary>
        public double Now => clock.Elapsed.TotalSeconds;

        public string Endpoint => $"{host}:{port}";

        /// <summary>Set whenever a complete frame is added to the waiting ones; a decode thread can wait on it.</summary>
        public WaitHandle FrameSignal => frameSignal;

        public ClientSessionState State { get { lock (sync) return session.State; } }
        public WelcomeMessage Welcome { get { lock (sync) return session.Welcome; } }
        public StatusMessage LastStatus { get { lock (sync) return session.LastStatus; } }
        public double? SmoothedRttMs { get { lock (sync) return session.SmoothedRttMs; } }

        /// <summary>From sending an input to completing the first frame that consumed it, milliseconds.</summary>
        public double? InputToFrameMs { get { lock (sync) return session.InputToFrameMs; } }
        public long FramesReceived => Interlocked.Read(ref framesReceived);

        /// <summary>
        /// Complete frames released without being taken: more than <see cref="FrameQueue.Capacity"/> waited (here or in
        /// the session's event queue), or <see cref="TakeFrameToShow"/> skipped them.
        /// </summary>
        public long FramesDropped
        {
            get
            {
                long inSession;
                lock (sync) inSession = session.FramesDropped;
                lock (frames) return inSession + frames.Dropped;
            }
        }

        public long DatagramsDropped { get { lock (sync) return session.DatagramsDropped; } }

        /// <summary>Frame buffers the pool had to create (stays small when every taker releases its frames).</summary>
        public long FrameBuffersCreated { get { lock (sync) return session.FramePool?.Created ?? 0; } }

        /// <summary>
        /// Diagnostics: when set, a received datagram for which this returns false is discarded before the
        /// session sees it (used to simulate loss against a live daemon). Called on the network thread.
        /// </summary>
        public Func<byte[], int, bool> ReceiveFilter { get; set; }

        /// <summary>Fragment counters of the reassembler (copied); zeros before the session opens.</summary>
        public ReassemblyStats FrameStats
        {
            get
            {
                lock (sync)
                {
                    var s = session.FrameStats;
                    if (s == null) return new ReassemblyStats();
                    return new ReassemblyStats
                    {
                        Fragments = s.Fragments, FramesCompleted = s.FramesCompleted, FramesSuperseded = s.FramesSuperseded,
                        FramesAbandoned = s.FramesAbandoned, Duplicates = s.Duplicates, Stale = s.Stale, Dropped = s.Dropped,
                        NacksSent = s.NacksSent, Cuts = s.Cuts, FramesHeld = s.FramesHeld,
                    };
                }
            }
        }

        /// <summary>
        /// Starts the network thread, which resolves the host, opens the socket and sends the first hello. Returns
        /// at once: a host that does not resolve or a socket that cannot open ends in a <see cref="SessionClosed"/>
        /// event (<see cref="CloseReason.Unreachable"/>), never in a blocked caller.
        /// </summary>
        public void Start()
        {
            lock (sync)
            {
                if (thread != null) throw new InvalidOperationException("already started");
                session.Connect(Now); // queues the hello; it is sent once the socket is open
                thread = new Thread(Run) { IsBackground = true, Name = "yume-bridge network" };
            }
            thread.Start();
        }

        /// <summary>Resolves and opens the socket on the network thread; false (and the session closed) when that fails.</summary>
        bool OpenTransport()
        {
            UdpTransport opened;
            try
            {
                opened = new UdpTransport(host, port);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException || e is ArgumentException)
            {
                lock (sync)
                {
                    session.FailTransport($"Cannot reach {Endpoint}: {Describe(e)}", Now);
                    DrainSessionEventsLocked();
                }
                return false;
            }
            lock (sync)
            {
                if (stopping)
                {
                    opened.Dispose();
                    return false;
                }
                transport = opened;
                FlushLocked();
            }
            return true;
        }

        static string Describe(Exception e)
        {
            var socketError = e as System.Net.Sockets.SocketException;
            if (socketError != null && (socketError.SocketErrorCode == System.Net.Sockets.SocketError.HostNotFound ||
                                        socketError.SocketErrorCode == System.Net.Sockets.SocketError.NoData ||
                                        socketError.SocketErrorCode == System.Net.Sockets.SocketError.TryAgain))
                return "the host name does not resolve. Check the Host field (a typo, or a name only another network knows).";
            return e.Message;
        }

        /// <summary>Sends bye (when open), stops the thread and closes the socket. Idempotent.</summary>
        public void Stop()
        {
            lock (sync)
            {
                if (thread == null || stopped) return;
                stopped = true;
                session.Close(Now);
                FlushLocked();
                DrainSessionEventsLocked();
            }
            stopping = true;
            if (thread != Thread.CurrentThread) thread.Join(1000);
            lock (sync)
            {
                transport?.Dispose();
                transport = null;
            }
        }

        public void Dispose()
        {
            Stop();
            lock (frames) frames.Clear();
            frameSignal.Close();
        }

        // ---- requests (thread-safe) -----------------------------------------------------------

        public void SetInput(InputState state) => Do(now => session.SetInput(state, now));
        public byte[] UploadImage(byte[] file) => Call(now => session.UploadImage(file, now));
        public byte[] StartFromImageFile(byte[] file, string prompt = "", uint? seed = null) => Call(now => session.StartFromImageFile(file, now, prompt, seed));
        public void StartFromImageHash(byte[] hash, string prompt = "", uint? seed = null) => Do(now => session.StartFromImageHash(hash, now, prompt, seed));
        public void StartFromText(string prompt, uint? seed = null) => Do(now => session.StartFromText(prompt, now, seed));
        public void StartDefault(string prompt = "", uint? seed = null) => Do(now => session.StartDefault(now, prompt, seed));
        public uint SendEvent(string text) => Call(now => session.SendEvent(text, now));
        public void ReplaceEvent(uint id, string text) => Do(now => session.ReplaceEvent(id, text, now));
        public void ClearEvent(uint id) => Do(now => session.ClearEvent(id, now));
        public void Configure(int? quality = null, double? fps = null, bool? paused = null) => Do(now => session.Configure(now, quality, fps, paused));
        public void Ping() => Do(now => session.Ping(now));

        void Do(Action<double> request)
        {
            lock (sync)
            {
                request(Now);
                FlushLocked();
                DrainSessionEventsLocked();
            }
        }

        T Call<T>(Func<double, T> request)
        {
            lock (sync)
            {
                var result = request(Now);
                FlushLocked();
                DrainSessionEventsLocked();
                return result;
            }
        }

        // ---- outputs (thread-safe) ------------------------------------------------------------

        public bool TryDequeueEvent(out ClientEvent next)
        {
            lock (eventSync)
            {
                next = events.Count > 0 ? events.Dequeue() : null;
                return next != null;
            }
        }

        /// <summary>
        /// The oldest complete frame not yet taken, or null; frames come out in order, never older than one returned
        /// before. At most <see cref="FrameQueue.Capacity"/> wait: the oldest is dropped for a newer one. Release it when done.
        /// </summary>
        public CompleteFrame TakeNextFrame()
        {
            lock (frames) return frames.TakeOldest();
        }

        /// <summary>
        /// For an engine that shows frames itself (no <see cref="FrameDecodeWorker"/>): the frame to show on this engine
        /// frame, or null; call it once per engine frame. Paced as <see cref="FrameQueue{T}.TakeToShow"/>: the oldest,
        /// or the newest when the engine fell behind. Release it when done.
        /// </summary>
        public CompleteFrame TakeFrameToShow()
        {
            lock (frames) return frames.TakeToShow();
        }

        static void ReleaseFrame(CompleteFrame frame) => frame.Release();

        // ---- network thread -------------------------------------------------------------------

        void Run()
        {
            if (!OpenTransport()) return;
            var buffer = new byte[UdpTransport.MaxDatagramBytes];
            while (!stopping)
            {
                int waitUs;
                UdpTransport socket;
                lock (sync)
                {
                    socket = transport;
                    if (socket == null || session.State == ClientSessionState.Closed) break;
                    var timer = session.GetTimer();
                    waitUs = timer.HasValue ? (int)Math.Max(0, Math.Min(MaxWaitMicroseconds, (timer.Value - Now) * 1e6)) : MaxWaitMicroseconds;
                }
                try
                {
                    int length = socket.Receive(buffer, waitUs);
                    var filter = ReceiveFilter;
                    for (int round = 0; length >= 0 && round < MaxDatagramsPerRound && !stopping; round++)
                    {
                        if (filter == null || filter(buffer, length))
                            lock (sync)
                            {
                                session.ReceiveDatagram(buffer, length, Now);
                                DrainSessionEventsLocked(); // a frame goes to the engine as soon as it is shown
                            }
                        length = socket.Receive(buffer, 0);
                    }
                    lock (sync)
                    {
                        session.HandleTimer(Now);
                        FlushLocked();
                        DrainSessionEventsLocked();
                    }
                }
                catch (ObjectDisposedException)
                {
                    break; // Stop() closed the socket
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    Enqueue(new SessionWarning($"{Endpoint}: socket error {e.SocketErrorCode}: {e.Message}"));
                    Thread.Sleep(50);
                }
            }
        }

        void FlushLocked()
        {
            if (transport == null || session.PendingDatagramCount == 0) return; // the idle loop allocates nothing
            foreach (var datagram in session.DatagramsToSend()) transport.Send(datagram);
        }

        void DrainSessionEventsLocked()
        {
            ClientEvent next;
            while ((next = session.NextEvent()) != null)
            {
                var frame = next as FrameArrived;
                if (frame != null)
                {
                    Interlocked.Increment(ref framesReceived);
                    lock (frames) frames.Add(frame.Frame);
                    frameSignal.Set();
                    continue;
                }
                var closed = next as SessionClosed;
                if (closed != null) next = WithEndpoint(closed);
                Enqueue(next);
            }
        }

        SessionClosed WithEndpoint(SessionClosed closed)
        {
            string message = $"{Endpoint}: {closed.Message}";
            if (closed.Reason == CloseReason.Unreachable && transport != null && transport.PortUnreachableSeen)
                message += $" (The host reported that nothing listens on UDP port {port}.)";
            return new SessionClosed(closed.Reason, closed.Code, message);
        }

        void Enqueue(ClientEvent e)
        {
            lock (eventSync)
            {
                if (events.Count >= MaxQueuedEvents) events.Dequeue(); // bounded: the oldest goes
                events.Enqueue(e);
            }
        }
    }
}

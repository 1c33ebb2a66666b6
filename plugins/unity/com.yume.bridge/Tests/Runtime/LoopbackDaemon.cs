// A minimal daemon on 127.0.0.1 for tests of the threaded client without the Python daemon: answers the
// handshake (retry with a cookie, then welcome), pings and starts, and streams one JPEG as frames every 20 ms.
// Engine-free: the PlayMode tests use it in Unity, and the NUnit build here runs its own test against it.
using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    public sealed class LoopbackDaemon : IDisposable
    {
        public const uint SessionId = 4242;
        const int MaxDatagram = 1200;
        static readonly byte[] Cookie = new byte[20];
        static readonly byte[] ServerNonce = new byte[16];

        readonly byte[] jpeg;
        readonly int width, height;
        readonly UdpClient socket;
        readonly Thread thread;
        volatile bool stopping;
        IPEndPoint client;
        uint seq = 1, frame;
        DateTime nextFrameAt = DateTime.MaxValue;

        /// <param name="jpeg">the picture every frame carries; <paramref name="width"/>×<paramref name="height"/> is what the welcome announces</param>
        public LoopbackDaemon(byte[] jpeg, int width, int height)
        {
            this.jpeg = jpeg;
            this.width = width;
            this.height = height;
            socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            thread = new Thread(Run) { IsBackground = true, Name = "loopback daemon" };
            thread.Start();
        }

        public int Port => ((IPEndPoint)socket.Client.LocalEndPoint).Port;

        /// <summary>Frames sent so far.</summary>
        public uint FramesSent => frame;

        void Run()
        {
            var buffer = new byte[65535];
            while (!stopping)
            {
                try
                {
                    if (socket.Client.Poll(5000, SelectMode.SelectRead))
                    {
                        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                        int length = socket.Client.ReceiveFrom(buffer, ref from);
                        Answer(buffer, length, (IPEndPoint)from);
                    }
                    if (client != null && DateTime.UtcNow >= nextFrameAt)
                    {
                        SendFrame();
                        nextFrameAt = DateTime.UtcNow.AddMilliseconds(20);
                    }
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException)
                {
                    // the client went away (ICMP); keep serving until disposed
                }
            }
        }

        void Answer(byte[] data, int length, IPEndPoint from)
        {
            var decoded = ControlCodec.Decode(data, length);
            if (decoded.Outcome != DecodeOutcome.Decoded) return;
            var hello = decoded.Message as HelloMessage;
            if (hello != null)
            {
                if (hello.Cookie == null) Send(new RetryMessage(hello.Nonce, Cookie, false), from);
                else
                {
                    client = from;
                    seq = 1;
                    Send(Welcome(), from);
                    nextFrameAt = DateTime.UtcNow;
                }
                return;
            }
            var ping = decoded.Message as PingMessage;
            if (ping != null) Send(new PongMessage(SessionId, seq++, ping.TimeUs, 0), from);
            var start = decoded.Message as StartMessage;
            if (start != null) Send(new StartedMessage(SessionId, seq++, 1, start.Source, 7), from);
        }

        WelcomeMessage Welcome()
        {
            var vocabulary = new Vocabulary("camera", "yume1.5-camera-1",
                                            new[] { "None", "W", "A", "S", "D", "W+A", "W+D", "S+A", "S+D" },
                                            new[] { "·", "→", "←", "↑", "↓", "↑→", "↑←", "↓→", "↓←" });
            return new WelcomeMessage(SessionId, seq++, 1, ServerNonce, "loopback", "preview", "preview", "1", "generating",
                                      width, height, 16.0, 29, 85, MaxDatagram, false, vocabulary, WireLimits.Defaults,
                                      new[] { "json", "msgpack", "nack" });
        }

        void Send(ControlMessage message, IPEndPoint to)
        {
            var bytes = ControlCodec.Encode(message, WireEncoding.MsgPack);
            socket.Send(bytes, bytes.Length, to);
        }

        /// <summary>SPEC §6.2: n = ceil(L / (max_datagram − 44)) fragments of stride ceil(L / n).</summary>
        void SendFrame()
        {
            int capacity = MaxDatagram - FragmentHeader.Size;
            int count = (jpeg.Length + capacity - 1) / capacity, stride = (jpeg.Length + count - 1) / count;
            for (int i = 0; i < count; i++)
            {
                int offset = i * stride, length = Math.Min(stride, jpeg.Length - offset);
                var payload = new byte[length];
                Buffer.BlockCopy(jpeg, offset, payload, 0, length);
                var header = new FragmentHeader(FragmentFlags.None, SessionId, frame, frame / 29, (int)(frame % 29), i, count, length,
                                                (uint)jpeg.Length, 0, 0, 0);
                var datagram = header.Pack(payload);
                socket.Send(datagram, datagram.Length, client);
            }
            frame++;
        }

        public void Dispose()
        {
            stopping = true;
            socket.Close();
            thread.Join(1000);
        }
    }
}

// The one place that touches a socket: a connected UdpClient to the daemon, with a large receive buffer.
using System;
using System.Net;
using System.Net.Sockets;

namespace Yume.Bridge.Core
{
    public sealed class UdpTransport : IDisposable
    {
        /// <summary>SPEC §6.3: at least 1 MiB; frames arrive in bursts of up to ~100 datagrams.</summary>
        public const int DefaultReceiveBufferBytes = 4 * 1024 * 1024;
        public const int MaxDatagramBytes = 65535;
        const int SioUdpConnReset = -1744830452; // Windows: stop ICMP port-unreachable from failing later receives

        readonly UdpClient client;

        public UdpTransport(string host, int port, int receiveBufferBytes = DefaultReceiveBufferBytes)
        {
            if (string.IsNullOrEmpty(host)) throw new ArgumentException("host is empty");
            if (port < 1 || port > 65535) throw new ArgumentException("port lies in 1…65535");
            Remote = new IPEndPoint(Resolve(host), port);
            client = new UdpClient(Remote.AddressFamily);
            try
            {
                client.Client.ReceiveBufferSize = receiveBufferBytes;
            }
            catch (SocketException)
            {
                // The OS may refuse or cap the size; the smaller default still works, with more loss under bursts.
            }
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                try { client.Client.IOControl(SioUdpConnReset, new byte[] { 0, 0, 0, 0 }, null); }
                catch (Exception) { /* not available on this runtime: harmless */ }
            }
            client.Connect(Remote); // the socket then only receives from the daemon's address and port
        }

        public IPEndPoint Remote { get; }

        /// <summary>The OS reported that nothing listens on the daemon's port (ICMP port unreachable).</summary>
        public bool PortUnreachableSeen { get; private set; }

        public int ReceiveBufferBytes => client.Client.ReceiveBufferSize;

        public void Send(byte[] datagram)
        {
            try
            {
                client.Client.Send(datagram);
            }
            catch (SocketException e) when (IsUnreachable(e))
            {
                PortUnreachableSeen = true;
            }
        }

        /// <summary>Waits up to <paramref name="timeoutMicroseconds"/> for a datagram; returns its length, or -1 when none came.</summary>
        public int Receive(byte[] buffer, int timeoutMicroseconds)
        {
            try
            {
                if (client.Available == 0 && !client.Client.Poll(Math.Max(0, timeoutMicroseconds), SelectMode.SelectRead)) return -1;
                return client.Client.Receive(buffer);
            }
            catch (SocketException e) when (IsUnreachable(e))
            {
                PortUnreachableSeen = true;
                return -1;
            }
        }

        static bool IsUnreachable(SocketException e) =>
            e.SocketErrorCode == SocketError.ConnectionRefused || e.SocketErrorCode == SocketError.ConnectionReset;

        static IPAddress Resolve(string host)
        {
            IPAddress literal;
            if (IPAddress.TryParse(host, out literal)) return literal;
            var addresses = Dns.GetHostAddresses(host);
            if (addresses.Length == 0) throw new ArgumentException($"host {host} does not resolve");
            // The daemon binds 127.0.0.1 by default, so prefer IPv4 when a name has both.
            foreach (var address in addresses)
                if (address.AddressFamily == AddressFamily.InterNetwork) return address;
            return addresses[0];
        }

        public void Dispose() => client.Dispose();
    }
}

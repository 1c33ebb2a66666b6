// Finds daemons on the LAN (and on this machine) by DNS-SD: sends the browse query for _yume-bridge._udp.local.
// to the mDNS group on every IPv4 interface, loopback included, and resolves the answers. It asks from an ordinary
// port, so responders answer it directly (RFC 6762 §6.7, "legacy unicast"): no port 5353, no group membership.
// Blocking: call Browse from a background thread (BrowseAsync does), never from an engine's main thread.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Yume.Bridge.Core
{
    public static class DaemonDiscovery
    {
        /// <summary>Bounded: at most this many answer packets are kept per browse (overflow policy: later ones are ignored).</summary>
        public const int MaxPackets = 256;
        const int QueryRepeats = 2;

        /// <summary>
        /// Browses for <paramref name="timeoutSeconds"/> and returns the daemons that answered, each once, the least
        /// loaded first (as the daemon's own client picks). <paramref name="interfaces"/>: IPv4 addresses to send from (default: every up interface
        /// with an IPv4 address, loopback included).
        /// </summary>
        public static List<DiscoveredDaemon> Browse(double timeoutSeconds = 2.0, IList<IPAddress> interfaces = null,
                                                     string serviceType = DnsSdCodec.ServiceType)
        {
            var records = new List<DnsRecord>();
            var query = DnsSdCodec.EncodeQuery(new DnsQuestion(serviceType, DnsTypes.Ptr));
            var sources = interfaces ?? LocalIPv4Addresses();
            using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
            {
                socket.Bind(new IPEndPoint(IPAddress.Any, 0));
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
                var clock = Stopwatch.StartNew();
                var buffer = new byte[9000];
                int packets = 0;
                for (int round = 0; round < QueryRepeats; round++)
                {
                    SendQuery(socket, query, sources);
                    double roundEnd = timeoutSeconds * (round + 1) / QueryRepeats;
                    while (clock.Elapsed.TotalSeconds < roundEnd)
                    {
                        int waitUs = (int)Math.Max(1000, (roundEnd - clock.Elapsed.TotalSeconds) * 1e6);
                        if (!socket.Poll(waitUs, SelectMode.SelectRead)) continue;
                        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                        int length;
                        try
                        {
                            length = socket.ReceiveFrom(buffer, ref from);
                        }
                        catch (SocketException)
                        {
                            continue; // e.g. ICMP from an interface without a responder
                        }
                        DnsMessage message;
                        string reason;
                        if (packets >= MaxPackets || !DnsSdCodec.TryParse(buffer, length, out message, out reason) || !message.IsResponse) continue;
                        packets++;
                        records.AddRange(message.Records);
                    }
                }
            }
            var found = DnsSdBrowser.Resolve(records, serviceType);
            DnsSdBrowser.SortLeastLoadedFirst(found);
            return found;
        }

        /// <summary><see cref="Browse"/> on a thread-pool thread.</summary>
        public static Task<List<DiscoveredDaemon>> BrowseAsync(double timeoutSeconds = 2.0, IList<IPAddress> interfaces = null) =>
            Task.Run(() => Browse(timeoutSeconds, interfaces));

        static void SendQuery(Socket socket, byte[] query, IList<IPAddress> sources)
        {
            var group = new IPEndPoint(DnsSdCodec.MdnsGroup, DnsSdCodec.MdnsPort);
            foreach (var source in sources)
            {
                try
                {
                    socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, source.GetAddressBytes());
                    socket.SendTo(query, group);
                }
                catch (SocketException)
                {
                    // An interface that cannot send multicast: the others still can.
                }
            }
        }

        /// <summary>IPv4 addresses of the interfaces that are up, loopback included (a daemon on this machine answers there).</summary>
        public static List<IPAddress> LocalIPv4Addresses()
        {
            var addresses = new List<IPAddress>();
            try
            {
                foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                {
                    if (nic.OperationalStatus != OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback) continue;
                    foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                        if (unicast.Address.AddressFamily == AddressFamily.InterNetwork && !addresses.Contains(unicast.Address))
                            addresses.Add(unicast.Address);
                }
            }
            catch (Exception e) when (e is NetworkInformationException || e is PlatformNotSupportedException || e is NotSupportedException)
            {
                // Interface enumeration is unavailable on some platforms: loopback below still works.
            }
            if (!addresses.Contains(IPAddress.Loopback)) addresses.Add(IPAddress.Loopback);
            return addresses;
        }
    }
}

// What a DNS-SD browser makes of mDNS answers: daemons (instance, host, port, addresses, TXT properties),
// joined across packets because SRV, TXT and address records may arrive apart. Sans-IO.
using System;
using System.Collections.Generic;
using System.Net;

namespace Yume.Bridge.Core
{
    /// <summary>A daemon found by DNS-SD. <see cref="Addresses"/> is empty until the host's A/AAAA record is known.</summary>
    public sealed class DiscoveredDaemon
    {
        public DiscoveredDaemon(string instance, string host, int port, IReadOnlyList<IPAddress> addresses,
                                IReadOnlyList<KeyValuePair<string, string>> properties)
        {
            Instance = instance;
            Host = host;
            Port = port;
            Addresses = addresses;
            Properties = properties;
        }

        /// <summary>The full instance name, e.g. "studio-47800._yume-bridge._udp.local.".</summary>
        public string Instance { get; }

        /// <summary>The SRV target host name, e.g. "studio.local.".</summary>
        public string Host { get; }

        public int Port { get; }
        public IReadOnlyList<IPAddress> Addresses { get; }

        /// <summary>TXT key/value pairs in packet order; the value is null for a bare key.</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Properties { get; }

        /// <summary>The instance label alone ("studio-47800").</summary>
        public string Label
        {
            get
            {
                int dot = Instance.IndexOf('.');
                return dot < 0 ? Instance : Instance.Substring(0, dot);
            }
        }

        /// <summary>A TXT property (keys compare without case), or null.</summary>
        public string Property(string key)
        {
            foreach (var pair in Properties)
                if (string.Equals(pair.Key, key, StringComparison.OrdinalIgnoreCase)) return pair.Value;
            return null;
        }

        /// <summary>The first IPv4 address (the daemon binds IPv4), else the first address, else null.</summary>
        public IPAddress PreferredAddress
        {
            get
            {
                foreach (var address in Addresses)
                    if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) return address;
                return Addresses.Count > 0 ? Addresses[0] : null;
            }
        }

        /// <summary>The daemon's protocol version from TXT "protocol", or 0 when absent.</summary>
        public int ProtocolVersion
        {
            get
            {
                int version;
                return int.TryParse(Property("protocol"), out version) ? version : 0;
            }
        }

        /// <summary>
        /// The daemon's advertised load (TXT devices, sessions, max_sessions, load_fps), or false for a daemon that
        /// does not advertise it (an older version) or garbles it.
        /// </summary>
        public bool TryGetLoad(out int devices, out int sessions, out int maxSessions, out double streamingFps)
        {
            devices = sessions = maxSessions = 0;
            streamingFps = 0;
            return int.TryParse(Property("devices"), out devices) && int.TryParse(Property("sessions"), out sessions) &&
                   int.TryParse(Property("max_sessions"), out maxSessions) &&
                   double.TryParse(Property("load_fps"), System.Globalization.NumberStyles.Float,
                                   System.Globalization.CultureInfo.InvariantCulture, out streamingFps);
        }

        /// <summary>Session slots still free, or null when the daemon does not advertise its load.</summary>
        public int? FreeSessions
        {
            get
            {
                int devices, sessions, maxSessions;
                double fps;
                return TryGetLoad(out devices, out sessions, out maxSessions, out fps) ? Math.Max(0, maxSessions - sessions) : (int?)null;
            }
        }

        /// <summary>TXT "token" is "required": the client needs the daemon's token.</summary>
        public bool TokenRequired => Property("token") == "required";

        /// <summary>
        /// What stands between this plugin and the daemon before connecting, as a sentence; null when nothing does.
        /// <paramref name="haveToken"/>: whether the client has a token set.
        /// </summary>
        public string Obstacle(bool haveToken)
        {
            int version = ProtocolVersion;
            if (version != 0 && version != 1)
                return $"{Label} speaks protocol {version}; this plugin speaks protocol 1. Update the plugin or the daemon so that they match.";
            if (PreferredAddress == null)
                return $"{Label} answered without an address for {Host}; browse again, or enter its address by hand.";
            if (FreeSessions == 0)
                return $"{Label} serves as many sessions as it allows right now; pick another daemon or close a client there.";
            if (TokenRequired && !haveToken)
                return $"{Label} requires a token: copy the one it printed when it first started (or gave with --token) into the Token field.";
            return null;
        }

        public override string ToString()
        {
            var address = PreferredAddress;
            var free = FreeSessions;
            return $"{Label} at {(address != null ? address.ToString() : Host)}:{Port} " +
                   $"({Property("backend") ?? "?"} {Property("model") ?? "?"}, protocol {ProtocolVersion}" +
                   (free.HasValue ? $", {free.Value} free session(s)" : "") +
                   (TokenRequired ? ", token required)" : ")");
        }
    }

    public static class DnsSdBrowser
    {
        /// <summary>
        /// The daemons of <paramref name="serviceType"/> that the records describe (a PTR with TTL &gt; 0 plus the
        /// instance's SRV), and the instances that said goodbye (a PTR with TTL 0, RFC 6762 §10.1). Names compare
        /// without case. Records of queries must not be passed: a query's known answers announce nothing.
        /// </summary>
        public static List<DiscoveredDaemon> Resolve(IReadOnlyList<DnsRecord> records, string serviceType, List<string> removed = null)
        {
            var found = new List<DiscoveredDaemon>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pointer in records)
            {
                if (pointer.Type != DnsTypes.Ptr || !SameName(pointer.Name, serviceType) || pointer.Target == null) continue;
                if (pointer.Ttl == 0)
                {
                    removed?.Add(pointer.Target);
                    continue;
                }
                if (!seen.Add(pointer.Target)) continue;
                var service = Find(records, DnsTypes.Srv, pointer.Target);
                if (service == null) continue;
                var text = Find(records, DnsTypes.Txt, pointer.Target);
                var addresses = new List<IPAddress>();
                foreach (var record in records)
                    if ((record.Type == DnsTypes.A || record.Type == DnsTypes.Aaaa) && record.Ttl > 0 && SameName(record.Name, service.Target) &&
                        !addresses.Contains(record.Address))
                        addresses.Add(record.Address);
                found.Add(new DiscoveredDaemon(pointer.Target, service.Target, service.Port, addresses.AsReadOnly(),
                                               Properties(text?.Strings).AsReadOnly()));
            }
            return found;
        }

        /// <summary>RFC 6763 §6: "key=value" or a bare "key"; the first occurrence of a key wins; empty keys are ignored.</summary>
        public static List<KeyValuePair<string, string>> Properties(IReadOnlyList<string> strings)
        {
            var pairs = new List<KeyValuePair<string, string>>();
            if (strings == null) return pairs;
            var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in strings)
            {
                int equals = entry.IndexOf('=');
                string key = equals < 0 ? entry : entry.Substring(0, equals);
                if (key.Length == 0 || !keys.Add(key)) continue;
                pairs.Add(new KeyValuePair<string, string>(key, equals < 0 ? null : entry.Substring(equals + 1)));
            }
            return pairs;
        }

        static DnsRecord Find(IReadOnlyList<DnsRecord> records, int type, string name)
        {
            // The newest record of a name wins (later packets and later records override earlier ones).
            for (int i = records.Count - 1; i >= 0; i--)
                if (records[i].Type == type && SameName(records[i].Name, name)) return records[i];
            return null;
        }

        /// <summary>
        /// Orders daemons as the daemon's own client picks them: free session slots per device first (more is
        /// better), then the one streaming least; full daemons after those, daemons that do not advertise a load last.
        /// </summary>
        public static void SortLeastLoadedFirst(List<DiscoveredDaemon> daemons)
        {
            daemons.Sort((a, b) =>
            {
                int byGroup = Group(a).CompareTo(Group(b));
                if (byGroup != 0) return byGroup;
                int byFree = FreePerDevice(b).CompareTo(FreePerDevice(a));
                if (byFree != 0) return byFree;
                int byFps = StreamingFps(a).CompareTo(StreamingFps(b));
                return byFps != 0 ? byFps : string.CompareOrdinal(a.Instance, b.Instance);
            });
        }

        static int Group(DiscoveredDaemon daemon)
        {
            var free = daemon.FreeSessions;
            return !free.HasValue ? 1 : free.Value > 0 ? 0 : 2;
        }

        static double FreePerDevice(DiscoveredDaemon daemon)
        {
            int devices, sessions, maxSessions;
            double fps;
            if (!daemon.TryGetLoad(out devices, out sessions, out maxSessions, out fps)) return 0;
            return Math.Max(0, maxSessions - sessions) / (double)Math.Max(1, devices);
        }

        static double StreamingFps(DiscoveredDaemon daemon)
        {
            int devices, sessions, maxSessions;
            double fps;
            return daemon.TryGetLoad(out devices, out sessions, out maxSessions, out fps) ? fps : 0;
        }

        public static bool SameName(string a, string b) =>
            string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
    }
}

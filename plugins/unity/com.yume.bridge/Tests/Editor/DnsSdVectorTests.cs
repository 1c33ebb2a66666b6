// The DNS-SD codec and browser against protocol/vectors/dnssd.json: packets built and parsed by python-zeroconf.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class DnsSdVectorTests
    {
        const string File = "dnssd.json";
        public static IEnumerable<string> QueryNames => ProtocolVectors.NamesIn(File, "queries");
        public static IEnumerable<string> ResponseNames => ProtocolVectors.NamesIn(File, "responses");
        public static IEnumerable<string> InvalidNames => ProtocolVectors.NamesIn(File, "invalid");

        static DnsMessage ParseOrFail(WireValue vector)
        {
            var packet = ProtocolVectors.Hex(vector.Field("hex"));
            DnsMessage message;
            string reason;
            Assert.IsTrue(DnsSdCodec.TryParse(packet, packet.Length, out message, out reason), reason);
            return message;
        }

        static long Int(WireValue value)
        {
            long number;
            Assert.IsTrue(value.TryGetInt64(out number));
            return number;
        }

        static List<string> Strings(WireValue array)
        {
            var strings = new List<string>();
            foreach (var s in array.AsArray) strings.Add(s.AsString);
            return strings;
        }

        static void AssertRecords(WireValue expected, List<DnsRecord> actual, string name)
        {
            var records = expected.AsArray;
            Assert.AreEqual(records.Count, actual.Count, name + ": record count");
            for (int i = 0; i < records.Count; i++)
            {
                var want = records[i];
                var got = actual[i];
                string what = $"{name} record {i}";
                Assert.AreEqual(want.Field("name").AsString, got.Name, what);
                Assert.AreEqual(want.Field("type").AsString, DnsTypes.Name(got.Type), what);
                Assert.AreEqual(want.Field("cache_flush").AsBool, got.CacheFlush, what);
                Assert.AreEqual(Int(want.Field("ttl")), got.Ttl, what);
                if (want.Field("target") != null) Assert.AreEqual(want.Field("target").AsString, got.Target, what);
                if (want.Field("port") != null) Assert.AreEqual(Int(want.Field("port")), got.Port, what);
                if (want.Field("priority") != null) Assert.AreEqual(Int(want.Field("priority")), got.Priority, what);
                if (want.Field("weight") != null) Assert.AreEqual(Int(want.Field("weight")), got.Weight, what);
                if (want.Field("address") != null) Assert.AreEqual(want.Field("address").AsString, got.Address.ToString(), what);
                if (want.Field("strings") != null) CollectionAssert.AreEqual(Strings(want.Field("strings")), got.Strings, what);
            }
        }

        static void AssertServices(WireValue expected, List<DiscoveredDaemon> actual, string name)
        {
            var services = expected.AsArray;
            Assert.AreEqual(services.Count, actual.Count, name + ": daemons found");
            for (int i = 0; i < services.Count; i++)
            {
                var want = services[i];
                var got = actual[i];
                Assert.AreEqual(want.Field("instance").AsString, got.Instance, name);
                Assert.AreEqual(want.Field("host").AsString, got.Host, name);
                Assert.AreEqual(Int(want.Field("port")), got.Port, name);
                var addresses = new List<string>();
                foreach (var a in got.Addresses) addresses.Add(a.ToString());
                CollectionAssert.AreEqual(Strings(want.Field("addresses")), addresses, name + ": addresses");
                var properties = want.Field("properties").AsArray;
                Assert.AreEqual(properties.Count, got.Properties.Count, name + ": properties");
                for (int p = 0; p < properties.Count; p++)
                {
                    var pair = properties[p].AsArray;
                    Assert.AreEqual(pair[0].AsString, got.Properties[p].Key, name);
                    Assert.AreEqual(pair[1].Kind == WireKind.Nil ? null : pair[1].AsString, got.Properties[p].Value, name);
                }
            }
        }

        [Test]
        public void The_vectors_browse_for_the_service_type_this_core_browses_for()
        {
            Assert.AreEqual(ProtocolVectors.Load(File).Field("service_type").AsString, DnsSdCodec.ServiceType);
            Assert.AreEqual(Int(ProtocolVectors.Load(File).Field("mdns_port")), DnsSdCodec.MdnsPort);
        }

        [TestCase("browse", false)]
        [TestCase("browse_unicast_response", true)]
        public void The_browse_query_is_byte_for_byte_what_zeroconf_sends(string name, bool unicast)
        {
            var vector = ProtocolVectors.Named(File, "queries", name);
            Assert.AreEqual(vector.Field("hex").AsString, ByteArrays.ToHex(DnsSdCodec.EncodeBrowseQuery(unicast)));
        }

        [Test]
        public void A_query_with_several_questions_compresses_names_as_zeroconf_does()
        {
            var vector = ProtocolVectors.Named(File, "queries", "resolve");
            var questions = new List<DnsQuestion>();
            foreach (var q in vector.Field("questions").AsArray)
            {
                string type = q.Field("type").AsString;
                int code = type == "SRV" ? DnsTypes.Srv : type == "TXT" ? DnsTypes.Txt : type == "A" ? DnsTypes.A : DnsTypes.Ptr;
                questions.Add(new DnsQuestion(q.Field("name").AsString, code, q.Field("unicast_response").AsBool));
            }
            Assert.AreEqual(vector.Field("hex").AsString, ByteArrays.ToHex(DnsSdCodec.EncodeQuery(questions.ToArray())));
        }

        [TestCaseSource("QueryNames")]
        public void A_query_parses_to_its_questions_and_announces_no_daemon(string name)
        {
            var vector = ProtocolVectors.Named(File, "queries", name);
            var message = ParseOrFail(vector);
            Assert.IsFalse(message.IsResponse);
            var questions = vector.Field("questions").AsArray;
            Assert.AreEqual(questions.Count, message.Questions.Count);
            for (int i = 0; i < questions.Count; i++)
            {
                Assert.AreEqual(questions[i].Field("name").AsString, message.Questions[i].Name);
                Assert.AreEqual(questions[i].Field("type").AsString, DnsTypes.Name(message.Questions[i].Type));
                Assert.AreEqual(questions[i].Field("unicast_response").AsBool, message.Questions[i].UnicastResponse);
            }
            AssertRecords(vector.Field("records"), message.Records, name);
        }

        [TestCaseSource("ResponseNames")]
        public void A_response_parses_to_the_records_zeroconf_reads(string name)
        {
            var vector = ProtocolVectors.Named(File, "responses", name);
            var message = ParseOrFail(vector);
            Assert.IsTrue(message.IsResponse);
            AssertRecords(vector.Field("records"), message.Records, name);
        }

        [TestCaseSource("ResponseNames")]
        public void A_response_names_the_daemons_and_goodbyes_the_vector_lists(string name)
        {
            var vector = ProtocolVectors.Named(File, "responses", name);
            var removed = new List<string>();
            var found = DnsSdBrowser.Resolve(ParseOrFail(vector).Records, DnsSdCodec.ServiceType, removed);
            AssertServices(vector.Field("services"), found, name);
            CollectionAssert.AreEqual(Strings(vector.Field("removed")), removed, name + ": goodbyes");
        }

        [TestCaseSource("InvalidNames")]
        public void A_malformed_packet_is_rejected_whole(string name)
        {
            var packet = ProtocolVectors.Hex(ProtocolVectors.Named(File, "invalid", name).Field("hex"));
            DnsMessage message;
            string reason;
            Assert.IsFalse(DnsSdCodec.TryParse(packet, packet.Length, out message, out reason));
            Assert.IsNotNull(reason);
        }

        [Test]
        public void A_daemon_from_the_vectors_reads_as_a_user_would_want_it()
        {
            var vector = ProtocolVectors.Named(File, "responses", "announcement_on_loopback");
            var daemon = DnsSdBrowser.Resolve(ParseOrFail(vector).Records, DnsSdCodec.ServiceType)[0];
            Assert.AreEqual("ci-box-47801", daemon.Label);
            Assert.AreEqual("127.0.0.1", daemon.PreferredAddress.ToString());
            Assert.AreEqual(1, daemon.ProtocolVersion);
            Assert.IsTrue(daemon.TokenRequired);
            StringAssert.Contains("token required", daemon.ToString());
            Assert.AreEqual(0, daemon.FreeSessions, "4 of 4 sessions taken");
        }

        [Test]
        public void Daemons_with_free_slots_come_before_full_ones_and_those_without_a_load()
        {
            var records = new List<DnsRecord>();
            foreach (var name in new[] { "announcement_on_loopback", "answer_to_browse", "txt_edge_cases" })
                records.AddRange(ParseOrFail(ProtocolVectors.Named(File, "responses", name)).Records);
            var found = DnsSdBrowser.Resolve(records, DnsSdCodec.ServiceType);
            DnsSdBrowser.SortLeastLoadedFirst(found);
            var order = new List<string>();
            foreach (var daemon in found) order.Add(daemon.Label);
            // studio: 3 of 4 sessions free; bare: advertises no load; ci-box: full.
            CollectionAssert.AreEqual(new[] { "studio-47800", "bare-47800", "ci-box-47801" }, order);
        }
    }
}

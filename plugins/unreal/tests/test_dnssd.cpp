// The DNS-SD codec: the query it sends, and the answers it reads from a real zeroconf responder.
#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace yumebridge;

namespace {

Bytes unhex(const char* text) { return *from_hex(text); }

// One answer as python-zeroconf 0.154 writes it (DNSOutgoing.packets()): a PTR for
// studio-47800._yume-bridge._udp.local., then SRV (port 47800, host studio.local.), TXT
// (protocol=1, backend=yume, token=none), A 192.168.1.20 and AAAA fe80::1:0:0:2, with name compression.
const char* const kZeroconfAnswer =
    "0000840000000001000000040c5f79756d652d627269646765045f756470056c6f63616c00000c000100001194000f0c73747564696f2d34"
    "37383030c00cc02f0021800100000078000f00000000bab80673747564696fc01ec02f001080010000119400230a70726f746f636f6c3d31"
    "0c6261636b656e643d79756d650a746f6b656e3d6e6f6e65c05000018001000000780004c0a80114c050001c8001000000780010fe800000"
    "000000000001000000000002";

std::vector<dnssd::Service> services_in(const Bytes& packet) {
    const Result<dnssd::Message> parsed = dnssd::parse_message(packet);
    REQUIRE(parsed.ok());
    dnssd::ServiceCollector collector;
    collector.add(parsed.value());
    return collector.services();
}

}  // namespace

TEST_CASE("the query asks for PTR records of the yume-bridge service type and a direct answer") {
    const Bytes query = dnssd::build_query().value();
    // Header: id 0, flags 0, one question; then _yume-bridge._udp.local as labels; PTR; IN with the QU bit.
    CHECK(to_hex(query) ==
          "000000000001000000000000"
          "0c5f79756d652d627269646765045f756470056c6f63616c00"
          "000c8001");
    const Result<dnssd::Message> parsed = dnssd::parse_message(query);
    REQUIRE(parsed.ok());
    CHECK_FALSE(parsed.value().is_response());
    REQUIRE(parsed.value().questions.size() == 1);
    CHECK(parsed.value().questions[0].name == "_yume-bridge._udp.local.");
    CHECK(parsed.value().questions[0].unicast_response);
}

TEST_CASE("a query without the QU bit asks for a multicast answer") {
    const Bytes query = dnssd::build_query(dnssd::kServiceType, 7, false).value();
    CHECK(query[0] == 0);
    CHECK(query[1] == 7);
    CHECK(query[query.size() - 2] == 0x00);
    CHECK(query[query.size() - 1] == 0x01);
}

TEST_CASE("a name with an empty or over-long label cannot be queried") {
    CHECK(dnssd::build_query("bad..local.").code() == ErrorCode::InvalidArgument);
    CHECK(dnssd::build_query(std::string(64, 'a') + ".local.").code() == ErrorCode::InvalidArgument);
}

TEST_CASE("a zeroconf answer gives the daemon's instance, host, port, addresses and properties") {
    const std::vector<dnssd::Service> found = services_in(unhex(kZeroconfAnswer));
    REQUIRE(found.size() == 1);
    const dnssd::Service& daemon = found[0];
    CHECK(daemon.instance == "studio-47800._yume-bridge._udp.local.");
    CHECK(daemon.label() == "studio-47800");
    CHECK(daemon.host == "studio.local.");
    CHECK(daemon.port == 47800);
    CHECK(daemon.addresses == std::vector<std::string>{"192.168.1.20", "fe80::1:0:0:2"});
    CHECK(daemon.property("protocol") == "1");
    CHECK(daemon.property("backend") == "yume");
    CHECK(daemon.property("token") == "none");
    CHECK(daemon.ttl == 4500);
}

TEST_CASE("a TXT string whose length runs past its record is refused") {
    Bytes packet = unhex(kZeroconfAnswer);
    packet[packet.size() - 55] = 0x0c;  // "token=none" claims 12 bytes in a record of 35
    CHECK(dnssd::parse_message(packet).code() == ErrorCode::BadMessage);
}

TEST_CASE("every truncation of a real answer is refused, never read past its end") {
    const Bytes packet = unhex(kZeroconfAnswer);
    for (std::size_t size = 0; size < packet.size(); ++size) {
        const Bytes cut(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(size));
        CHECK_FALSE(dnssd::parse_message(cut).ok());
    }
}

TEST_CASE("a compression pointer that points forward or at itself is refused") {
    // A response with one PTR answer whose name is a pointer to offset 12 (itself).
    const Bytes self = unhex("000084000000000100000000c00c000c0001000000780002c00c");
    CHECK(dnssd::parse_message(self).code() == ErrorCode::BadMessage);
    const Bytes forward = unhex("000084000000000100000000c020000c0001000000780002c00c");
    CHECK(dnssd::parse_message(forward).code() == ErrorCode::BadMessage);
}

TEST_CASE("a goodbye (PTR with TTL 0) removes the daemon it names") {
    dnssd::ServiceCollector collector;
    collector.add(dnssd::parse_message(unhex(kZeroconfAnswer)).value());
    REQUIRE(collector.services().size() == 1);
    Bytes goodbye = unhex(kZeroconfAnswer);
    // The PTR's TTL sits after the question-free header, the name (25 bytes), type and class.
    const std::size_t ttl = 12 + 25 + 4;
    REQUIRE(goodbye[ttl + 2] == 0x11);
    goodbye[ttl] = goodbye[ttl + 1] = goodbye[ttl + 2] = goodbye[ttl + 3] = 0;
    collector.add(dnssd::parse_message(goodbye).value());
    CHECK(collector.services().empty());
}

TEST_CASE("queries seen on the multicast group are not taken for answers") {
    dnssd::ServiceCollector collector;
    collector.add(dnssd::parse_message(dnssd::build_query().value()).value());
    CHECK(collector.services().empty());
}

TEST_CASE("names compare without regard to ASCII case, as DNS does") {
    Bytes packet = unhex(kZeroconfAnswer);
    packet[14] = 'Y';  // "_Yume-bridge" in the PTR's owner name
    CHECK(services_in(packet).size() == 1);
}

// ---- the shared vectors (protocol/vectors/dnssd.json, built and parsed by python-zeroconf) ----

namespace {

nlohmann::json dnssd_vectors() {
    std::ifstream file(std::string(YUME_VECTOR_DIR) + "/dnssd.json");
    REQUIRE(file.good());
    return nlohmann::json::parse(file);
}

const char* type_name(std::uint16_t type) {
    switch (static_cast<dnssd::RecordType>(type)) {
        case dnssd::RecordType::A: return "A";
        case dnssd::RecordType::PTR: return "PTR";
        case dnssd::RecordType::TXT: return "TXT";
        case dnssd::RecordType::AAAA: return "AAAA";
        case dnssd::RecordType::SRV: return "SRV";
        default: return "other";
    }
}

nlohmann::json record_as_json(const dnssd::Record& record) {
    nlohmann::json out = {{"name", record.name}, {"type", type_name(record.type)}, {"cache_flush", record.cache_flush},
                          {"ttl", record.ttl}};
    switch (static_cast<dnssd::RecordType>(record.type)) {
        case dnssd::RecordType::PTR: out["target"] = record.target; break;
        case dnssd::RecordType::SRV:
            out["priority"] = record.priority;
            out["weight"] = record.weight;
            out["port"] = record.port;
            out["target"] = record.target;
            break;
        case dnssd::RecordType::TXT: out["strings"] = record.strings; break;
        default: out["address"] = record.address; break;
    }
    return out;
}

nlohmann::json service_as_json(const dnssd::Service& service) {
    nlohmann::json properties = nlohmann::json::array();
    for (const auto& [key, value] : service.properties) {
        properties.push_back({key, value ? nlohmann::json(*value) : nlohmann::json(nullptr)});
    }
    return {{"instance", service.instance}, {"host", service.host}, {"port", service.port},
            {"addresses", service.addresses}, {"properties", properties}};
}

void check_packet(const nlohmann::json& vector) {
    CAPTURE(vector["name"].get<std::string>());
    const Result<dnssd::Message> parsed = dnssd::parse_message(unhex(vector["hex"].get<std::string>().c_str()));
    REQUIRE(parsed.ok());
    const dnssd::Message& message = parsed.value();
    CHECK(message.is_response() == vector["is_response"].get<bool>());
    REQUIRE(message.questions.size() == vector["questions"].size());
    for (std::size_t i = 0; i < message.questions.size(); ++i) {
        CHECK(message.questions[i].name == vector["questions"][i]["name"]);
        CHECK(std::string(type_name(message.questions[i].type)) == vector["questions"][i]["type"]);
        CHECK(message.questions[i].unicast_response == vector["questions"][i]["unicast_response"]);
    }
    nlohmann::json records = nlohmann::json::array();
    for (const dnssd::Record& record : message.records) {
        records.push_back(record_as_json(record));
    }
    CHECK(records == vector["records"]);
    dnssd::ServiceCollector collector;
    collector.add(message);
    nlohmann::json services = nlohmann::json::array();
    for (const dnssd::Service& service : collector.services()) {
        services.push_back(service_as_json(service));
    }
    CHECK(services == vector["services"]);
    CHECK(nlohmann::json(collector.removed()) == vector["removed"]);
}

}  // namespace

TEST_CASE("the codec reads every query of the shared DNS-SD vectors as zeroconf does") {
    const nlohmann::json vectors = dnssd_vectors();
    for (const nlohmann::json& vector : vectors["queries"]) {
        check_packet(vector);
    }
}

TEST_CASE("the codec reads every response of the shared DNS-SD vectors into the services zeroconf reports") {
    const nlohmann::json vectors = dnssd_vectors();
    for (const nlohmann::json& vector : vectors["responses"]) {
        check_packet(vector);
    }
}

TEST_CASE("the codec refuses every invalid packet of the shared DNS-SD vectors") {
    const nlohmann::json vectors = dnssd_vectors();
    for (const nlohmann::json& vector : vectors["invalid"]) {
        CAPTURE(vector["name"].get<std::string>());
        CHECK_FALSE(dnssd::parse_message(unhex(vector["hex"].get<std::string>().c_str())).ok());
    }
}

TEST_CASE("the browse queries this codec builds are byte for byte the ones of the shared vectors") {
    const nlohmann::json vectors = dnssd_vectors();
    CHECK(vectors["service_type"] == dnssd::kServiceType);
    CHECK(vectors["mdns_address"] == dnssd::kMulticastAddressV4);
    CHECK(vectors["mdns_port"] == dnssd::kPort);
    for (const nlohmann::json& vector : vectors["queries"]) {
        if (vector["name"] == "browse") {
            CHECK(to_hex(dnssd::build_query(dnssd::kServiceType, 0, false).value()) == vector["hex"]);
        } else if (vector["name"] == "browse_unicast_response") {
            CHECK(to_hex(dnssd::build_query(dnssd::kServiceType, 0, true).value()) == vector["hex"]);
        }
    }
}

// Protocol revision 1.1 in the client state machine: what the hello announces, path validation,
// nack padding and limits, and rate_limited requests that are resent instead of failed.
#include "fake_daemon.hpp"

#include <doctest/doctest.h>

using namespace yumebridge;
using namespace yumebridge::testing;

namespace {

Bytes jpeg_like(std::size_t size) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::uint8_t>((i * 29 + 3) & 0xFF);
    }
    return out;
}

const Bytes* last_raw_of_type(const FakeDaemon& daemon, const char* type) {
    const Bytes* found = nullptr;
    for (const Bytes& raw : daemon.raw_received) {
        const std::size_t body = raw.size() >= kTagSize ? raw.size() : 0;
        if (is_type(raw, type) || (body > 0 && is_type(Bytes(raw.begin(), raw.end() - static_cast<std::ptrdiff_t>(kTagSize)), type))) {
            found = &raw;
        }
    }
    return found;
}

constexpr const char* kToken = "correct horse";

ClientConfig token_config() {
    ClientConfig config;
    config.token = kToken;
    return config;
}

FakeDaemonOptions token_daemon() {
    FakeDaemonOptions options;
    options.token = kToken;
    return options;
}

}  // namespace

TEST_CASE("the hello announces revision 1.1 and that the client answers path challenges") {
    Link link;
    REQUIRE(link.connect());
    const std::vector<const msg::Hello*> hellos = link.daemon.all<msg::Hello>();
    REQUIRE_FALSE(hellos.empty());
    CHECK(hellos.back()->protocol == 1);
    CHECK(hellos.back()->minor == std::optional<std::int64_t>(1));
    REQUIRE(hellos.back()->capabilities.has_value());
    CHECK(*hellos.back()->capabilities == std::vector<std::string>{"path_response"});
}

TEST_CASE("a tagged path challenge is answered at once with a tagged path response carrying the same bytes") {
    Link link(token_config(), token_daemon());
    REQUIRE(link.connect());
    REQUIRE(link.client.authenticated());
    msg::PathChallenge challenge;
    challenge.data = Bytes{1, 2, 3, 4, 5, 6, 7, 8};
    link.deliver_to_client(link.daemon.make(Message(challenge)));
    link.transfer();
    const std::vector<const msg::PathResponse*> responses = link.daemon.all<msg::PathResponse>();
    REQUIRE(responses.size() == 1);  // the fake daemon accepts only correctly tagged datagrams
    CHECK(responses[0]->data == challenge.data);
    CHECK(link.client.stats().path_challenges_answered == 1);
}

TEST_CASE("a path challenge without a valid tag in an authenticated session is not answered") {
    Link link(token_config(), token_daemon());
    REQUIRE(link.connect());
    msg::PathChallenge challenge;
    challenge.session = token_daemon().session;
    challenge.seq = 999;
    challenge.data = Bytes(8, 9);
    link.deliver_to_client(encode_body(Message(challenge), Encoding::MsgPack));  // untagged: a spoofer
    link.transfer();
    CHECK(link.daemon.all<msg::PathResponse>().empty());
}

TEST_CASE("a nack is padded so that it pays for the fragments it asks for, in both encodings") {
    for (const Encoding encoding : {Encoding::MsgPack, Encoding::Json}) {
        INFO((encoding == Encoding::Json ? "json" : "msgpack"));
        ClientConfig config;
        config.encoding = encoding;
        Link link(config);
        REQUIRE(link.connect());
        const std::vector<Bytes> fragments = link.daemon.frame(10, jpeg_like(5000));
        REQUIRE(fragments.size() == 5);
        for (std::size_t i = 0; i < fragments.size(); ++i) {
            if (i != 1 && i != 3) {
                link.deliver_to_client(fragments[i]);
            }
        }
        link.advance(5 * kMillisecond);  // the burst is over
        REQUIRE(link.daemon.all<msg::Nack>().size() == 1);
        CHECK(link.daemon.all<msg::Nack>()[0]->missing == std::vector<std::int64_t>{1, 3});
        const Bytes* raw = last_raw_of_type(link.daemon, "nack");
        REQUIRE(raw != nullptr);
        CHECK(raw->size() >= nack_min_bytes(2, 1200));  // 240 bytes for two fragments of 1,200
        CHECK(raw->size() <= nack_min_bytes(2, 1200) + 16);  // and not much more
    }
}

TEST_CASE("a nack asks for at most 39000 / max_datagram fragments (32 at 1,200 bytes)") {
    Link link;
    REQUIRE(link.connect());
    const std::vector<Bytes> fragments = link.daemon.frame(11, jpeg_like(60000));
    REQUIRE(fragments.size() > 40);
    link.deliver_to_client(fragments.back());
    link.advance(30 * kMillisecond);
    REQUIRE_FALSE(link.daemon.all<msg::Nack>().empty());
    CHECK(link.daemon.all<msg::Nack>()[0]->missing.size() == 32);
    const Bytes* raw = last_raw_of_type(link.daemon, "nack");
    REQUIRE(raw != nullptr);
    CHECK(raw->size() < 3900 + 100);
}

TEST_CASE("a start the daemon rate-limits is resent after at least a second instead of failing") {
    Link link;
    REQUIRE(link.connect());
    bool limited = false;
    link.drop_to_client = [&](const Bytes& datagram) {
        if (!limited && is_type(datagram, "started")) {
            limited = true;
            return true;  // the daemon's budget dropped the start: it answers rate_limited instead
        }
        return false;
    };
    REQUIRE(link.client.start_from_text(link.now, "a harbour at night").ok());
    link.transfer();
    REQUIRE(link.daemon.all<msg::Start>().size() == 1);
    msg::Error error;
    error.code = "rate_limited";
    error.message = "starts arrive too fast; wait a second and resend";
    error.ref = link.daemon.all<msg::Start>()[0]->seq;
    link.deliver_to_client(link.daemon.make(Message(error)));
    link.transfer();
    CHECK(link.client.start_pending());
    CHECK(link.events_of<ev::Error>().empty());
    CHECK(link.client.stats().rate_limited == 1);
    link.advance(999 * kMillisecond);
    CHECK(link.daemon.all<msg::Start>().size() == 1);
    link.advance(2 * kSecond);
    CHECK(link.daemon.all<msg::Start>().size() == 2);
    CHECK_FALSE(link.client.start_pending());
    CHECK(link.events_of<ev::Started>().size() == 1);
}

// The client session state machine (Client.hpp) against the fake daemon, on a fake clock.
#include "fake_daemon.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace yumebridge;
using namespace yumebridge::testing;

namespace {

Bytes jpeg_like(std::size_t size, std::uint8_t seed = 1) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::uint8_t>((i * 31 + seed) & 0xFF);
    }
    return out;
}

template <class T>
std::size_t count_sent(const FakeDaemon& daemon) {
    return daemon.all<T>().size();
}

}  // namespace

TEST_CASE("handshake: hello, retry with cookie, hello with cookie, welcome") {
    for (Encoding encoding : {Encoding::MsgPack, Encoding::Json}) {
        ClientConfig config;
        config.encoding = encoding;
        config.engine = "Unreal 5.4";
        Link link(config);
        REQUIRE(link.connect());
        const auto hellos = link.daemon.all<msg::Hello>();
        REQUIRE(hellos.size() == 2);
        CHECK_FALSE(hellos[0]->cookie.has_value());
        REQUIRE(hellos[1]->cookie.has_value());
        CHECK(hellos[0]->nonce == hellos[1]->nonce);
        CHECK_FALSE(hellos[1]->auth.has_value());
        CHECK(hellos[0]->engine == "Unreal 5.4");
        CHECK(hellos[0]->client == "yume-bridge-unreal");
        // Both hellos are long enough for the daemon's pre-validation answers (SPEC §3.1).
        CHECK(link.daemon.raw_received[0].size() >= 256);
        CHECK(link.daemon.raw_received[1].size() >= 256);
        CHECK(link.daemon.encoding() == encoding);
        CHECK(link.client.session() == 0x1234);
        CHECK_FALSE(link.client.authenticated());
        const auto connected = link.events_of<ev::Connected>();
        REQUIRE(connected.size() == 1);
        CHECK(connected[0].welcome.width == 64);
        CHECK(connected[0].welcome.has_capability("nack"));
        // Right after the welcome the client measures the round trip and sends its input.
        CHECK(count_sent<msg::Ping>(link.daemon) == 1);
        CHECK(count_sent<msg::Input>(link.daemon) == 1);
        CHECK(link.events_of<ev::RoundTrip>().size() == 1);
    }
}

TEST_CASE("session seq starts at 1 and grows by one per datagram") {
    Link link;
    REQUIRE(link.connect());
    link.advance(3 * kSecond);
    std::vector<std::uint32_t> seqs;
    for (const Message& m : link.daemon.received) {
        if (const std::optional<SessionFields> fields = session_fields(m)) {
            seqs.push_back(fields->seq);
        }
    }
    REQUIRE(seqs.size() > 5);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        CHECK(seqs[i] == i + 1);
    }
}

TEST_CASE("hello is retransmitted after 250 ms, doubling to 2 s, and the client gives up after 10 s") {
    Link link;
    link.drop_to_daemon = [](const Bytes&) { return true; };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    const Time start = link.now;
    std::vector<Time> sends{0};
    link.client.datagrams_to_send();
    for (int i = 0; i < 100 && link.client.state() == ConnectionState::Handshaking; ++i) {
        const Time timer = *link.client.get_timer();
        link.now = timer;
        link.client.handle_timer(link.now);
        if (!link.client.datagrams_to_send().empty()) {
            sends.push_back(link.now - start);
        }
    }
    const std::vector<Time> expected{0, 250 * kMillisecond, 750 * kMillisecond, 1750 * kMillisecond,
                                     3750 * kMillisecond, 5750 * kMillisecond, 7750 * kMillisecond, 9750 * kMillisecond};
    CHECK(sends == expected);
    CHECK(link.client.state() == ConnectionState::Closed);
    CHECK(link.now - start == 10 * kSecond);
    link.transfer();
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::DaemonUnreachable);
    CHECK(closed[0].message.find("is the daemon running") != std::string::npos);
}

TEST_CASE("a lost retry or welcome is recovered by retransmitting the hello") {
    Link link;
    int retries_dropped = 0;
    int welcomes_dropped = 0;
    link.drop_to_client = [&](const Bytes& d) {
        if (is_type(d, "retry") && retries_dropped < 2) {
            ++retries_dropped;
            return true;
        }
        if (is_type(d, "welcome") && welcomes_dropped < 1) {
            ++welcomes_dropped;
            return true;
        }
        return false;
    };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    link.advance(3 * kSecond);
    CHECK(link.client.connected());
    CHECK(retries_dropped == 2);
    CHECK(welcomes_dropped == 1);
    CHECK(link.events_of<ev::Connected>().size() == 1);
}

TEST_CASE("a daemon that requires a token is refused clearly when the client has none") {
    FakeDaemonOptions options;
    options.token = "secret";
    Link link({}, options);
    CHECK_FALSE(link.connect());
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::AuthRequired);
    CHECK(closed[0].message.find("token") != std::string::npos);
    CHECK(link.daemon.all<msg::Hello>().size() == 1);  // no second hello without a token
}

TEST_CASE("with the right token the session is authenticated and tagged both ways") {
    FakeDaemonOptions options;
    options.token = "correct horse battery staple";
    ClientConfig config;
    config.token = options.token;
    Link link(config, options);
    REQUIRE(link.connect());
    CHECK(link.client.authenticated());
    const auto hellos = link.daemon.all<msg::Hello>();
    REQUIRE(hellos.size() == 2);
    REQUIRE(hellos[1]->auth.has_value());
    // Every session datagram the client sent carries a valid tag (the daemon drops the rest).
    link.advance(2 * kSecond);
    CHECK(link.daemon.dropped_bad_tag == 0);
    CHECK(count_sent<msg::Ping>(link.daemon) >= 2);
    for (const Bytes& raw : link.daemon.raw_received) {
        Result<DecodedControl> decoded = decode_control(raw);
        REQUIRE(decoded.ok());
        if (session_fields(decoded->message)) {
            CHECK(decoded->tag.has_value());
        }
    }
    CHECK(link.events_of<ev::RoundTrip>().size() >= 2);
}

TEST_CASE("a wrong token ends the handshake with auth_failed and a clear message") {
    FakeDaemonOptions options;
    options.token = "right";
    ClientConfig config;
    config.token = "wrong";
    Link link(config, options);
    CHECK_FALSE(link.connect());
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::AuthFailed);
    CHECK(closed[0].message.find("rejected the token") != std::string::npos);
    CHECK(closed[0].message.find("wrong token") != std::string::npos);  // the daemon's own words
}

TEST_CASE("a welcome with a forged tag is dropped and the handshake times out") {
    FakeDaemonOptions options;
    options.token = "t";
    options.corrupt_welcome_tag = true;
    ClientConfig config;
    config.token = "t";
    Link link(config, options);
    CHECK_FALSE(link.connect());
    CHECK(link.client.stats().dropped_unauthenticated >= 1);
    link.advance(11 * kSecond);
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::DaemonUnreachable);
    CHECK(closed[0].message.find("answered the hello but never accepted") != std::string::npos);
}

TEST_CASE("require_authentication refuses a daemon without a token") {
    ClientConfig config;
    config.require_authentication = true;
    Link link(config);
    CHECK_FALSE(link.connect());
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::AuthRequired);
}

TEST_CASE("a welcome for another protocol version ends the handshake with a version message") {
    FakeDaemonOptions options;
    options.protocol = 2;
    Link link({}, options);
    CHECK_FALSE(link.connect());
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::UnsupportedVersion);
    CHECK(closed[0].message.find("protocol 2") != std::string::npos);
}

TEST_CASE("an unsupported_version error during the handshake is reported with the daemon's words") {
    Link link;
    link.drop_to_daemon = [](const Bytes&) { return true; };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    link.client.datagrams_to_send();
    msg::Error error;
    error.code = "unsupported_version";
    error.message = "this daemon speaks protocol 3";
    link.client.receive_datagram(encode_body(Message(error), Encoding::Json), link.now);
    link.transfer();
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::UnsupportedVersion);
    CHECK(closed[0].message.find("speaks protocol 3") != std::string::npos);
}

TEST_CASE("replayed, untagged and foreign datagrams are dropped") {
    FakeDaemonOptions options;
    options.token = "k";
    ClientConfig config;
    config.token = "k";
    Link link(config, options);
    REQUIRE(link.connect());
    const Bytes status = link.daemon.status();
    link.client.receive_datagram(status, link.now);
    link.client.receive_datagram(status, link.now);  // replay
    CHECK(link.client.stats().dropped_replayed == 1);
    // The same status without its tag.
    Bytes untagged(status.begin(), status.end() - 16);
    link.daemon.rewind_seq(link.daemon.next_seq() + 5);
    link.client.receive_datagram(untagged, link.now);
    CHECK(link.client.stats().dropped_unauthenticated == 1);
    // A tag from another key.
    Bytes wrong_tag = link.daemon.status();
    wrong_tag.back() ^= 1;
    link.client.receive_datagram(wrong_tag, link.now);
    CHECK(link.client.stats().dropped_unauthenticated == 2);
    // Another session.
    msg::Status other;
    other.session = 99;
    other.seq = 1000;
    other.state = "ready";
    link.client.receive_datagram(encode_body(Message(other), Encoding::MsgPack), link.now);
    CHECK(link.client.stats().dropped_other_session == 1);
    // Far behind the highest seq seen.
    link.daemon.rewind_seq(1000);
    link.client.receive_datagram(link.daemon.status(), link.now);
    link.daemon.rewind_seq(900);
    link.client.receive_datagram(link.daemon.status(), link.now);
    CHECK(link.client.stats().dropped_replayed == 2);
    link.transfer();
    CHECK(link.events_of<ev::StatusReport>().size() == 2);
}

TEST_CASE("an image upload is split to fit max_datagram, windowed, resent on loss, then started") {
    for (Encoding encoding : {Encoding::MsgPack, Encoding::Json}) {
        ClientConfig config;
        config.encoding = encoding;
        FakeDaemonOptions options;
        options.max_datagram = 600;
        Link link(config, options);
        REQUIRE(link.connect());
        const Bytes image = jpeg_like(60000, 3);
        int dropped = 0;
        link.drop_to_daemon = [&](const Bytes& d) {
            if (is_type(d, "upload") && dropped < 5 && (link.to_daemon % 7) == 0) {
                ++dropped;
                return true;
            }
            return false;
        };
        Result<Digest> hash = link.client.start_from_image(link.now, image, "a quiet harbour", 1234u);
        REQUIRE(hash.ok());
        link.advance(5 * kSecond);
        CHECK(dropped == 5);
        for (const Bytes& raw : link.daemon.raw_received) {
            if (is_type(raw, "upload")) {
                CHECK(raw.size() <= 600);
            }
        }
        CHECK(link.daemon.upload_buffer == image);
        const auto complete = link.events_of<ev::UploadComplete>();
        REQUIRE(complete.size() == 1);
        CHECK(complete[0].hash == hash.value());
        const auto starts = link.daemon.all<msg::Start>();
        REQUIRE(starts.size() == 1);
        CHECK(starts[0]->source == "image");
        CHECK(starts[0]->prompt == "a quiet harbour");
        CHECK(*starts[0]->seed == 1234u);
        CHECK(Bytes(hash->begin(), hash->end()) == *starts[0]->image);
        const auto started = link.events_of<ev::Started>();
        REQUIRE(started.size() == 1);
        CHECK(started[0].world == 1);
        CHECK(started[0].seed == 1234u);
        CHECK_FALSE(started[0].inferred);
        CHECK_FALSE(link.client.upload_in_progress());
        const auto progress = link.events_of<ev::UploadProgress>();
        REQUIRE_FALSE(progress.empty());
        CHECK(progress.back().received == 60000);
    }
}

TEST_CASE("the upload window keeps at most 32 pieces in flight and resends them after 500 ms") {
    FakeDaemonOptions options;
    options.max_datagram = 600;
    Link link({}, options);
    REQUIRE(link.connect());
    std::size_t uploads_seen = 0;
    link.drop_to_daemon = [&](const Bytes& d) {  // nothing is acknowledged
        const bool upload = is_type(d, "upload");
        uploads_seen += upload ? 1 : 0;
        return upload;
    };
    REQUIRE(link.client.upload_image(link.now, jpeg_like(100000)).ok());
    link.transfer();
    CHECK(uploads_seen == 32);
    link.advance(499 * kMillisecond);
    CHECK(uploads_seen == 32);  // no new piece while 32 are unacknowledged, no resend before 500 ms
    link.advance(1 * kMillisecond);
    CHECK(uploads_seen == 64);  // the 32 in flight are resent, nothing more
}

TEST_CASE("an upload that makes no progress fails after 10 s and cancels the start waiting for it") {
    Link link;
    REQUIRE(link.connect());
    link.drop_to_daemon = [](const Bytes& d) { return is_type(d, "upload"); };
    REQUIRE(link.client.start_from_image(link.now, jpeg_like(5000)).ok());
    link.advance(11 * kSecond);
    CHECK(link.client.connected());
    const auto errors = link.events_of<ev::Error>();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].code == ErrorCode::StartFailed);
    CHECK(errors[1].code == ErrorCode::UploadFailed);
    CHECK(errors[1].context == ErrorContext::Upload);
    CHECK(count_sent<msg::Start>(link.daemon) == 0);
}

TEST_CASE("an upload_mismatch error ends the upload and its pending start") {
    Link link;
    REQUIRE(link.connect());
    // Corrupt one byte of the first piece on the way.
    link.drop_to_daemon = nullptr;
    bool corrupted = false;
    const Bytes image = jpeg_like(3000);
    REQUIRE(link.client.start_from_image(link.now, image).ok());
    std::vector<Bytes> outgoing = link.client.datagrams_to_send();
    for (Bytes& datagram : outgoing) {
        if (!corrupted && is_type(datagram, "upload")) {
            Result<DecodedControl> decoded = decode_control(datagram);
            msg::Upload upload = std::get<msg::Upload>(decoded->message);
            upload.data[0] ^= 0xFF;
            datagram = encode_body(Message(upload), Encoding::MsgPack);
            corrupted = true;
        }
        for (const Bytes& answer : link.daemon.receive(datagram, link.now)) {
            link.client.receive_datagram(answer, link.now);
        }
    }
    link.transfer();
    REQUIRE(corrupted);
    const auto errors = link.events_of<ev::Error>();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].code == ErrorCode::StartFailed);
    CHECK(errors[1].code == ErrorCode::UploadMismatch);
    CHECK_FALSE(link.client.upload_in_progress());
    CHECK_FALSE(link.client.start_pending());
}

TEST_CASE("start from text is retransmitted when started is lost, and confirmed") {
    Link link;
    REQUIRE(link.connect());
    int dropped = 0;
    link.drop_to_client = [&](const Bytes& d) {
        if (is_type(d, "started") && dropped == 0) {
            ++dropped;
            return true;
        }
        return false;
    };
    REQUIRE(link.client.start_from_text(link.now, "a lighthouse on a cliff at dusk").ok());
    link.transfer();
    CHECK(link.client.start_pending());
    link.advance(1499 * kMillisecond);
    CHECK(count_sent<msg::Start>(link.daemon) == 1);
    link.advance(2 * kMillisecond);
    CHECK(count_sent<msg::Start>(link.daemon) == 2);
    CHECK_FALSE(link.client.start_pending());
    const auto started = link.events_of<ev::Started>();
    REQUIRE(started.size() == 1);
    CHECK(started[0].world == 2);
    CHECK(started[0].source == "text");
}

TEST_CASE("an unconfirmed start fails after 10 s, but not while the model is still loading") {
    Link link;
    REQUIRE(link.connect());
    link.drop_to_daemon = [](const Bytes& d) { return is_type(d, "start"); };
    REQUIRE(link.client.start_from_text(link.now, "a desert").ok());
    for (int second = 0; second < 15; ++second) {
        link.advance(1 * kSecond);
        link.deliver_to_client(link.daemon.status("loading"));
    }
    link.transfer();
    CHECK(link.client.start_pending());
    CHECK(link.events_of<ev::Error>().empty());
    CHECK(count_sent<msg::Start>(link.daemon) == 0);  // all lost, retransmitted with backoff
    link.advance(10 * kSecond);
    CHECK_FALSE(link.client.start_pending());
    const auto errors = link.events_of<ev::Error>();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::StartFailed);
    CHECK(errors[0].context == ErrorContext::Start);
}

TEST_CASE("configuration requested while handshaking is merged and sent once") {
    Link link;
    link.drop_to_client = [](const Bytes&) { return true; };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    REQUIRE(link.client.configure(link.now, 60, std::nullopt, std::nullopt).ok());
    REQUIRE(link.client.configure(link.now, std::nullopt, 24.0, std::nullopt).ok());
    link.drop_to_client = nullptr;
    link.advance(300 * kMillisecond);
    REQUIRE(link.client.connected());
    const auto configs = link.daemon.all<msg::Config>();
    REQUIRE(configs.size() == 1);
    CHECK(configs[0]->quality == std::optional<std::int64_t>(60));
    CHECK(configs[0]->fps == std::optional<double>(24.0));
    CHECK_FALSE(configs[0]->paused.has_value());
}

TEST_CASE("a lost started is inferred from a status showing the new world") {
    Link link;
    REQUIRE(link.connect());
    link.drop_to_client = [](const Bytes& d) { return is_type(d, "started"); };
    REQUIRE(link.client.start_default(link.now).ok());
    link.transfer();
    CHECK(link.client.start_pending());
    link.deliver_to_client(link.daemon.status());
    link.transfer();
    CHECK_FALSE(link.client.start_pending());
    const auto started = link.events_of<ev::Started>();
    REQUIRE(started.size() == 1);
    CHECK(started[0].inferred);
    CHECK(started[0].world == 1);
    CHECK(count_sent<msg::Start>(link.daemon) == 1);
}

TEST_CASE("a start of an image the daemon forgot in between uploads it again, once") {
    Link link;
    REQUIRE(link.connect());
    const Bytes image = jpeg_like(2000, 9);
    REQUIRE(link.client.start_from_image(link.now, image).ok());
    bool forgot = false;
    link.drop_to_daemon = [&](const Bytes& d) {
        if (is_type(d, "start") && !forgot) {  // the daemon's cache drops the image just before the start
            link.daemon.cached_images.clear();
            link.daemon.upload_hash.clear();
            forgot = true;
        }
        return false;
    };
    link.transfer();
    CHECK(forgot);
    CHECK(link.events_of<ev::Started>().size() == 1);
    CHECK(link.events_of<ev::Error>().empty());
    CHECK(link.events_of<ev::UploadComplete>().size() == 2);
    CHECK(count_sent<msg::Start>(link.daemon) == 2);
    // A second unknown_image for the same start is reported, not retried forever.
    Link again;
    REQUIRE(again.connect());
    REQUIRE(again.client.start_from_image(again.now, image).ok());
    again.drop_to_daemon = [&](const Bytes& d) {
        if (is_type(d, "start")) {
            again.daemon.cached_images.clear();
            again.daemon.upload_hash.clear();
        }
        return false;
    };
    again.transfer();
    CHECK(count_sent<msg::Start>(again.daemon) == 2);
    const auto errors = again.events_of<ev::Error>();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::UnknownImage);
    CHECK(errors[0].context == ErrorContext::Start);
    CHECK_FALSE(again.client.start_pending());
}

TEST_CASE("event prompts are retransmitted until acknowledged") {
    Link link;
    REQUIRE(link.connect());
    int dropped = 0;
    link.drop_to_daemon = [&](const Bytes& d) {
        if (is_type(d, "event") && dropped < 2) {
            ++dropped;
            return true;
        }
        return false;
    };
    Result<std::uint32_t> id = link.client.send_event(link.now, "a dragon circles the tower");
    REQUIRE(id.ok());
    CHECK(id.value() == 1);
    link.transfer();
    CHECK(link.client.event_pending(1));
    link.advance(499 * kMillisecond);
    CHECK(dropped == 1);
    link.advance(1 * kMillisecond);  // 500 ms: second try, also lost
    CHECK(dropped == 2);
    link.advance(999 * kMillisecond);
    CHECK(link.client.event_pending(1));
    link.advance(1 * kMillisecond);  // 1500 ms: third try, acknowledged
    CHECK_FALSE(link.client.event_pending(1));
    const auto acks = link.events_of<ev::EventAcknowledged>();
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].id == 1);
    CHECK(acks[0].active == std::vector<std::uint32_t>{1});
    link.advance(5 * kSecond);
    CHECK(count_sent<msg::Event>(link.daemon) == 1);
    // Clearing it is an event with empty text.
    REQUIRE(link.client.set_event(link.now, 1, "").ok());
    link.transfer();
    REQUIRE(link.events_of<ev::EventAcknowledged>().size() == 2);
    CHECK(link.events_of<ev::EventAcknowledged>()[1].active.empty());
    Result<std::uint32_t> next = link.client.send_event(link.now, "rain");
    CHECK(next.value() == 2);
}

TEST_CASE("an event replaced before its ack is confirmed by one more send of the newest text") {
    Link link;
    REQUIRE(link.connect());
    bool hold = true;
    std::vector<Bytes> held;
    link.drop_to_daemon = [&](const Bytes& d) {
        if (hold && is_type(d, "event")) {
            held.push_back(d);
            return true;
        }
        return false;
    };
    Result<std::uint32_t> id = link.client.send_event(link.now, "first");
    REQUIRE(id.ok());
    link.transfer();
    REQUIRE(link.client.set_event(link.now, id.value(), "second").ok());
    link.transfer();
    REQUIRE(held.size() == 2);
    // Only the first text reaches the daemon; its ack must not count for "second".
    hold = false;
    for (const Bytes& answer : link.daemon.receive(held[0], link.now)) {
        link.deliver_to_client(answer);
    }
    link.transfer();
    CHECK(link.daemon.active_events.at(id.value()) == "second");  // the confirming send arrived
    const auto acks = link.events_of<ev::EventAcknowledged>();
    REQUIRE(acks.size() == 1);
    CHECK_FALSE(link.client.event_pending(id.value()));
    const auto events = link.daemon.all<msg::Event>();
    REQUIRE(events.size() == 2);
    CHECK(events[1]->text == "second");
}

TEST_CASE("an event the daemon rejects stops being retransmitted and is reported with its id") {
    FakeDaemonOptions options;
    options.limits.max_event_chars = 10;  // the daemon is stricter than the welcome says
    Link link({}, options);
    REQUIRE(link.connect());
    link.daemon.options().limits.max_event_chars = 3;
    Result<std::uint32_t> id = link.client.send_event(link.now, "too long");
    REQUIRE(id.ok());
    link.transfer();
    CHECK_FALSE(link.client.event_pending(id.value()));
    const auto errors = link.events_of<ev::Error>();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].code == ErrorCode::TextTooLong);
    CHECK(errors[0].context == ErrorContext::Event);
    REQUIRE(errors[0].event_id.has_value());
    CHECK(*errors[0].event_id == id.value());
    link.advance(3 * kSecond);
    CHECK(count_sent<msg::Event>(link.daemon) == 1);
}

TEST_CASE("texts over the welcome's limits are refused before sending") {
    FakeDaemonOptions options;
    options.limits.max_event_chars = 5;
    options.limits.max_prompt_chars = 8;
    Link link({}, options);
    REQUIRE(link.connect());
    CHECK(link.client.send_event(link.now, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());  // 5 code points
    CHECK(link.client.send_event(link.now, "123456").code() == ErrorCode::TextTooLong);
    CHECK(link.client.send_event(link.now, "\xff").code() == ErrorCode::InvalidArgument);
    CHECK(link.client.start_from_text(link.now, "123456789").code() == ErrorCode::TextTooLong);
    CHECK(link.client.start_from_text(link.now, "").code() == ErrorCode::InvalidArgument);
    // A prompt within the character limit that does not fit one control datagram.
    FakeDaemonOptions big;
    big.limits.max_prompt_chars = 1000;
    Link emoji({}, big);
    REQUIRE(emoji.connect());
    std::string prompt;
    for (int i = 0; i < 1000; ++i) {
        prompt += "\xf0\x9f\x90\x89";  // U+1F409, 4 bytes
    }
    CHECK(emoji.client.start_from_text(emoji.now, prompt).code() == ErrorCode::DatagramTooLarge);
}

TEST_CASE("input is sent on change and as a heartbeat every 500 ms, axes clamped, keys kept") {
    Link link;
    REQUIRE(link.connect());
    const std::size_t after_connect = count_sent<msg::Input>(link.daemon);
    link.advance(20 * kMillisecond);
    InputState walk;
    walk.move = {0.0, 1.0};
    walk.keys = {"KeyW"};
    link.client.set_input(link.now, walk);
    link.transfer();
    REQUIRE(count_sent<msg::Input>(link.daemon) == after_connect + 1);
    const msg::Input* last = link.daemon.all<msg::Input>().back();
    CHECK(last->move[1] == 1.0);
    CHECK(last->keys == std::vector<std::string>{"KeyW"});
    // The same input again sends nothing new; changes within 10 ms wait for the minimum interval.
    link.client.set_input(link.now, walk);
    InputState turn = walk;
    turn.look = {5.0, std::nan("")};  // clamped to 1, NaN to 0
    link.client.set_input(link.now + kMillisecond, turn);
    link.transfer();
    CHECK(count_sent<msg::Input>(link.daemon) == after_connect + 1);
    link.advance(10 * kMillisecond);
    REQUIRE(count_sent<msg::Input>(link.daemon) == after_connect + 2);
    last = link.daemon.all<msg::Input>().back();
    CHECK(last->look[0] == 1.0);
    CHECK(last->look[1] == 0.0);
    // Heartbeats keep the newest input alive.
    link.advance(2 * kSecond);
    CHECK(count_sent<msg::Input>(link.daemon) == after_connect + 2 + 4);
    CHECK(link.daemon.all<msg::Input>().back()->look[0] == 1.0);
}

TEST_CASE("ping every second gives a smoothed round-trip time") {
    Link link;
    REQUIRE(link.connect());
    link.advance(3 * kSecond);
    CHECK(count_sent<msg::Ping>(link.daemon) == 4);
    REQUIRE(link.client.smoothed_rtt().has_value());
    CHECK(*link.client.smoothed_rtt() == 0);  // the fake link has no delay
}

TEST_CASE("a silent daemon ends the session after idle_timeout_ms") {
    FakeDaemonOptions options;
    options.limits.idle_timeout_ms = 4000;
    Link link({}, options);
    REQUIRE(link.connect());
    link.drop_to_client = [](const Bytes&) { return true; };
    link.advance(3999 * kMillisecond);
    CHECK(link.client.connected());
    link.advance(1 * kMillisecond);
    CHECK(link.client.state() == ConnectionState::Closed);
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::DaemonSilent);
    CHECK(link.daemon.closed);  // the client still said bye
}

TEST_CASE("a bye from the daemon closes the session") {
    Link link;
    REQUIRE(link.connect());
    msg::Bye bye;
    bye.reason = "shutdown";
    link.deliver_to_client(link.daemon.make(Message(bye)));
    link.transfer();
    CHECK(link.client.state() == ConnectionState::Closed);
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::ShuttingDown);
    CHECK(closed[0].reason == "shutdown");
    CHECK_FALSE(link.client.get_timer().has_value());
}

TEST_CASE("close sends bye and the client can connect again") {
    Link link;
    REQUIRE(link.connect());
    link.client.close(link.now);
    link.transfer();
    CHECK(link.daemon.closed);
    CHECK(count_sent<msg::Bye>(link.daemon) == 1);
    CHECK(link.daemon.all<msg::Bye>()[0]->reason == "client");
    REQUIRE(link.events_of<ev::Closed>().size() == 1);
    CHECK(link.events_of<ev::Closed>()[0].code == ErrorCode::Ok);
    link.daemon.closed = false;
    CHECK(link.connect());
}

TEST_CASE("a fatal error from the daemon closes the session") {
    Link link;
    REQUIRE(link.connect());
    msg::Error error;
    error.code = "shutting_down";
    error.message = "the daemon is stopping";
    error.fatal = true;
    link.deliver_to_client(link.daemon.make(Message(error)));
    link.transfer();
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::ShuttingDown);
    CHECK(closed[0].message.find("the daemon is stopping") != std::string::npos);
}

TEST_CASE("unknown_session ends an unauthenticated session at once") {
    Link link;
    REQUIRE(link.connect());
    link.daemon.closed = true;  // as if the daemon restarted
    link.advance(1 * kSecond);
    const auto closed = link.events_of<ev::Closed>();
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].code == ErrorCode::UnknownSession);
    CHECK(closed[0].message.find("connect again") != std::string::npos);
}

TEST_CASE("an untagged unknown_session in an authenticated session needs confirmation by silence") {
    FakeDaemonOptions options;
    options.token = "tok";
    ClientConfig config;
    config.token = "tok";
    Link link(config, options);
    REQUIRE(link.connect());
    msg::Error forged;
    forged.code = "unknown_session";
    forged.message = "forged";
    // Forged while the daemon is alive: tagged statuses keep coming, nothing happens.
    link.deliver_to_client(encode_body(Message(forged), Encoding::MsgPack));
    for (int i = 0; i < 5; ++i) {
        link.advance(1 * kSecond);
        link.deliver_to_client(link.daemon.status());
    }
    CHECK(link.client.connected());
    // Real: the daemon is gone and says so, untagged; the session ends after the grace period.
    link.daemon.closed = true;
    link.advance(1 * kSecond);
    CHECK(link.client.connected());
    link.advance(3 * kSecond);
    CHECK(link.client.state() == ConnectionState::Closed);
    REQUIRE(link.events_of<ev::Closed>().size() == 1);
    CHECK(link.events_of<ev::Closed>()[0].code == ErrorCode::UnknownSession);
}

TEST_CASE("pause is re-sent while statuses disagree with it") {
    Link link;
    REQUIRE(link.connect());
    REQUIRE(link.client.start_default(link.now).ok());
    link.transfer();
    int dropped = 0;
    link.drop_to_daemon = [&](const Bytes& d) {
        if (is_type(d, "config") && dropped == 0) {
            ++dropped;
            return true;
        }
        return false;
    };
    REQUIRE(link.client.configure(link.now, std::nullopt, std::nullopt, true).ok());
    link.transfer();
    CHECK_FALSE(link.daemon.paused.has_value());
    link.advance(1 * kSecond);
    link.deliver_to_client(link.daemon.status("generating"));
    link.transfer();
    CHECK_FALSE(link.daemon.paused.has_value());  // too early to judge
    link.advance(1 * kSecond);
    link.deliver_to_client(link.daemon.status("generating"));
    link.transfer();
    REQUIRE(link.daemon.paused.has_value());
    CHECK(*link.daemon.paused);
    CHECK(link.client.configure(link.now, 0, std::nullopt, std::nullopt).code() == ErrorCode::ValueOutOfRange);
    CHECK(link.client.configure(link.now, std::nullopt, 500.0, std::nullopt).code() == ErrorCode::ValueOutOfRange);
}

TEST_CASE("requests made while handshaking are sent once connected") {
    Link link;
    link.drop_to_client = [](const Bytes&) { return true; };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    link.transfer();
    REQUIRE(link.client.start_from_text(link.now, "a forest").ok());
    REQUIRE(link.client.send_event(link.now, "fog rolls in").ok());
    InputState input;
    input.move = {0.0, 1.0};
    link.client.set_input(link.now, input);
    link.transfer();
    CHECK(count_sent<msg::Start>(link.daemon) == 0);
    link.drop_to_client = nullptr;
    link.advance(300 * kMillisecond);
    REQUIRE(link.client.connected());
    CHECK(count_sent<msg::Start>(link.daemon) == 1);
    CHECK(count_sent<msg::Event>(link.daemon) == 1);
    REQUIRE(count_sent<msg::Input>(link.daemon) >= 1);
    CHECK(link.daemon.all<msg::Input>()[0]->move[1] == 1.0);
}

TEST_CASE("frames without a playout delay: the newest complete frame wins, with input-to-frame latency") {
    ClientConfig config;
    config.max_playout_delay = 0;
    Link link(config);
    REQUIRE(link.connect());
    InputState input;
    input.move = {0.0, 1.0};
    link.advance(20 * kMillisecond);
    link.client.set_input(link.now, input);
    link.transfer();
    const std::uint32_t input_seq = link.daemon.all<msg::Input>().back()->seq;
    link.advance(100 * kMillisecond);
    for (std::uint32_t frame = 0; frame < 3; ++frame) {
        for (const Bytes& fragment : link.daemon.frame(frame, jpeg_like(3000, static_cast<std::uint8_t>(frame)), input_seq, 9)) {
            link.deliver_to_client(fragment);
        }
    }
    std::optional<Connection::ReceivedFrame> frame = link.client.take_frame();
    REQUIRE(frame.has_value());
    CHECK(frame->frame.header.frame == 2);
    CHECK(frame->frame.header.action == 9);
    CHECK(frame->frame.jpeg == jpeg_like(3000, 2));
    REQUIRE(frame->input_latency.has_value());
    CHECK(*frame->input_latency == 100 * kMillisecond);
    CHECK_FALSE(link.client.take_frame().has_value());
    CHECK(link.client.frames_replaced() == 2);
    // Fragments of another session or a stale frame change nothing.
    for (const Bytes& fragment : link.daemon.frame(1, jpeg_like(3000))) {
        link.deliver_to_client(fragment);
    }
    CHECK_FALSE(link.client.take_frame().has_value());
}

TEST_CASE("a frame with a lost fragment is NACKed after 5 ms of quiet and completed by the retransmission") {
    Link link;
    REQUIRE(link.connect());
    const Bytes jpeg = jpeg_like(5000, 4);
    std::vector<Bytes> fragments = link.daemon.frame(10, jpeg);
    REQUIRE(fragments.size() == 5);
    for (std::size_t i = 0; i < fragments.size(); ++i) {
        if (i != 2) {
            link.deliver_to_client(fragments[i]);
        }
    }
    link.transfer();
    CHECK(count_sent<msg::Nack>(link.daemon) == 0);
    link.advance(4 * kMillisecond);
    CHECK(count_sent<msg::Nack>(link.daemon) == 0);
    link.advance(1 * kMillisecond);
    REQUIRE(count_sent<msg::Nack>(link.daemon) == 1);
    const msg::Nack* nack = link.daemon.all<msg::Nack>()[0];
    CHECK(nack->frame == 10);
    CHECK(nack->missing == std::vector<std::int64_t>{2});
    Bytes retransmission = fragments[2];
    retransmission[3] |= kFlagRetransmission;
    link.deliver_to_client(retransmission);
    std::optional<Connection::ReceivedFrame> frame = link.client.take_frame();
    REQUIRE(frame.has_value());
    CHECK(frame->frame.jpeg == jpeg);
    link.advance(1 * kSecond);
    CHECK(count_sent<msg::Nack>(link.daemon) == 1);
}

TEST_CASE("NACKs: at once when a newer frame arrives, at most 8 per frame, none past the deadline") {
    Link link;
    REQUIRE(link.connect());
    std::vector<Bytes> old_frame = link.daemon.frame(20, jpeg_like(4000));
    link.deliver_to_client(old_frame[0]);
    link.transfer();
    CHECK(count_sent<msg::Nack>(link.daemon) == 0);
    std::vector<Bytes> new_frame = link.daemon.frame(21, jpeg_like(4000, 5));
    link.deliver_to_client(new_frame[0]);
    link.transfer();
    REQUIRE(count_sent<msg::Nack>(link.daemon) == 1);  // no 5 ms wait
    CHECK(link.daemon.all<msg::Nack>()[0]->frame == 20);
    link.advance(400 * kMillisecond);
    // Frame 20: 8 NACKs at most, 20 ms apart. Frame 21 (fragment 0 at the same time) as well. Past 300 ms: none.
    std::size_t for_20 = 0;
    std::size_t for_21 = 0;
    for (const msg::Nack* nack : link.daemon.all<msg::Nack>()) {
        for_20 += nack->frame == 20 ? 1 : 0;
        for_21 += nack->frame == 21 ? 1 : 0;
    }
    CHECK(for_20 == 8);
    CHECK(for_21 == 8);
    link.advance(2 * kSecond);
    CHECK(count_sent<msg::Nack>(link.daemon) == 16);
}

TEST_CASE("no NACK without the nack capability") {
    FakeDaemonOptions options;
    options.capabilities = {"json", "msgpack"};
    Link link({}, options);
    REQUIRE(link.connect());
    std::vector<Bytes> fragments = link.daemon.frame(3, jpeg_like(3000));
    link.deliver_to_client(fragments[0]);
    link.advance(500 * kMillisecond);
    CHECK(count_sent<msg::Nack>(link.daemon) == 0);
}

TEST_CASE("timers never fire in the past: a lossy session runs 60 s without a busy loop") {
    ClientConfig config;
    FakeDaemonOptions options;
    options.max_datagram = 700;
    Link link(config, options);
    std::mt19937 random(12345);
    std::uniform_int_distribution<int> percent(0, 99);
    link.drop_to_daemon = [&](const Bytes&) { return percent(random) < 20; };
    link.drop_to_client = [&](const Bytes&) { return percent(random) < 20; };
    REQUIRE(link.client.connect(link.now, random_nonce()).ok());
    link.advance(3 * kSecond);
    REQUIRE(link.client.connected());
    REQUIRE(link.client.start_from_image(link.now, jpeg_like(20000)).ok());
    REQUIRE(link.client.send_event(link.now, "storm").ok());
    std::uint32_t frame = 0;
    std::size_t handled = 0;
    const Time end = link.now + 60 * kSecond;
    while (link.now < end && link.client.connected()) {
        const Time step = link.now + 62500;  // 16 fps
        for (const Bytes& fragment : link.daemon.frame(frame, jpeg_like(2500, static_cast<std::uint8_t>(frame)))) {
            link.deliver_to_client(fragment);
        }
        ++frame;
        if (frame % 16 == 0) {
            link.deliver_to_client(link.daemon.status());
        }
        for (int guard = 0; guard < 1000; ++guard) {
            const std::optional<Time> timer = link.client.get_timer();
            REQUIRE(timer.has_value());
            if (*timer > step) {
                break;
            }
            link.now = (std::max)(link.now, *timer);
            link.client.handle_timer(link.now);
            ++handled;
            link.transfer();
            const std::optional<Time> after = link.client.get_timer();
            if (link.client.connected()) {
                REQUIRE(after.has_value());
                CHECK(*after > link.now);  // handling a timer moves it into the future
            }
        }
        link.now = step;
        link.client.take_frame();
    }
    CHECK(link.client.connected());
    CHECK(handled < 60 * 16 * 12);
    CHECK(link.events_of<ev::Started>().size() == 1);
    CHECK(link.events_of<ev::EventAcknowledged>().size() == 1);
    CHECK(link.client.stats().frames_taken > 200);
}

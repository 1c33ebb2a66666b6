// What the client tells the user when a session ends, and when it tries again.
#include "fake_daemon.hpp"

#include <doctest/doctest.h>

using namespace yumebridge;

TEST_CASE("an unreachable daemon is explained with its address and how to start it") {
    const Diagnosis d = diagnose(ErrorCode::DaemonUnreachable, "10.0.0.5", 47800);
    CHECK(d.summary.find("10.0.0.5:47800") != std::string::npos);
    CHECK(d.fix.find("yume-bridge serve") != std::string::npos);
    CHECK(d.retry_helps);
}

TEST_CASE("a wrong token, a missing token and another protocol version each say what to change, and retrying cannot help") {
    const Diagnosis wrong = diagnose(ErrorCode::AuthFailed, "h", 1);
    const Diagnosis missing = diagnose(ErrorCode::AuthRequired, "h", 1);
    const Diagnosis version = diagnose(ErrorCode::UnsupportedVersion, "h", 1);
    CHECK(wrong.summary.find("refused the token") != std::string::npos);
    CHECK(missing.fix.find("YUME_BRIDGE_TOKEN") != std::string::npos);
    CHECK(version.fix.find("matching releases") != std::string::npos);
    CHECK_FALSE(wrong.retry_helps);
    CHECK_FALSE(missing.retry_helps);
    CHECK_FALSE(version.retry_helps);
}

TEST_CASE("a full daemon is explained as a session limit that PIE players count against") {
    const Diagnosis d = diagnose(ErrorCode::SessionLimit, "h", 1);
    CHECK(d.fix.find("PIE") != std::string::npos);
    CHECK(d.retry_helps);
}

TEST_CASE("reconnect delays double up to the cap and start again after a successful session") {
    ReconnectBackoff backoff(BackoffConfig{kSecond, 8 * kSecond, 2.0, 0.0, 0});
    std::vector<Time> delays;
    for (int i = 0; i < 6; ++i) {
        delays.push_back(*backoff.schedule(100, ErrorCode::DaemonSilent) - 100);
    }
    CHECK(delays == std::vector<Time>{kSecond, 2 * kSecond, 4 * kSecond, 8 * kSecond, 8 * kSecond, 8 * kSecond});
    backoff.reset();
    CHECK(*backoff.schedule(0, ErrorCode::DaemonUnreachable) == kSecond);
}

TEST_CASE("jitter only ever shortens a delay, by at most its share") {
    ReconnectBackoff backoff(BackoffConfig{10 * kSecond, 10 * kSecond, 2.0, 0.25, 0});
    const Time shortest = *backoff.schedule(0, ErrorCode::DaemonUnreachable, 0.999999);
    CHECK(shortest <= 10 * kSecond);
    CHECK(shortest >= 7500 * kMillisecond);
}

TEST_CASE("no reconnect is scheduled for a refused token or when the attempts are used up") {
    ReconnectBackoff backoff(BackoffConfig{kSecond, 8 * kSecond, 2.0, 0.0, 2});
    CHECK_FALSE(backoff.schedule(0, ErrorCode::AuthFailed).has_value());
    CHECK(backoff.schedule(0, ErrorCode::DaemonUnreachable).has_value());
    CHECK(backoff.schedule(0, ErrorCode::DaemonUnreachable).has_value());
    CHECK_FALSE(backoff.schedule(0, ErrorCode::DaemonUnreachable).has_value());
}

TEST_CASE("a full daemon is retried no sooner than five seconds") {
    ReconnectBackoff backoff;
    CHECK(*backoff.schedule(0, ErrorCode::SessionLimit) >= 4 * kSecond);  // 5 s less at most 20% jitter (none here)
    CHECK(*ReconnectBackoff().schedule(0, ErrorCode::SessionLimit) == 5 * kSecond);
}

// ---- reconnecting from the close event, as the Unreal layer's OnError handlers may ----

TEST_CASE("a client that connects again while handling the Closed event keeps that new session") {
    using namespace yumebridge::testing;
    Link link;
    REQUIRE(link.connect());
    msg::Error fatal;
    fatal.code = "shutting_down";
    fatal.message = "restarting";
    fatal.fatal = true;
    link.client.receive_datagram(link.daemon.make(Message(fatal)), link.now);
    bool reconnected = false;
    while (std::optional<ClientEvent> event = link.client.next_event()) {
        if (const auto* closed = std::get_if<ev::Closed>(&*event)) {
            CHECK(closed->code == ErrorCode::ShuttingDown);
            // What a listener does from OnError: connect again at once, still inside the handler.
            REQUIRE(link.client.connect(link.now, random_nonce()).ok());
            reconnected = true;
        }
    }
    REQUIRE(reconnected);
    link.daemon.closed = false;
    link.transfer();
    CHECK(link.client.connected());
    // Nothing of the old session ends the new one later: it stays open while the daemon answers.
    link.advance(30 * kSecond);
    CHECK(link.client.connected());
    CHECK(link.events_of<ev::Closed>().empty());
}

TEST_CASE("the backoff schedules the next attempt when the new session fails as well, then resets once connected") {
    ReconnectBackoff backoff(BackoffConfig{kSecond, 30 * kSecond, 2.0, 0.0, 0});
    const Time first = *backoff.schedule(0, ErrorCode::DaemonUnreachable);
    const Time second = *backoff.schedule(first, ErrorCode::DaemonUnreachable);
    CHECK(second - first == 2 * kSecond);
    backoff.reset();  // the Connected event
    CHECK(*backoff.schedule(100 * kSecond, ErrorCode::DaemonSilent) == 101 * kSecond);
}

// The playout delay of SPEC §6.3: a frame under repair is waited for, for about as long as repairs take.
#include "fake_daemon.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <queue>
#include <random>
#include <tuple>
#include <utility>

using namespace yumebridge;
using namespace yumebridge::testing;

namespace {

constexpr std::uint32_t kSession = 7;

std::vector<Bytes> fragments(std::uint32_t frame, std::size_t size = 5000) {
    FrameHeader h;
    h.session = kSession;
    h.frame = frame;
    h.frame_in_chunk = static_cast<std::uint16_t>(frame % 29);
    h.input_seq = 1;
    return split_frame(h, Bytes(size, static_cast<std::uint8_t>(frame)), 1200);
}

Bytes resent(Bytes datagram) {
    datagram[3] |= kFlagRetransmission;
    return datagram;
}

ReassemblyLimits with_delay(Time max_playout_delay, Time frame_deadline = 300 * kMillisecond) {
    ReassemblyLimits limits;
    limits.max_playout_delay = max_playout_delay;
    limits.frame_deadline = frame_deadline;
    return limits;
}

// The numbers of the frames the reassembler shows now, oldest first.
std::vector<std::uint32_t> shown(FrameReassembler& reassembler) {
    std::vector<std::uint32_t> numbers;
    while (std::optional<CompleteFrame> frame = reassembler.take_frame()) {
        numbers.push_back(frame->header.frame);
    }
    return numbers;
}

std::vector<std::uint32_t> receive_all(FrameReassembler& reassembler, const std::vector<Bytes>& datagrams, Time now) {
    for (const Bytes& datagram : datagrams) {
        reassembler.receive(datagram, now);
    }
    return shown(reassembler);
}

std::vector<Bytes> all_but_last(std::vector<Bytes> datagrams) {
    datagrams.pop_back();
    return datagrams;
}

using Numbers = std::vector<std::uint32_t>;

struct Simulation {
    double whole = 0.0;        // the share of frames shown whole
    std::size_t idle_wakeups = 0;  // timers that fired with nothing to do: a receiver waiting on them would spin
};

// Frames sent through a lossy link whose repairs take `repair`; the sender resends what each nack asks
// for (at most twice per fragment, as SPEC §5.10 allows). The receiver sleeps until its next timer.
Simulation simulate(Time max_playout_delay, double loss, Time repair, std::uint32_t frames = 300) {
    std::mt19937 chance(11);
    std::uniform_real_distribution<double> draw(0.0, 1.0);
    FrameReassembler reassembler(kSession, with_delay(max_playout_delay));
    std::map<std::uint32_t, std::vector<Bytes>> sent;
    std::map<std::pair<std::uint32_t, std::int64_t>, int> resends;
    using Arrival = std::tuple<Time, std::uint64_t, Bytes>;  // when, order sent, datagram
    std::priority_queue<Arrival, std::vector<Arrival>, std::greater<Arrival>> arrivals;
    std::uint64_t order = 0;
    for (std::uint32_t n = 0; n < frames; ++n) {
        sent[n] = fragments(n, 60000);
        for (const Bytes& datagram : sent[n]) {
            if (draw(chance) >= loss) {
                ++order;
                arrivals.emplace(static_cast<Time>(n) * kSecond / 30 + static_cast<Time>(order), order, datagram);
            }
        }
    }
    std::size_t whole = 0;
    std::size_t idle = 0;
    Time now = 0;
    while (!arrivals.empty()) {
        Time wake = std::get<0>(arrivals.top());
        for (const std::optional<Time> timer : {reassembler.next_nack_time(), reassembler.next_release_time()}) {
            wake = timer ? (std::min)(wake, *timer) : wake;
        }
        now = (std::max)(now + 1, wake);  // time moves on: a wake-up already due is served now
        bool busy = false;
        while (!arrivals.empty() && std::get<0>(arrivals.top()) <= now) {
            reassembler.receive(std::get<2>(arrivals.top()), now);
            arrivals.pop();
            whole += shown(reassembler).size();
            busy = true;
        }
        const std::size_t held = reassembler.held_frames();
        reassembler.release(now);
        whole += shown(reassembler).size();
        const std::vector<NackRequest> nacks = reassembler.poll_nacks(now);
        idle += busy || held != reassembler.held_frames() || !nacks.empty() ? 0 : 1;
        for (const NackRequest& request : nacks) {
            for (const std::int64_t index : request.missing) {
                if (++resends[{request.frame, index}] <= 2 && draw(chance) >= loss) {
                    ++order;
                    arrivals.emplace(now + repair, order, resent(sent[request.frame][static_cast<std::size_t>(index)]));
                }
            }
        }
    }
    reassembler.release(now + kSecond);
    whole += shown(reassembler).size();
    return {static_cast<double>(whole) / frames, idle};
}

}  // namespace

TEST_CASE("a frame completing behind one under repair waits, and both are shown in order") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond));
    const std::vector<Bytes> first = fragments(1);
    CHECK(receive_all(reassembler, all_but_last(first), 0).empty());
    const std::vector<NackRequest> nacks = reassembler.poll_nacks(6 * kMillisecond);
    REQUIRE(nacks.size() == 1);
    CHECK(nacks[0].missing == std::vector<std::int64_t>{static_cast<std::int64_t>(first.size() - 1)});
    CHECK(receive_all(reassembler, fragments(2), 10 * kMillisecond).empty());  // held, not shown over frame 1
    CHECK(reassembler.held_frames() == 1);
    CHECK(receive_all(reassembler, {resent(first.back())}, 40 * kMillisecond) == Numbers{1, 2});
}

TEST_CASE("a held frame is shown when the repair takes longer than the delay, and the older one is dropped") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond));
    const std::vector<Bytes> first = fragments(1);
    receive_all(reassembler, all_but_last(first), 0);
    reassembler.poll_nacks(6 * kMillisecond);
    CHECK(receive_all(reassembler, fragments(2), 10 * kMillisecond).empty());
    CHECK(reassembler.next_release_time() == std::optional<Time>(10 * kMillisecond + RepairClock::kInitialDelay));
    reassembler.release(60 * kMillisecond);
    CHECK(shown(reassembler).empty());
    reassembler.release(10 * kMillisecond + RepairClock::kInitialDelay);
    CHECK(shown(reassembler) == Numbers{2});
    CHECK(reassembler.incomplete_frames() == 0);
    CHECK(reassembler.receive(resent(first.back()), 200 * kMillisecond) == FragmentOutcome::Stale);  // too late
    CHECK(shown(reassembler).empty());
    CHECK(reassembler.newest_shown() == std::optional<std::uint32_t>(2));
}

TEST_CASE("without a playout delay the newest complete frame is shown at once") {
    FrameReassembler reassembler(kSession);
    receive_all(reassembler, all_but_last(fragments(1)), 0);
    CHECK(receive_all(reassembler, fragments(2), 10 * kMillisecond) == Numbers{2});
    CHECK(reassembler.stats().frames_held == 0);
}

TEST_CASE("a frame completing while frames are held waits with them, and all are shown in frame order") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond));
    receive_all(reassembler, all_but_last(fragments(1)), 0);
    receive_all(reassembler, all_but_last(fragments(2)), 0);
    CHECK(receive_all(reassembler, fragments(3), 10 * kMillisecond).empty());
    CHECK(receive_all(reassembler, {fragments(2).back()}, 50 * kMillisecond).empty());  // behind frame 1's repair
    CHECK(reassembler.next_release_time() == std::optional<Time>(10 * kMillisecond + RepairClock::kInitialDelay));
    reassembler.release(10 * kMillisecond + RepairClock::kInitialDelay);  // frame 3's delay is over
    CHECK(shown(reassembler) == Numbers{2, 3});
}

TEST_CASE("a frame lost whole holds nothing back") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond));
    CHECK(receive_all(reassembler, fragments(2), 0) == Numbers{2});  // frame 1 never arrived
}

TEST_CASE("a frame no longer asked for holds nothing back") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond, 50 * kMillisecond));
    receive_all(reassembler, all_but_last(fragments(1)), 0);
    CHECK(receive_all(reassembler, fragments(2), 100 * kMillisecond) == Numbers{2});  // past frame 1's deadline
}

TEST_CASE("held frames are bounded, and past the bound the frame under repair is given up") {
    FrameReassembler reassembler(kSession, with_delay(10 * kSecond));
    const std::uint32_t most = static_cast<std::uint32_t>(reassembler.limits().max_held_frames);
    receive_all(reassembler, all_but_last(fragments(1)), 0);
    for (std::uint32_t n = 2; n < most + 2; ++n) {
        CHECK(receive_all(reassembler, fragments(n), 10 * kMillisecond).empty());
    }
    CHECK(reassembler.held_frames() == most);
    Numbers expected;
    for (std::uint32_t n = 2; n < most + 3; ++n) {
        expected.push_back(n);
    }
    CHECK(receive_all(reassembler, fragments(most + 2), 10 * kMillisecond) == expected);  // frame 1 given up
    CHECK(reassembler.incomplete_frames() == 0);
    CHECK(reassembler.held_frames() == 0);
}

TEST_CASE("the playout delay follows the measured repair time and never exceeds the limit") {
    RepairClock clock;
    const Time quiet = ReassemblyLimits{}.nack_quiet;
    CHECK(clock.playout_delay(250 * kMillisecond, quiet) == RepairClock::kInitialDelay);
    for (int i = 0; i < 50; ++i) {
        clock.sample(40 * kMillisecond);
    }
    const Time delay = clock.playout_delay(250 * kMillisecond, quiet);
    CHECK(delay > 40 * kMillisecond);  // the repair time, the quiet time and a little spread
    CHECK(delay < 50 * kMillisecond);
    for (int i = 0; i < 50; ++i) {
        clock.sample(400 * kMillisecond);
    }
    CHECK(clock.playout_delay(250 * kMillisecond, quiet) == 250 * kMillisecond);
}

TEST_CASE("a repair is timed from the first request, and slow repairs are not asked for again early") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond, kSecond));
    const std::vector<Bytes> first = fragments(1);
    receive_all(reassembler, all_but_last(first), 0);
    reassembler.poll_nacks(6 * kMillisecond);
    CHECK_FALSE(reassembler.poll_nacks(30 * kMillisecond).empty());  // nothing measured yet: again after 20 ms
    CHECK(receive_all(reassembler, {resent(first.back())}, 106 * kMillisecond) == Numbers{1});
    CHECK(reassembler.repairs().smoothed() == std::optional<Time>(100 * kMillisecond));
    receive_all(reassembler, all_but_last(fragments(2)), 200 * kMillisecond);
    CHECK_FALSE(reassembler.poll_nacks(206 * kMillisecond).empty());
    CHECK(reassembler.poll_nacks(230 * kMillisecond).empty());  // repairs take 100 ms: asking now only spends resends
    CHECK(reassembler.next_nack_time() == std::optional<Time>(206 * kMillisecond + reassembler.repairs().retry_interval()));
}

TEST_CASE("frames shown after a repair are the frames sent") {
    FrameReassembler reassembler(kSession, with_delay(250 * kMillisecond));
    const std::vector<Bytes> first = fragments(1);
    std::vector<Bytes> early(first.begin() + 1, first.end());
    receive_all(reassembler, early, 0);
    CHECK(receive_all(reassembler, fragments(2), 0).empty());
    reassembler.receive(resent(first.front()), 20 * kMillisecond);
    const std::optional<CompleteFrame> one = reassembler.take_frame();
    const std::optional<CompleteFrame> two = reassembler.take_frame();
    REQUIRE(one.has_value());
    REQUIRE(two.has_value());
    CHECK(one->jpeg == Bytes(5000, 1));
    CHECK(two->jpeg == Bytes(5000, 2));
    CHECK_FALSE(one->header.retransmission());
}

TEST_CASE("when repairs take three frame intervals the playout delay keeps lossy frames") {
    // What a loaded machine does to recovery: at 5% loss nearly every frame needs a repair.
    const Simulation without = simulate(0, 0.05, 100 * kMillisecond);
    const Simulation with = simulate(250 * kMillisecond, 0.05, 100 * kMillisecond);
    CHECK(without.whole < 0.85);  // a frame needing no repair completes first: the older ones are dropped
    CHECK(with.whole >= 0.95);
    CHECK(without.idle_wakeups == 0);  // the NACK and release times are exact
    CHECK(with.idle_wakeups == 0);
}

TEST_CASE("when repairs take six frame intervals most frames still arrive whole") {
    const Simulation with = simulate(250 * kMillisecond, 0.02, 200 * kMillisecond);
    CHECK(simulate(0, 0.02, 200 * kMillisecond).whole < 0.5);
    CHECK(with.whole >= 0.95);
    CHECK(with.idle_wakeups == 0);
}

TEST_CASE("on a fast link the playout delay changes nothing") {
    CHECK(simulate(250 * kMillisecond, 0.0, 5 * kMillisecond).whole == 1.0);
    CHECK(simulate(0, 0.0, 5 * kMillisecond).whole == 1.0);
}

TEST_CASE("the client holds a frame behind a repair and its timer shows it when the repair is late") {
    Link link;  // the default playout delay
    REQUIRE(link.connect());
    const std::vector<Bytes> first = link.daemon.frame(10, Bytes(5000, 1));
    for (std::size_t i = 0; i + 1 < first.size(); ++i) {
        link.deliver_to_client(first[i]);
    }
    link.advance(5 * kMillisecond);
    CHECK(link.daemon.all<msg::Nack>().size() == 1);
    for (const Bytes& fragment : link.daemon.frame(11, Bytes(5000, 2))) {
        link.deliver_to_client(fragment);
    }
    CHECK_FALSE(link.client.take_frame().has_value());  // frame 11 waits for frame 10's repair
    const std::optional<Time> timer = link.client.get_timer();
    REQUIRE(timer.has_value());
    CHECK(*timer <= link.now + RepairClock::kInitialDelay);

    SUBCASE("the repair arrives: both frames, in order") {
        link.deliver_to_client(resent(first.back()));
        std::optional<Connection::ReceivedFrame> frame = link.client.take_frame();
        REQUIRE(frame.has_value());
        CHECK(frame->frame.header.frame == 10);
        frame = link.client.take_frame();
        REQUIRE(frame.has_value());
        CHECK(frame->frame.header.frame == 11);
    }
    SUBCASE("no repair: frame 11 after the playout delay, frame 10 dropped") {
        link.advance(RepairClock::kInitialDelay - kMillisecond);
        CHECK_FALSE(link.client.take_frame().has_value());
        link.advance(kMillisecond);
        std::optional<Connection::ReceivedFrame> frame = link.client.take_frame();
        REQUIRE(frame.has_value());
        CHECK(frame->frame.header.frame == 11);
        CHECK_FALSE(link.client.take_frame().has_value());
    }
}

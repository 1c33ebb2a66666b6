// The bounded frame queues between the network, decoder and game threads (FrameQueue.hpp).
#include "YumeBridgeCore/FrameQueue.hpp"
#include "YumeBridgeCore/Frames.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace yumebridge;

namespace {

constexpr std::uint32_t kSession = 7;

// What the Unreal layer queues: a number and a buffer that keeps its capacity.
struct Waiting {
    std::uint32_t frame = 0;
    Bytes pixels;
};

void add(FrameQueue<Waiting>& queue, std::uint32_t frame) {
    Waiting& slot = queue.push();
    slot.frame = frame;
    slot.pixels.assign(1000, static_cast<std::uint8_t>(frame));
}

// The numbers the consumer gets from `take`, called until it finds nothing.
template <typename Take>
std::vector<std::uint32_t> taken(Take take) {
    std::vector<std::uint32_t> numbers;
    Waiting out;
    while (take(out)) {
        numbers.push_back(out.frame);
    }
    return numbers;
}

using Numbers = std::vector<std::uint32_t>;

}  // namespace

TEST_CASE("two frames the reassembler releases together are both shown, in order, one per take") {
    ReassemblyLimits limits;
    limits.max_playout_delay = 250 * kMillisecond;
    FrameReassembler reassembler(kSession, limits);
    std::vector<std::vector<Bytes>> sent;
    for (std::uint32_t frame = 1; frame <= 2; ++frame) {
        FrameHeader h;
        h.session = kSession;
        h.frame = frame;
        sent.push_back(split_frame(h, Bytes(5000, static_cast<std::uint8_t>(frame)), 1200));
    }
    for (std::size_t index = 0; index + 1 < sent[0].size(); ++index) {
        reassembler.receive(sent[0][index], 0);  // frame 1 misses its last fragment
    }
    for (const Bytes& datagram : sent[1]) {
        reassembler.receive(datagram, 10 * kMillisecond);  // frame 2 completes and is held behind it
    }
    CHECK_FALSE(reassembler.has_frame());
    Bytes repair = sent[0].back();
    repair[3] |= kFlagRetransmission;
    reassembler.receive(repair, 40 * kMillisecond);

    FrameQueue<Waiting> queue;
    while (std::optional<CompleteFrame> frame = reassembler.take_frame()) {
        add(queue, frame->header.frame);
    }
    REQUIRE(queue.size() == 2);
    Waiting shown;
    REQUIRE(queue.take_to_show(shown));  // one engine frame
    CHECK(shown.frame == 1);
    REQUIRE(queue.take_to_show(shown));  // the next one
    CHECK(shown.frame == 2);
    CHECK_FALSE(queue.take_to_show(shown));
    CHECK(queue.dropped() == 0);
}

TEST_CASE("a full queue drops the oldest frame and keeps the newest") {
    FrameQueue<Waiting> queue;
    for (std::uint32_t frame = 1; frame <= kFrameQueueCapacity + 2; ++frame) {
        add(queue, frame);
    }
    CHECK(queue.size() == kFrameQueueCapacity);
    CHECK(queue.dropped() == 2);
    CHECK(taken([&](Waiting& out) { return queue.take_oldest(out); }) == Numbers{3, 4, 5, 6});
    CHECK(queue.dropped() == 2);
}

TEST_CASE("a consumer that falls behind skips to the newest frame") {
    FrameQueue<Waiting> queue;
    SUBCASE("up to the backlog, every frame is shown") {
        for (std::uint32_t frame = 1; frame <= kFrameQueueMaxBacklog; ++frame) {
            add(queue, frame);
        }
        CHECK(taken([&](Waiting& out) { return queue.take_to_show(out); }) == Numbers{1, 2});
        CHECK(queue.dropped() == 0);
    }
    SUBCASE("past it, the newest is shown and the older ones are dropped") {
        for (std::uint32_t frame = 1; frame <= kFrameQueueMaxBacklog + 1; ++frame) {
            add(queue, frame);
        }
        Waiting shown;
        REQUIRE(queue.take_to_show(shown));
        CHECK(shown.frame == 3);
        CHECK(queue.size() == 0);
        CHECK(queue.dropped() == 2);
    }
}

TEST_CASE("frame queue slots keep their buffers: steady state reuses a fixed set of them") {
    FrameQueue<Waiting> queue;
    Waiting shown;
    std::set<const std::uint8_t*> buffers;
    for (std::uint32_t frame = 1; frame <= 100; ++frame) {
        add(queue, frame);
        if (frame % 3 != 0) {
            add(queue, frame + 1000);  // two at once now and then, dropped and skipped ones too
        }
        REQUIRE(queue.take_to_show(shown));
        CHECK(shown.pixels.size() == 1000);
        buffers.insert(shown.pixels.data());
    }
    CHECK(buffers.size() <= kFrameQueueCapacity + 1);  // the slots and the consumer's own
}

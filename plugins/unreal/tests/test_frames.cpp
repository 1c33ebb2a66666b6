// Fragment headers, splitting and reassembly (SPEC §6): loss, reordering, duplicates, caps, NACKs.
#include "YumeBridgeCore/Frames.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

using namespace yumebridge;

namespace {

constexpr std::uint32_t kSession = 7;

Bytes payload(std::size_t size, std::uint8_t seed = 0) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::uint8_t>((i * 13 + seed) & 0xFF);
    }
    return out;
}

std::vector<Bytes> fragments(std::uint32_t frame, const Bytes& jpeg, std::size_t max_datagram = 576,
                             std::uint32_t session = kSession) {
    FrameHeader h;
    h.session = session;
    h.frame = frame;
    h.chunk = frame / 29;
    h.frame_in_chunk = static_cast<std::uint16_t>(frame % 29);
    h.input_seq = 3;
    h.time_us = 1000u * frame;
    h.action = 10;
    return split_frame(h, jpeg, max_datagram);
}

}  // namespace

TEST_CASE("the fragment header is 44 little-endian bytes and round-trips") {
    FrameHeader h;
    h.flags = kFlagLastInChunk | kFlagRetransmission;
    h.session = 0x01020304;
    h.frame = 0xA0B0C0D0;
    h.chunk = 9;
    h.frame_in_chunk = 28;
    h.fragment_index = 2;
    h.fragment_count = 3;
    h.payload_length = 100;
    h.frame_length = 300;
    h.input_seq = 77;
    h.time_us = 0x0102030405060708ull;
    h.action = 80;
    Bytes out;
    write_fragment_header(h, out);
    REQUIRE(out.size() == kFragmentHeaderSize);
    CHECK(to_hex(ByteView(out).sub(0, 8)) == "5946010304030201");
    CHECK(to_hex(ByteView(out).sub(32, 12)) == "0807060504030201" "50000000");
    const std::optional<FrameHeader> back = parse_fragment_header(out);
    REQUIRE(back.has_value());
    CHECK(back->session == h.session);
    CHECK(back->frame == h.frame);
    CHECK(back->time_us == h.time_us);
    CHECK(back->retransmission());
    CHECK(back->last_in_chunk());
    CHECK_FALSE(parse_fragment_header(ByteView(out).sub(0, 43)).has_value());
}

TEST_CASE("splitting uses n = ceil(L / (max_datagram - 44)) fragments of stride ceil(L / n)") {
    for (std::size_t size : {std::size_t{1}, std::size_t{531}, std::size_t{532}, std::size_t{533}, std::size_t{2500},
                             std::size_t{100000}}) {
        const std::vector<Bytes> parts = fragments(1, payload(size));
        const std::size_t n = (size + 531) / 532;
        REQUIRE(parts.size() == n);
        const std::size_t stride = (size + n - 1) / n;
        std::size_t total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(parts[i].size() <= 576);
            const FrameHeader h = *parse_fragment_header(parts[i]);
            CHECK(h.stride() == stride);
            CHECK(h.payload_length == parts[i].size() - kFragmentHeaderSize);
            total += h.payload_length;
        }
        CHECK(total == size);
    }
    CHECK(split_frame(FrameHeader{}, Bytes{}, 576).empty());
    CHECK(split_frame(FrameHeader{}, payload(10), 44).empty());
}

TEST_CASE("frames reassemble whatever the order, with duplicates") {
    std::mt19937 random(7);
    for (int round = 0; round < 50; ++round) {
        const Bytes jpeg = payload(1 + static_cast<std::size_t>(random() % 40000), static_cast<std::uint8_t>(round));
        std::vector<Bytes> parts = fragments(static_cast<std::uint32_t>(round), jpeg, 1200);
        const std::size_t count = parts.size();
        for (std::size_t i = 0; i < count; i += 3) {
            parts.push_back(parts[i]);  // duplicates
        }
        std::shuffle(parts.begin(), parts.end(), random);
        FrameReassembler reassembler(kSession);
        std::size_t completed = 0;
        for (const Bytes& part : parts) {
            const FragmentOutcome outcome = reassembler.receive(part, 0);
            completed += outcome == FragmentOutcome::Completed ? 1 : 0;
        }
        CHECK(completed == 1);
        std::optional<CompleteFrame> frame = reassembler.take_frame();
        REQUIRE(frame.has_value());
        CHECK(frame->jpeg == jpeg);
        CHECK(frame->header.frame == static_cast<std::uint32_t>(round));
        CHECK(reassembler.incomplete_frames() == 0);
        CHECK(reassembler.partial_bytes() == 0);
    }
}

TEST_CASE("malformed fragments are dropped") {
    const std::vector<Bytes> parts = fragments(5, payload(1500));
    FrameReassembler reassembler(kSession);
    auto mutate = [&](std::size_t offset, std::uint8_t value) {
        Bytes copy = parts[0];
        copy[offset] = value;
        return reassembler.receive(copy, 0);
    };
    CHECK(mutate(2, 2) == FragmentOutcome::Malformed);   // version
    CHECK(mutate(18, 9) == FragmentOutcome::Malformed);  // index >= count
    CHECK(mutate(20, 0) == FragmentOutcome::Malformed);  // count 0
    CHECK(mutate(22, 1) == FragmentOutcome::Malformed);  // payload_length differs from the bytes present
    CHECK(mutate(4, 8) == FragmentOutcome::WrongSession);
    Bytes truncated(parts[0].begin(), parts[0].end() - 1);
    CHECK(reassembler.receive(truncated, 0) == FragmentOutcome::Malformed);
    // (n - 1) * stride >= L: 3 fragments cannot carry 2 bytes.
    FrameHeader h = *parse_fragment_header(parts[0]);
    h.fragment_count = 3;
    h.frame_length = 2;
    h.payload_length = 1;
    Bytes impossible;
    write_fragment_header(h, impossible);
    impossible.push_back(0);
    CHECK(reassembler.receive(impossible, 0) == FragmentOutcome::Malformed);
    CHECK(reassembler.incomplete_frames() == 0);
    CHECK(reassembler.stats().dropped == 7);
}

TEST_CASE("a fragment that disagrees with the first one of its frame is dropped, the retransmission flag may differ") {
    const std::vector<Bytes> parts = fragments(5, payload(1500));
    FrameReassembler reassembler(kSession);
    CHECK(reassembler.receive(parts[0], 0) == FragmentOutcome::Accepted);
    Bytes other_action = parts[1];
    other_action[40] = 11;
    CHECK(reassembler.receive(other_action, 0) == FragmentOutcome::Inconsistent);
    Bytes other_chunk_flag = parts[1];
    other_chunk_flag[3] = kFlagLastInChunk;
    CHECK(reassembler.receive(other_chunk_flag, 0) == FragmentOutcome::Inconsistent);
    Bytes retransmitted = parts[1];
    retransmitted[3] = kFlagRetransmission;
    CHECK(reassembler.receive(retransmitted, 0) == FragmentOutcome::Accepted);
    CHECK(reassembler.receive(parts[1], 0) == FragmentOutcome::Duplicate);
    CHECK(reassembler.receive(parts[2], 0) == FragmentOutcome::Completed);
    CHECK(reassembler.take_frame()->jpeg == payload(1500));
}

TEST_CASE("only frames newer than the newest complete one are accepted, the newest complete frame wins") {
    FrameReassembler reassembler(kSession);
    for (const Bytes& part : fragments(10, payload(800, 10))) {
        reassembler.receive(part, 0);
    }
    for (const Bytes& part : fragments(12, payload(800, 12))) {
        reassembler.receive(part, 0);
    }
    CHECK(reassembler.frames_replaced() == 1);  // frame 10 was never taken
    for (const Bytes& part : fragments(11, payload(800, 11))) {
        CHECK(reassembler.receive(part, 0) == FragmentOutcome::Stale);
    }
    CHECK(reassembler.receive(fragments(12, payload(800, 12))[0], 0) == FragmentOutcome::Stale);
    std::optional<CompleteFrame> frame = reassembler.take_frame();
    REQUIRE(frame.has_value());
    CHECK(frame->header.frame == 12);
    CHECK(frame->jpeg == payload(800, 12));
    CHECK_FALSE(reassembler.take_frame().has_value());
}

TEST_CASE("a newer complete frame drops older incomplete ones") {
    FrameReassembler reassembler(kSession);
    reassembler.receive(fragments(1, payload(2000))[0], 0);
    reassembler.receive(fragments(3, payload(2000))[0], 0);
    CHECK(reassembler.incomplete_frames() == 2);
    for (const Bytes& part : fragments(2, payload(300))) {
        reassembler.receive(part, 0);
    }
    CHECK(reassembler.incomplete_frame_numbers() == std::vector<std::uint32_t>{3});
    CHECK(reassembler.stats().frames_abandoned == 1);
}

TEST_CASE("at most 4 incomplete frames are kept, the oldest evicted first") {
    FrameReassembler reassembler(kSession);
    for (std::uint32_t frame : {5u, 3u, 4u, 6u, 7u, 8u}) {
        reassembler.receive(fragments(frame, payload(2000))[0], 0);
    }
    std::vector<std::uint32_t> kept = reassembler.incomplete_frame_numbers();
    std::sort(kept.begin(), kept.end());
    CHECK(kept == std::vector<std::uint32_t>{5, 6, 7, 8});
    CHECK(reassembler.stats().frames_abandoned == 2);
}

TEST_CASE("partial data is capped at 4 MiB and frames over 4 MiB are dropped") {
    FrameReassembler reassembler(kSession);
    const Bytes big = payload(1500000);
    for (std::uint32_t frame = 1; frame <= 3; ++frame) {
        reassembler.receive(fragments(frame, big, 65000)[0], 0);
    }
    CHECK(reassembler.incomplete_frames() == 2);  // 3 x 1.5 MB would exceed 4 MiB
    CHECK(reassembler.partial_bytes() == 3000000);
    const std::vector<Bytes> huge = fragments(9, payload((4u << 20) + 1), 65000);
    CHECK(reassembler.receive(huge[0], 0) == FragmentOutcome::TooLarge);
    ReassemblyLimits small;
    small.max_frame_length = 1000;
    FrameReassembler limited(kSession, small);
    CHECK(limited.receive(fragments(1, payload(1001))[0], 0) == FragmentOutcome::TooLarge);
}

TEST_CASE("a frame numbered implausibly far ahead cannot freeze the stream") {
    FrameReassembler reassembler(kSession);
    for (const Bytes& part : fragments(100, payload(300))) {
        reassembler.receive(part, 0);
    }
    REQUIRE(reassembler.take_frame().has_value());
    // A forged single-fragment frame 1e9 ahead is refused, so frame 101 is still shown.
    CHECK(reassembler.receive(fragments(1000000000u, payload(300))[0], 0) == FragmentOutcome::TooFarAhead);
    for (const Bytes& part : fragments(101, payload(300))) {
        reassembler.receive(part, 0);
    }
    std::optional<CompleteFrame> frame = reassembler.take_frame();
    REQUIRE(frame.has_value());
    CHECK(frame->header.frame == 101);
    // A legitimate gap (frames lost for a few seconds) is fine.
    for (const Bytes& part : fragments(101 + 4096, payload(300))) {
        CHECK(reassembler.receive(part, 0) == FragmentOutcome::Completed);
    }
}

TEST_CASE("frame numbers wrap around as serial numbers") {
    FrameReassembler reassembler(kSession);
    for (std::uint32_t frame : {0xFFFFFFFEu, 0xFFFFFFFFu, 0u, 1u}) {
        for (const Bytes& part : fragments(frame, payload(700))) {
            reassembler.receive(part, 0);
        }
        std::optional<CompleteFrame> complete = reassembler.take_frame();
        REQUIRE(complete.has_value());
        CHECK(complete->header.frame == frame);
    }
    CHECK(reassembler.receive(fragments(0xFFFFFFFFu, payload(700))[0], 0) == FragmentOutcome::Stale);
    CHECK(frame_newer(0, 0xFFFFFFFFu));
    CHECK_FALSE(frame_newer(0xFFFFFFFFu, 0));
}

TEST_CASE("NACK policy: a loss below the highest index at once, the rest after 5 ms of quiet, asked again after the retry interval") {
    FrameReassembler reassembler(kSession);
    const std::vector<Bytes> parts = fragments(40, payload(6000));  // 12 fragments
    REQUIRE(parts.size() == 12);
    for (std::size_t i = 0; i <= 10; ++i) {
        if (i != 1) {
            reassembler.receive(parts[i], 0);
        }
    }
    std::vector<NackRequest> nacks = reassembler.poll_nacks(0);  // 1 is 9 below 10: lost, not reordered
    REQUIRE(nacks.size() == 1);
    CHECK(nacks[0].frame == 40);
    CHECK(nacks[0].missing == std::vector<std::int64_t>{1});
    CHECK(reassembler.next_nack_time() == std::optional<Time>(5 * kMillisecond));
    CHECK(reassembler.poll_nacks(4 * kMillisecond).empty());
    nacks = reassembler.poll_nacks(5 * kMillisecond);  // the burst is over: 11 was lost too
    REQUIRE(nacks.size() == 1);
    CHECK(nacks[0].missing == std::vector<std::int64_t>{11});
    CHECK(reassembler.next_nack_time() == std::optional<Time>(20 * kMillisecond));  // no repair timed yet
    CHECK(reassembler.poll_nacks(19 * kMillisecond).empty());
    CHECK(reassembler.poll_nacks(20 * kMillisecond)[0].missing == std::vector<std::int64_t>{1});
    Bytes repaired = parts[1];
    repaired[3] |= kFlagRetransmission;
    reassembler.receive(repaired, 25 * kMillisecond);  // 25 ms after the first request for it
    CHECK(reassembler.repairs().smoothed() == std::optional<Time>(25 * kMillisecond));
    CHECK(reassembler.repairs().retry_interval() == 75 * kMillisecond);  // R + 4V
    CHECK(reassembler.next_nack_time() == std::optional<Time>(80 * kMillisecond));
    CHECK(reassembler.stats().nacks == 3);
}

TEST_CASE("NACKs: at once when a newer frame begins, at most 8 per frame, none past the deadline") {
    ReassemblyLimits patient;
    patient.frame_deadline = 10 * kSecond;
    FrameReassembler reassembler(kSession, patient);
    reassembler.receive(fragments(30, payload(2500))[0], 0);
    std::size_t sent = 0;
    while (const std::optional<Time> at = reassembler.next_nack_time()) {
        REQUIRE(sent < 100);
        sent += reassembler.poll_nacks(*at).size();
    }
    CHECK(sent == 8);

    FrameReassembler second(kSession);
    second.receive(fragments(50, payload(2500))[0], 0);
    second.receive(fragments(51, payload(2500))[0], 2 * kMillisecond);  // a newer frame: NACK 50 now
    std::vector<NackRequest> nacks = second.poll_nacks(2 * kMillisecond);
    REQUIRE(nacks.size() == 1);
    CHECK(nacks[0].frame == 50);

    FrameReassembler late(kSession);
    late.receive(fragments(60, payload(2500))[0], 0);
    CHECK(late.poll_nacks(301 * kMillisecond).empty());  // no fragment for frame_deadline_ms
    CHECK_FALSE(late.next_nack_time().has_value());
}

TEST_CASE("a NACK lists at most max_nack_fragments indices") {
    ReassemblyLimits limits;
    limits.max_nack_fragments = 4;
    FrameReassembler reassembler(kSession, limits);
    reassembler.receive(fragments(1, payload(10000))[0], 0);  // 19 fragments, 18 missing
    std::vector<NackRequest> nacks = reassembler.poll_nacks(30 * kMillisecond);
    REQUIRE(nacks.size() == 1);
    CHECK(nacks[0].missing == std::vector<std::int64_t>{1, 2, 3, 4});
    limits.nack_enabled = false;
    FrameReassembler disabled(kSession, limits);
    disabled.receive(fragments(1, payload(10000))[0], 0);
    CHECK(disabled.poll_nacks(100 * kMillisecond).empty());
    CHECK_FALSE(disabled.next_nack_time().has_value());
}

// ---- cut chunks (pre-emption): after_cut, latent and cut_latents in bytes 3, 41 and 42 ----

TEST_CASE("a cut chunk's first frame carries after_cut, its latent and how many latents of the cut chunk were shown") {
    FrameHeader h;
    h.flags = kFlagAfterCut;
    h.chunk = 6;
    h.latent = 0;
    h.cut_latents = 3;
    Bytes out;
    write_fragment_header(h, out);
    CHECK(out[3] == 0x04);
    CHECK(out[41] == 0);
    CHECK(out[42] == 3);
    CHECK(out[43] == 0);  // still reserved
    const FrameHeader back = *parse_fragment_header(out);
    CHECK(back.after_cut());
    CHECK_FALSE(back.last_in_chunk());
    CHECK(back.cut_latents == 3);
}

TEST_CASE("the latent byte is read as sent: frame 6 of a chunk comes from latent 2") {
    FrameHeader h;
    h.frame_in_chunk = 6;
    h.latent = static_cast<std::uint8_t>((6 + 3) / 4);
    Bytes out;
    write_fragment_header(h, out);
    CHECK(out[41] == 2);
    CHECK(parse_fragment_header(out)->latent == 2);
}

TEST_CASE("a chunk cut short is no loss: every frame completes and nothing is NACKed") {
    FrameReassembler reassembler(kSession);
    // Chunk 5 is cut after 9 frames (latents 0-2: frames 0..8, no last-in-chunk frame); chunk 6
    // follows with the next frame number and after_cut on its first frame.
    std::uint32_t frame = 100;
    auto deliver = [&](std::uint32_t chunk, std::uint16_t in_chunk, std::uint8_t flags, std::uint8_t cut_latents) {
        FrameHeader h;
        h.session = kSession;
        h.frame = frame++;
        h.chunk = chunk;
        h.frame_in_chunk = in_chunk;
        h.flags = flags;
        h.latent = static_cast<std::uint8_t>((in_chunk + 3) / 4);
        h.cut_latents = cut_latents;
        for (const Bytes& part : split_frame(h, payload(1500, static_cast<std::uint8_t>(h.frame)), 576)) {
            CHECK(reassembler.receive(part, 0) != FragmentOutcome::Malformed);
        }
    };
    for (std::uint16_t i = 0; i < 9; ++i) {
        deliver(5, i, 0, 0);
    }
    deliver(6, 0, kFlagAfterCut, 3);
    deliver(6, 1, 0, 0);
    CHECK(reassembler.incomplete_frame_numbers().empty());
    CHECK(reassembler.poll_nacks(10 * kSecond).empty());
    std::optional<CompleteFrame> newest = reassembler.take_frame();
    REQUIRE(newest.has_value());
    CHECK(newest->header.chunk == 6);
    CHECK(newest->header.frame_in_chunk == 1);
}

TEST_CASE("fragments of one frame that disagree on the latent bytes are refused") {
    FrameHeader h;
    h.session = kSession;
    h.frame = 3;
    h.latent = 1;
    std::vector<Bytes> parts = split_frame(h, payload(1500), 576);
    REQUIRE(parts.size() >= 2);
    parts[1][41] = 2;
    FrameReassembler reassembler(kSession);
    CHECK(reassembler.receive(parts[0], 0) == FragmentOutcome::Accepted);
    CHECK(reassembler.receive(parts[1], 0) != FragmentOutcome::Accepted);
}

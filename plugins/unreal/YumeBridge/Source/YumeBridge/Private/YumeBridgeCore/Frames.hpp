// Frame fragments (SPEC §6): the 44-byte header, splitting a JPEG into fragments, and the receiver's
// reassembly with the caps, the newest-complete-frame policy and the NACK policy of SPEC §6.3.
#pragma once

#include "Common.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace yumebridge {

constexpr std::size_t kFragmentHeaderSize = 44;
constexpr std::uint8_t kFragmentVersion = 1;
constexpr std::uint8_t kFlagRetransmission = 0x01;
constexpr std::uint8_t kFlagLastInChunk = 0x02;
// The first frame of a chunk that replaced one cut short at a latent boundary (pre-emption). A cut
// chunk has no last-in-chunk frame, and its unsent tail never got frame numbers: it is not a loss.
constexpr std::uint8_t kFlagAfterCut = 0x04;

struct FrameHeader {
    std::uint8_t version = kFragmentVersion;
    std::uint8_t flags = 0;
    std::uint32_t session = 0;
    std::uint32_t frame = 0;
    std::uint32_t chunk = 0;
    std::uint16_t frame_in_chunk = 0;
    std::uint16_t fragment_index = 0;
    std::uint16_t fragment_count = 0;
    std::uint16_t payload_length = 0;
    std::uint32_t frame_length = 0;
    std::uint32_t input_seq = 0;
    std::uint64_t time_us = 0;
    std::uint8_t action = 0;
    std::uint8_t latent = 0;       // the latent (within its chunk) this frame was decoded from; 0 from older daemons
    std::uint8_t cut_latents = 0;  // with after_cut: how many latents of the previous chunk were shown

    bool retransmission() const { return (flags & kFlagRetransmission) != 0; }
    bool last_in_chunk() const { return (flags & kFlagLastInChunk) != 0; }
    bool after_cut() const { return (flags & kFlagAfterCut) != 0; }
    // ceil(frame_length / fragment_count): the JPEG bytes each fragment but the last carries.
    std::uint32_t stride() const {
        return fragment_count == 0 ? 0 : (frame_length + fragment_count - 1u) / fragment_count;
    }
};

// Reads the header of a datagram that starts with "YF" and is at least 44 bytes long.
inline std::optional<FrameHeader> parse_fragment_header(ByteView datagram) {
    if (datagram.size < kFragmentHeaderSize || datagram[0] != 0x59 || datagram[1] != 0x46) {
        return std::nullopt;
    }
    const std::uint8_t* p = datagram.data;
    FrameHeader h;
    h.version = p[2];
    h.flags = p[3];
    h.session = get_u32le(p + 4);
    h.frame = get_u32le(p + 8);
    h.chunk = get_u32le(p + 12);
    h.frame_in_chunk = get_u16le(p + 16);
    h.fragment_index = get_u16le(p + 18);
    h.fragment_count = get_u16le(p + 20);
    h.payload_length = get_u16le(p + 22);
    h.frame_length = get_u32le(p + 24);
    h.input_seq = get_u32le(p + 28);
    h.time_us = get_u64le(p + 32);
    h.action = p[40];
    h.latent = p[41];
    h.cut_latents = p[42];
    return h;
}

inline void write_fragment_header(const FrameHeader& h, Bytes& out) {
    out.push_back(0x59);
    out.push_back(0x46);
    out.push_back(h.version);
    out.push_back(h.flags);
    put_u32le(out, h.session);
    put_u32le(out, h.frame);
    put_u32le(out, h.chunk);
    put_u16le(out, h.frame_in_chunk);
    put_u16le(out, h.fragment_index);
    put_u16le(out, h.fragment_count);
    put_u16le(out, h.payload_length);
    put_u32le(out, h.frame_length);
    put_u32le(out, h.input_seq);
    put_u64le(out, h.time_us);
    out.push_back(h.action);
    out.push_back(h.latent);
    out.push_back(h.cut_latents);
    out.push_back(0);  // reserved
}

// The daemon's side of SPEC §6.2: n = ceil(L / (max_datagram - 44)) fragments of stride ceil(L / n).
// Used by the tests and the fake daemon; returns nothing if the frame cannot be carried.
inline std::vector<Bytes> split_frame(FrameHeader header, ByteView jpeg, std::size_t max_datagram) {
    std::vector<Bytes> out;
    if (jpeg.empty() || max_datagram <= kFragmentHeaderSize || jpeg.size > 0xFFFFFFFFu) {
        return out;
    }
    const std::size_t room = max_datagram - kFragmentHeaderSize;
    const std::size_t count = (jpeg.size + room - 1) / room;
    if (count > 0xFFFF) {
        return out;
    }
    const std::size_t stride = (jpeg.size + count - 1) / count;
    header.fragment_count = static_cast<std::uint16_t>(count);
    header.frame_length = static_cast<std::uint32_t>(jpeg.size);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t begin = i * stride;
        const std::size_t end = (std::min)(begin + stride, jpeg.size);
        header.fragment_index = static_cast<std::uint16_t>(i);
        header.payload_length = static_cast<std::uint16_t>(end - begin);
        Bytes datagram;
        datagram.reserve(kFragmentHeaderSize + (end - begin));
        write_fragment_header(header, datagram);
        datagram.insert(datagram.end(), jpeg.data + begin, jpeg.data + end);
        out.push_back(std::move(datagram));
    }
    return out;
}

// Frame numbers compared as serial numbers (RFC 1982), so that order survives the u32 wrap.
inline bool frame_newer(std::uint32_t a, std::uint32_t b) {
    return a != b && static_cast<std::uint32_t>(a - b) < 0x80000000u;
}

struct CompleteFrame {
    FrameHeader header;  // of the first fragment received; fragment fields are not meaningful
    Bytes jpeg;
    Time first_fragment_at = 0;
    Time completed_at = 0;
};

struct NackRequest {
    std::uint32_t frame = 0;
    std::vector<std::int64_t> missing;
};

enum class FragmentOutcome : std::uint8_t {
    Accepted,      // stored; the frame is still incomplete
    Completed,     // this fragment completed the frame
    Duplicate,     // that index of that frame had already arrived
    Malformed,     // fails a check of SPEC §6.2
    WrongSession,  // another session's fragment
    Inconsistent,  // disagrees with the first fragment of its frame
    Stale,         // its frame is not newer than the newest complete frame
    TooFarAhead,   // its frame number jumps implausibly far past the newest complete frame
    TooLarge,      // frame_length over the cap
};

struct ReassemblyLimits {
    std::size_t max_incomplete_frames = 4;
    std::size_t max_partial_bytes = 4u << 20;
    std::uint32_t max_frame_length = 4u << 20;
    Time nack_quiet = 30 * kMillisecond;            // NACK a frame silent for this long
    Time frame_deadline = 300 * kMillisecond;       // no NACK after this (welcome.limits.frame_deadline_ms)
    std::size_t max_nack_fragments = 128;           // indices per NACK (welcome.limits.max_nack_fragments)
    int max_nacks_per_frame = 3;
    // Fragments carry no tag (SPEC §10): one forged frame numbered far ahead would make every real
    // frame after it "older than one shown". A real stream moves 1 frame at a time and a session
    // silent for 10 s is closed, so 4096 frames (17 s at 240 fps) is never a legitimate jump.
    std::uint32_t max_frame_jump = 4096;
    bool nack_enabled = true;                       // the daemon has the "nack" capability
};

struct ReassemblyStats {
    std::uint64_t fragments = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t dropped = 0;           // malformed, wrong session, inconsistent, stale or too large
    std::uint64_t frames_completed = 0;
    std::uint64_t frames_abandoned = 0;  // incomplete frames evicted or overtaken by a newer complete one
    std::uint64_t nacks = 0;
};

// Reassembles the frames of one session. Keeps at most `max_incomplete_frames` incomplete frames and
// `max_partial_bytes` of their buffers (the oldest is evicted first), never accepts a fragment of a
// frame that is not newer than the newest complete one, and hands out only the newest complete frame.
class FrameReassembler {
public:
    explicit FrameReassembler(std::uint32_t session = 0, ReassemblyLimits limits = {})
        : session_(session), limits_(limits) {}

    void reset(std::uint32_t session) {
        session_ = session;
        partial_.clear();
        partial_bytes_ = 0;
        newest_complete_.reset();
        ready_.reset();
    }

    ReassemblyLimits& limits() { return limits_; }
    const ReassemblyStats& stats() const { return stats_; }
    std::size_t incomplete_frames() const { return partial_.size(); }
    std::size_t partial_bytes() const { return partial_bytes_; }
    std::optional<std::uint32_t> newest_complete() const { return newest_complete_; }

    // The missing fragment indices of an incomplete frame, or nothing if it is not being reassembled.
    std::optional<std::vector<std::int64_t>> missing(std::uint32_t frame) const {
        auto it = find(frame);
        if (it == partial_.end()) {
            return std::nullopt;
        }
        return missing_of(*it);
    }

    std::vector<std::uint32_t> incomplete_frame_numbers() const {
        std::vector<std::uint32_t> frames;
        for (const Partial& p : partial_) {
            frames.push_back(p.header.frame);
        }
        return frames;
    }

    FragmentOutcome receive(ByteView datagram, Time now) {
        ++stats_.fragments;
        const std::optional<FrameHeader> parsed = parse_fragment_header(datagram);
        if (!parsed) {
            return drop(FragmentOutcome::Malformed);
        }
        const FrameHeader& h = *parsed;
        const std::size_t present = datagram.size - kFragmentHeaderSize;
        if (h.version != kFragmentVersion || h.fragment_count == 0 || h.frame_length == 0 ||
            h.fragment_index >= h.fragment_count) {
            return drop(FragmentOutcome::Malformed);
        }
        const std::uint64_t stride = h.stride();
        const std::uint64_t length = h.frame_length;
        if ((h.fragment_count - 1u) * stride >= length) {
            return drop(FragmentOutcome::Malformed);
        }
        const std::uint64_t begin = h.fragment_index * stride;
        const std::uint64_t expected = (std::min)(begin + stride, length) - begin;
        if (h.payload_length != present || h.payload_length != expected) {
            return drop(FragmentOutcome::Malformed);
        }
        if (h.session != session_) {
            return drop(FragmentOutcome::WrongSession);
        }
        if (h.frame_length > limits_.max_frame_length) {
            return drop(FragmentOutcome::TooLarge);
        }
        if (newest_complete_ && !frame_newer(h.frame, *newest_complete_)) {
            return drop(FragmentOutcome::Stale);
        }
        if (newest_complete_ && h.frame - *newest_complete_ > limits_.max_frame_jump) {
            return drop(FragmentOutcome::TooFarAhead);
        }

        // A fragment of a newer frame is a reason to NACK the older incomplete ones (SPEC §6.3).
        for (Partial& p : partial_) {
            if (frame_newer(h.frame, p.header.frame)) {
                p.newer_seen = true;
            }
        }

        auto it = find(h.frame);
        if (it == partial_.end()) {
            it = start_frame(h, now);
        } else if (!consistent(it->header, h)) {
            return drop(FragmentOutcome::Inconsistent);
        }
        Partial& p = *it;
        if (p.have[h.fragment_index]) {
            ++stats_.duplicates;
            return FragmentOutcome::Duplicate;
        }
        p.have[h.fragment_index] = true;
        ++p.received;
        p.last_arrival = now;
        std::copy(datagram.data + kFragmentHeaderSize, datagram.data + datagram.size,
                  p.data.begin() + static_cast<std::ptrdiff_t>(begin));
        if (p.received < p.header.fragment_count) {
            return FragmentOutcome::Accepted;
        }
        complete(it, now);
        return FragmentOutcome::Completed;
    }

    // The newest complete frame not yet taken; older complete frames it replaced are gone.
    std::optional<CompleteFrame> take_frame() {
        std::optional<CompleteFrame> out = std::move(ready_);
        ready_.reset();
        return out;
    }

    bool has_frame() const { return ready_.has_value(); }
    std::uint64_t frames_replaced() const { return replaced_; }

    // NACKs due at `now` (SPEC §6.3). `renack_after` spaces repeated NACKs of one frame, normally
    // the round-trip time, so that a retransmission has a chance to arrive first.
    std::vector<NackRequest> poll_nacks(Time now, Time renack_after) {
        std::vector<NackRequest> out;
        if (!limits_.nack_enabled) {
            return out;
        }
        for (Partial& p : partial_) {
            if (p.nacks < limits_.max_nacks_per_frame && now - p.first_arrival > limits_.frame_deadline) {
                p.nacks = limits_.max_nacks_per_frame;  // too old to be resent: never NACK it (no timer either)
            }
            if (!nack_due(p, now, renack_after)) {
                continue;
            }
            NackRequest request{p.header.frame, missing_of(p)};
            if (request.missing.size() > limits_.max_nack_fragments) {
                request.missing.resize(limits_.max_nack_fragments);
            }
            ++p.nacks;
            p.last_nack = now;
            p.newer_seen = false;
            ++stats_.nacks;
            out.push_back(std::move(request));
        }
        return out;
    }

    // When poll_nacks should next be called, if ever.
    std::optional<Time> next_nack_time(Time renack_after) const {
        std::optional<Time> earliest;
        if (!limits_.nack_enabled) {
            return earliest;
        }
        for (const Partial& p : partial_) {
            if (p.nacks >= limits_.max_nacks_per_frame) {
                continue;
            }
            const Time deadline = p.first_arrival + limits_.frame_deadline;
            Time at = p.newer_seen ? p.last_arrival : p.last_arrival + limits_.nack_quiet;
            if (p.nacks > 0) {
                at = (std::max)(at, p.last_nack + renack_after);
            }
            if (at > deadline) {
                continue;
            }
            if (!earliest || at < *earliest) {
                earliest = at;
            }
        }
        return earliest;
    }

private:
    struct Partial {
        FrameHeader header;
        Bytes data;
        std::vector<bool> have;
        std::size_t received = 0;
        Time first_arrival = 0;
        Time last_arrival = 0;
        Time last_nack = 0;
        int nacks = 0;
        bool newer_seen = false;
    };

    FragmentOutcome drop(FragmentOutcome why) {
        ++stats_.dropped;
        return why;
    }

    std::vector<Partial>::iterator find(std::uint32_t frame) {
        return std::find_if(partial_.begin(), partial_.end(), [frame](const Partial& p) { return p.header.frame == frame; });
    }

    std::vector<Partial>::const_iterator find(std::uint32_t frame) const {
        return std::find_if(partial_.begin(), partial_.end(), [frame](const Partial& p) { return p.header.frame == frame; });
    }

    static std::vector<std::int64_t> missing_of(const Partial& p) {
        std::vector<std::int64_t> indices;
        for (std::size_t i = 0; i < p.have.size(); ++i) {
            if (!p.have[i]) {
                indices.push_back(static_cast<std::int64_t>(i));
            }
        }
        return indices;
    }

    // All header fields must agree except fragment_index, payload_length and the retransmission flag.
    static bool consistent(const FrameHeader& a, const FrameHeader& b) {
        return a.version == b.version &&
               (a.flags & ~kFlagRetransmission & 0xFF) == (b.flags & ~kFlagRetransmission & 0xFF) &&
               a.session == b.session && a.frame == b.frame && a.chunk == b.chunk &&
               a.frame_in_chunk == b.frame_in_chunk && a.fragment_count == b.fragment_count &&
               a.frame_length == b.frame_length && a.input_seq == b.input_seq && a.time_us == b.time_us &&
               a.action == b.action && a.latent == b.latent && a.cut_latents == b.cut_latents;
    }

    bool nack_due(const Partial& p, Time now, Time renack_after) const {
        if (p.nacks >= limits_.max_nacks_per_frame || now - p.first_arrival > limits_.frame_deadline) {
            return false;
        }
        if (p.nacks > 0 && now - p.last_nack < renack_after) {
            return false;
        }
        return p.newer_seen || now - p.last_arrival >= limits_.nack_quiet;
    }

    void evict_oldest() {
        auto oldest = partial_.begin();
        for (auto it = partial_.begin(); it != partial_.end(); ++it) {
            if (frame_newer(oldest->header.frame, it->header.frame)) {
                oldest = it;
            }
        }
        partial_bytes_ -= oldest->data.size();
        partial_.erase(oldest);
        ++stats_.frames_abandoned;
    }

    std::vector<Partial>::iterator start_frame(const FrameHeader& h, Time now) {
        while (!partial_.empty() && (partial_.size() >= limits_.max_incomplete_frames ||
                                     partial_bytes_ + h.frame_length > limits_.max_partial_bytes)) {
            evict_oldest();
        }
        Partial p;
        p.header = h;
        p.header.fragment_index = 0;
        p.header.payload_length = 0;
        p.header.flags = static_cast<std::uint8_t>(h.flags & ~kFlagRetransmission);
        p.data.assign(h.frame_length, 0);
        p.have.assign(h.fragment_count, false);
        p.first_arrival = now;
        p.last_arrival = now;
        partial_bytes_ += p.data.size();
        partial_.push_back(std::move(p));
        return partial_.end() - 1;
    }

    void complete(std::vector<Partial>::iterator it, Time now) {
        CompleteFrame frame;
        frame.header = it->header;
        frame.jpeg = std::move(it->data);
        frame.first_fragment_at = it->first_arrival;
        frame.completed_at = now;
        const std::uint32_t number = it->header.frame;
        partial_bytes_ -= frame.jpeg.size();
        partial_.erase(it);
        newest_complete_ = number;
        ++stats_.frames_completed;
        // Incomplete frames older than the newest complete one can never be shown: drop them.
        for (auto p = partial_.begin(); p != partial_.end();) {
            if (!frame_newer(p->header.frame, number)) {
                partial_bytes_ -= p->data.size();
                p = partial_.erase(p);
                ++stats_.frames_abandoned;
            } else {
                ++p;
            }
        }
        if (ready_) {
            ++replaced_;
        }
        ready_ = std::move(frame);
    }

    std::uint32_t session_;
    ReassemblyLimits limits_;
    ReassemblyStats stats_;
    std::vector<Partial> partial_;
    std::size_t partial_bytes_ = 0;
    std::optional<std::uint32_t> newest_complete_;
    std::optional<CompleteFrame> ready_;
    std::uint64_t replaced_ = 0;
};

}  // namespace yumebridge

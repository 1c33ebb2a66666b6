// Frame fragments (SPEC §6): the 44-byte header, splitting a JPEG into fragments, and the receiver's
// reassembly with the caps, the in-order playout (with its playout delay) and the NACK policy of SPEC §6.3.
#pragma once

#include "Common.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
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
    Completed,     // this fragment completed the frame (shown at once, or held behind a repair)
    Duplicate,     // that index of that frame had already arrived
    Malformed,     // fails a check of SPEC §6.2
    WrongSession,  // another session's fragment
    Inconsistent,  // disagrees with the first fragment of its frame
    Stale,         // its frame is not newer than the newest frame shown
    TooFarAhead,   // its frame number jumps implausibly far past the newest frame shown
    TooLarge,      // frame_length over the cap
};

// How long a repair takes, from the first NACK that asked for an index to the arrival of that index
// with the retransmission flag, smoothed as TCP smooths its round-trip time (RFC 6298). When the first
// request or its answer was lost the sample is too long by a retry: that errs on the side of waiting
// longer, never of giving a repair up too early.
class RepairClock {
public:
    static constexpr Time kRetryFloor = 20 * kMillisecond;     // the retry interval, and its least value
    static constexpr Time kInitialDelay = 100 * kMillisecond;  // the playout delay before the first sample
    static constexpr Time kMinDelay = 10 * kMillisecond;

    void sample(Time repair) {
        if (!smoothed_) {
            smoothed_ = repair;
            variation_ = repair / 2;
            return;
        }
        const Time error = *smoothed_ > repair ? *smoothed_ - repair : repair - *smoothed_;
        variation_ += (error - variation_) / 4;
        *smoothed_ += (repair - *smoothed_) / 8;
    }

    std::optional<Time> smoothed() const { return smoothed_; }

    // How long to wait for a repair before asking again: sooner only spends the daemon's resends (§5.10).
    Time retry_interval() const {
        return smoothed_ ? (std::max)(kRetryFloor, *smoothed_ + 4 * variation_) : kRetryFloor;
    }

    // How long a complete frame waits for an older one under repair: a repair's time and spread plus
    // the quiet time that ends a burst, within [10 ms, limit].
    Time playout_delay(Time limit, Time quiet) const {
        if (!smoothed_) {
            return (std::min)(kInitialDelay, limit);
        }
        return (std::min)((std::max)(*smoothed_ + 4 * variation_ + quiet, kMinDelay), limit);
    }

private:
    std::optional<Time> smoothed_;
    Time variation_ = 0;
};

struct ReassemblyLimits {
    std::size_t max_incomplete_frames = 4;  // without a playout delay
    std::size_t max_frames_in_repair = 8;   // with one: a quarter-second of repairs at 30 fps
    std::size_t max_partial_bytes = 4u << 20;
    std::uint32_t max_frame_length = 4u << 20;
    // SPEC §6.3 playout delay: a frame that completes while an older one is under repair waits for it,
    // at most this long. 0: the 1.0 policy, the newest complete frame is shown at once.
    Time max_playout_delay = 0;
    std::size_t max_held_frames = 8;            // frames held behind a repair; past that the oldest is shown
    std::size_t max_held_bytes = 4u << 20;
    Time nack_quiet = 5 * kMillisecond;         // a frame silent this long has ended its burst
    int reorder_slack = 8;                      // a gap this far below the highest index received is a loss
    Time frame_deadline = 300 * kMillisecond;   // no NACK once no fragment arrived for this long (welcome.limits)
    std::size_t max_nack_fragments = 128;       // indices per NACK (welcome.limits.max_nack_fragments)
    int max_nacks_per_frame = 8;
    // Fragments carry no tag (SPEC §10): one forged frame numbered far ahead would make every real
    // frame after it "older than one shown". A real stream moves 1 frame at a time and a session
    // silent for 10 s is closed, so 4096 frames (17 s at 240 fps) is never a legitimate jump.
    std::uint32_t max_frame_jump = 4096;
    bool nack_enabled = true;                   // the daemon has the "nack" capability
};

struct ReassemblyStats {
    std::uint64_t fragments = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t dropped = 0;           // malformed, wrong session, inconsistent, stale or too large
    std::uint64_t frames_completed = 0;
    std::uint64_t frames_abandoned = 0;  // incomplete frames evicted or overtaken by a newer frame shown
    std::uint64_t frames_held = 0;       // complete frames held back behind a repair (each counted once)
    std::uint64_t nacks = 0;
};

// Reassembles the frames of one session and shows them in order (SPEC §6.3). Keeps at most
// `max_incomplete_frames` incomplete frames (`max_frames_in_repair` with a playout delay) and
// `max_partial_bytes` of their buffers, the oldest evicted first; never accepts a fragment of a frame
// that is not newer than the newest one shown. With a playout delay, a frame that completes while an
// older one is still being asked for is held until that one completes or stops being asked for, or
// for the measured repair time (at most the limit); an older frame still incomplete then is dropped.
class FrameReassembler {
public:
    explicit FrameReassembler(std::uint32_t session = 0, ReassemblyLimits limits = {})
        : session_(session), limits_(limits) {}

    void reset(std::uint32_t session) {
        session_ = session;
        partial_.clear();
        partial_bytes_ = 0;
        held_.clear();
        held_bytes_ = 0;
        ready_.clear();
        newest_shown_.reset();
        newest_seen_.reset();
        repairs_ = RepairClock{};
    }

    ReassemblyLimits& limits() { return limits_; }
    const ReassemblyStats& stats() const { return stats_; }
    const RepairClock& repairs() const { return repairs_; }
    std::size_t incomplete_frames() const { return partial_.size(); }
    std::size_t partial_bytes() const { return partial_bytes_; }
    std::size_t held_frames() const { return held_.size(); }
    std::optional<std::uint32_t> newest_shown() const { return newest_shown_; }

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
        if (newest_shown_ && !frame_newer(h.frame, *newest_shown_)) {
            return drop(FragmentOutcome::Stale);
        }
        if (newest_shown_ && h.frame - *newest_shown_ > limits_.max_frame_jump) {
            return drop(FragmentOutcome::TooFarAhead);
        }
        if (std::any_of(held_.begin(), held_.end(), [&h](const Held& held) { return held.frame.header.frame == h.frame; })) {
            ++stats_.duplicates;  // its frame is complete and waits to be shown
            return FragmentOutcome::Duplicate;
        }

        auto it = find(h.frame);
        if (it == partial_.end()) {
            it = start_frame(h, now);
        } else if (!consistent(it->header, h)) {
            return drop(FragmentOutcome::Inconsistent);
        }
        // A fragment of a newer frame ends the burst of the older incomplete ones (SPEC §6.3).
        if (!newest_seen_ || frame_newer(h.frame, *newest_seen_)) {
            newest_seen_ = h.frame;
        }
        Partial& p = *it;
        p.last_arrival = now;
        p.highest_index = (std::max)(p.highest_index, static_cast<int>(h.fragment_index));
        if (p.have[h.fragment_index]) {
            ++stats_.duplicates;
            return FragmentOutcome::Duplicate;
        }
        if (h.retransmission()) {
            const auto asked = p.asked.find(h.fragment_index);
            if (asked != p.asked.end()) {
                repairs_.sample(now - asked->second.first);
            }
        }
        p.have[h.fragment_index] = true;
        ++p.received;
        std::copy(datagram.data + kFragmentHeaderSize, datagram.data + datagram.size,
                  p.data.begin() + static_cast<std::ptrdiff_t>(begin));
        const bool completed = p.received == p.header.fragment_count;
        if (completed) {
            complete(it, now);
        }
        release(now);  // the frame a held one waited for may have completed or been evicted
        return completed ? FragmentOutcome::Completed : FragmentOutcome::Accepted;
    }

    // Shows the held frames whose wait is over, oldest first: the older frame they waited for was
    // repaired or is no longer asked for, the playout delay passed, or too many frames are held. A
    // frame whose delay passed is shown with every older held frame (one that completed later than it).
    void release(Time now) {
        while (!held_.empty()) {
            const bool within_bounds = held_.size() <= limits_.max_held_frames && held_bytes_ <= limits_.max_held_bytes;
            Held& oldest = held_.front();
            if (within_bounds && now < *next_release_time() && repairing_before(oldest.frame.header.frame, now)) {
                break;
            }
            CompleteFrame frame = std::move(oldest.frame);
            held_bytes_ -= frame.jpeg.size();
            held_.pop_front();
            show(std::move(frame));
        }
    }

    // When a held frame's wait runs out, if one is held.
    std::optional<Time> next_release_time() const {
        std::optional<Time> earliest;
        for (const Held& held : held_) {
            if (!earliest || held.until < *earliest) {
                earliest = held.until;
            }
        }
        return earliest;
    }

    // The oldest frame shown and not taken yet. Without a playout delay only the newest is kept (the
    // older ones it replaced are gone); with one, a whole release waits in order: the held frames
    // and the one that overflowed them.
    std::optional<CompleteFrame> take_frame() {
        if (ready_.empty()) {
            return std::nullopt;
        }
        CompleteFrame frame = std::move(ready_.front());
        ready_.pop_front();
        return frame;
    }

    bool has_frame() const { return !ready_.empty(); }
    std::uint64_t frames_replaced() const { return replaced_; }

    // NACKs due at `now` (SPEC §6.3); marks their indices as asked for.
    std::vector<NackRequest> poll_nacks(Time now) {
        std::vector<NackRequest> out;
        if (!limits_.nack_enabled) {
            return out;
        }
        const Time retry = repairs_.retry_interval();
        for (Partial& p : partial_) {
            if (!asked_for(p, now)) {
                p.nacks = limits_.max_nacks_per_frame;  // past its deadline: never NACKed again, no timer either
                continue;
            }
            NackRequest request{p.header.frame, {}};
            for (std::size_t i = 0; i < p.have.size() && request.missing.size() < limits_.max_nack_fragments; ++i) {
                if (!p.have[i] && nack_due(p, i, retry) <= now) {
                    request.missing.push_back(static_cast<std::int64_t>(i));
                }
            }
            if (request.missing.empty()) {
                continue;
            }
            for (std::int64_t index : request.missing) {
                p.asked.emplace(static_cast<std::uint16_t>(index), Asked{now, now}).first->second.last = now;
            }
            ++p.nacks;
            ++stats_.nacks;
            out.push_back(std::move(request));
        }
        return out;
    }

    // When poll_nacks will next have something to send, if ever. Exact, so that an owner waiting on it
    // never spins: a time already past means that poll_nacks sends something now.
    std::optional<Time> next_nack_time() const {
        std::optional<Time> earliest;
        if (!limits_.nack_enabled) {
            return earliest;
        }
        const Time retry = repairs_.retry_interval();
        for (const Partial& p : partial_) {
            if (p.nacks >= limits_.max_nacks_per_frame) {
                continue;
            }
            for (std::size_t i = 0; i < p.have.size(); ++i) {
                if (p.have[i]) {
                    continue;
                }
                const Time due = nack_due(p, i, retry);
                if (due - p.last_arrival <= limits_.frame_deadline && (!earliest || due < *earliest)) {
                    earliest = due;
                }
            }
        }
        return earliest;
    }

private:
    struct Asked {
        Time first = 0;  // the first NACK that asked for the index: a repair is timed from it
        Time last = 0;
    };

    struct Partial {
        FrameHeader header;
        Bytes data;
        std::vector<bool> have;
        std::size_t received = 0;
        Time first_arrival = 0;
        Time last_arrival = 0;
        int highest_index = -1;
        int nacks = 0;
        std::map<std::uint16_t, Asked> asked;  // the indices NACKed: at most fragment_count
    };

    struct Held {
        CompleteFrame frame;
        Time until = 0;
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

    // Is the frame still NACKed: fewer than the most NACKs sent, and a fragment within the deadline?
    bool asked_for(const Partial& p, Time now) const {
        return p.nacks < limits_.max_nacks_per_frame && now - p.last_arrival <= limits_.frame_deadline;
    }

    // When missing index `i` is due to be asked for: at once if it is a loss well below the highest
    // index received, else once the burst is over (quiet, or a newer frame began); and an index
    // already asked for not before the retry interval.
    Time nack_due(const Partial& p, std::size_t i, Time retry) const {
        const bool newer_seen = newest_seen_ && frame_newer(*newest_seen_, p.header.frame);
        const bool loss = static_cast<int>(i) + limits_.reorder_slack <= p.highest_index;
        Time due = loss || newer_seen ? p.last_arrival : p.last_arrival + limits_.nack_quiet;
        const auto asked = p.asked.find(static_cast<std::uint16_t>(i));
        if (asked != p.asked.end()) {
            due = (std::max)(due, asked->second.last + retry);
        }
        return due;
    }

    // Is a frame older than `frame` (and newer than any shown) incomplete and still being asked for?
    bool repairing_before(std::uint32_t frame, Time now) const {
        return limits_.nack_enabled && std::any_of(partial_.begin(), partial_.end(), [&](const Partial& p) {
                   return frame_newer(frame, p.header.frame) && asked_for(p, now);
               });
    }

    std::vector<Partial>::iterator drop_partial(std::vector<Partial>::iterator it) {
        partial_bytes_ -= it->data.size();
        ++stats_.frames_abandoned;
        return partial_.erase(it);
    }

    std::vector<Partial>::iterator start_frame(const FrameHeader& h, Time now) {
        const std::size_t most = limits_.max_playout_delay > 0 ? limits_.max_frames_in_repair : limits_.max_incomplete_frames;
        while (!partial_.empty() &&
               (partial_.size() >= most || partial_bytes_ + h.frame_length > limits_.max_partial_bytes)) {
            auto oldest = partial_.begin();
            for (auto it = partial_.begin(); it != partial_.end(); ++it) {
                if (frame_newer(oldest->header.frame, it->header.frame)) {
                    oldest = it;
                }
            }
            drop_partial(oldest);
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

    // The frame is complete: shown at once, or held behind an older frame under repair.
    void complete(std::vector<Partial>::iterator it, Time now) {
        CompleteFrame frame;
        frame.header = it->header;
        frame.jpeg = std::move(it->data);
        frame.first_fragment_at = it->first_arrival;
        frame.completed_at = now;
        const std::uint32_t number = it->header.frame;
        partial_bytes_ -= frame.jpeg.size();
        partial_.erase(it);
        ++stats_.frames_completed;
        if (limits_.max_playout_delay <= 0 || (held_.empty() && !repairing_before(number, now))) {
            show(std::move(frame));
            return;
        }
        ++stats_.frames_held;
        held_bytes_ += frame.jpeg.size();
        const Time until = now + repairs_.playout_delay(limits_.max_playout_delay, limits_.nack_quiet);
        auto behind = std::find_if(held_.begin(), held_.end(),
                                   [number](const Held& held) { return frame_newer(held.frame.header.frame, number); });
        held_.insert(behind, Held{std::move(frame), until});
    }

    void show(CompleteFrame frame) {
        const std::uint32_t number = frame.header.frame;
        newest_shown_ = number;
        // Incomplete frames older than the newest frame shown can never be shown: drop them.
        for (auto p = partial_.begin(); p != partial_.end();) {
            p = frame_newer(p->header.frame, number) ? p + 1 : drop_partial(p);
        }
        ready_.push_back(std::move(frame));
        const std::size_t room = limits_.max_playout_delay > 0 ? limits_.max_held_frames + 1 : 1;
        while (ready_.size() > room) {
            ready_.pop_front();
            ++replaced_;
        }
    }

    std::uint32_t session_;
    ReassemblyLimits limits_;
    ReassemblyStats stats_;
    RepairClock repairs_;
    std::vector<Partial> partial_;
    std::size_t partial_bytes_ = 0;
    std::deque<Held> held_;  // oldest first
    std::size_t held_bytes_ = 0;
    std::deque<CompleteFrame> ready_;  // shown, not taken yet; oldest first
    std::optional<std::uint32_t> newest_shown_;
    std::optional<std::uint32_t> newest_seen_;  // the newest frame a fragment arrived for
    std::uint64_t replaced_ = 0;
};

}  // namespace yumebridge

// Complete frames wait for the next stage (the decoder, the engine) in order, in small bounded queues,
// so that frames the reassembler releases together (a repaired frame and the one held behind it,
// SPEC §6.3) all reach the screen, one per engine frame, while an engine slower than the stream skips
// to the newest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace yumebridge {

// Frames one queue keeps; when another arrives, the oldest is dropped (never the newest).
constexpr std::size_t kFrameQueueCapacity = 4;

// Pacing of FrameQueue::take_to_show: with at most this many frames waiting the engine shows the
// oldest, so frames released together appear on consecutive engine frames; with more, the engine runs
// slower than the stream, so it shows the newest and the older ones are dropped, which keeps the
// latency bounded.
constexpr std::size_t kFrameQueueMaxBacklog = 2;

// A bounded FIFO of frames, oldest first. Not thread-safe: its owner locks. Its slots are made once
// and reused: a frame is written into the slot push() returns and taken out by a swap, so the buffers
// inside T keep their capacity from frame to frame and steady state allocates nothing.
template <typename T>
class FrameQueue {
public:
    std::size_t size() const { return count_; }

    // Frames dropped without being taken: the queue was full, or take_to_show skipped them.
    std::uint64_t dropped() const { return dropped_; }

    // The slot of a new frame at the back, to be overwritten in place (it holds an earlier frame's
    // buffers). When the queue is full, the oldest frame is dropped first.
    T& push() {
        if (count_ == slots_.size()) {
            drop_oldest();
        }
        T& slot = slots_[(head_ + count_) % slots_.size()];
        ++count_;
        return slot;
    }

    // Swaps the oldest frame into `out`, whose previous contents stay in the freed slot for reuse.
    // False when none waits.
    bool take_oldest(T& out) {
        if (count_ == 0) {
            return false;
        }
        using std::swap;
        swap(out, slots_[head_]);
        head_ = (head_ + 1) % slots_.size();
        --count_;
        return true;
    }

    // The frame to show on this engine frame (call it at most once per engine frame): the oldest,
    // unless more than kFrameQueueMaxBacklog wait; then the newest, and the older ones are dropped.
    bool take_to_show(T& out) {
        if (count_ > kFrameQueueMaxBacklog) {
            while (count_ > 1) {
                drop_oldest();
            }
        }
        return take_oldest(out);
    }

private:
    void drop_oldest() {
        head_ = (head_ + 1) % slots_.size();
        --count_;
        ++dropped_;
    }

    std::array<T, kFrameQueueCapacity> slots_{};
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::uint64_t dropped_ = 0;
};

}  // namespace yumebridge

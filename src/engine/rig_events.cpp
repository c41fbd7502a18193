#include "credfs/engine/rig_events.hpp"

namespace credfs {

RigEvents::RigEvents(size_t rigs)
    : size_(rigs),
      queued_(std::make_unique<std::atomic<bool>[]>(rigs)),
      waiting_(std::make_unique<std::atomic<bool>[]>(rigs)) {
    for (size_t i = 0; i < rigs; ++i) {
        queued_[i] = false;
        waiting_[i] = false;
    }
}

void RigEvents::changed(size_t index) {
    if (index >= size_ || queued_[index].exchange(true)) return;
    MutexLock lock(mu_);
    pending_.push_back(index);
}

std::vector<size_t> RigEvents::take_changed() {
    std::vector<size_t> out;
    {
        MutexLock lock(mu_);
        out.swap(pending_);
    }
    // Cleared before the caller looks at the rigs: a change after this
    // queues the rig again instead of being lost.
    for (const size_t index : out) queued_[index] = false;
    return out;
}

void RigEvents::expect_token(size_t index) {
    if (index >= size_) return;
    // Counted before it is marked: got_token() never takes off more than was put on.
    ++tokenless_;
    if (waiting_[index].exchange(true)) --tokenless_;
}

void RigEvents::got_token(size_t index) {
    if (index < size_ && waiting_[index].exchange(false)) --tokenless_;
}

}  // namespace credfs

// What the rigs of one generation (one RigSet) report to those who watch
// them without walking them all: which rigs' due times may have changed
// (for the scheduler's heap), and how many rigs still have no token (for
// startup readiness). At 100,000 rigs a walk per wake-up costs more than
// the work it finds (issue 14).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

class RigEvents {
  public:
    /// For a generation of `rigs` rigs, indexed as RigSet::rigs.
    explicit RigEvents(size_t rigs);
    RigEvents(const RigEvents&) = delete;
    RigEvents& operator=(const RigEvents&) = delete;

    size_t size() const { return size_; }

    /// Rig `index` may have new due times (a refresh ended, an erase was
    /// applied, a publication was scheduled). Any thread; takes only a leaf
    /// lock, and only when the rig is not already queued. An index out of
    /// range is ignored.
    void changed(size_t index) CREDFS_EXCLUDES(mu_);
    /// The rigs changed since the last call, each once, in no order. A rig
    /// may be queued again as soon as this returns: the caller reads the
    /// rigs' state after, so a change it misses is queued anew.
    std::vector<size_t> take_changed() CREDFS_EXCLUDES(mu_);

    /// Counts rig `index` as waiting for its first token. The registry
    /// calls it for each rig without a token before the generation is
    /// served, then got_token() for those that have one by then.
    void expect_token(size_t index);
    /// Rig `index` has a token now: counted off once, however often it is
    /// called, and before or after expect_token(). Lock-free (a rig calls it
    /// under its own lock).
    void got_token(size_t index);
    /// Rigs expected and not yet counted off. Lock-free.
    size_t tokenless() const { return tokenless_.load(); }

  private:
    const size_t size_;
    std::unique_ptr<std::atomic<bool>[]> queued_;
    std::unique_ptr<std::atomic<bool>[]> waiting_;
    std::atomic<size_t> tokenless_{0};
    Mutex mu_;  // a leaf
    std::vector<size_t> pending_ CREDFS_GUARDED_BY(mu_);
};

}  // namespace credfs

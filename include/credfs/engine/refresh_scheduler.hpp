// The background refresher: one thread that starts each rig's refresh when its
// refresh time (wall clock) comes, through the same Rig::refresh_async path
// that on-demand reads use.
//
// It touches only what is due: a min-heap of wall times (each rig's next
// refresh and next publication) says which rig is next, and a rig whose due
// times may have changed says so through its generation's RigEvents (every
// refresh's end, git's erase, a lag hold). An entry is checked against the
// rig when it comes up, so a stale one never starts a wrong refresh. A
// binary heap rather than a timer wheel: the keys are wall times of any
// precision that jump with the clock, and a few dozen changes a second at
// 100,000 rigs cost log2(n) ~ 17 steps each; a wheel's O(1) buys nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/engine/rig_registry.hpp"

namespace credfs {

class RefreshScheduler {
  public:
    /// `max_sleep_s` bounds each wait (seconds, monotonic), so a wall-clock
    /// jump or a suspended container is noticed within that long after waking.
    /// At most `max_concurrent` background refreshes run at once (on-demand
    /// refreshes are not limited), so startup with many rigs does not open a
    /// connection per rig at once. Every `rescan_s` (wall time, or after
    /// the clock went back) run_due() re-reads every rig's due times: a
    /// safety net for a change no event reported (100,000 rigs: ~0.2 s of
    /// CPU a minute would be 0.3% of a core; 60 s keeps it well under).
    explicit RefreshScheduler(const Clock& clock, double max_sleep_s = 1.0,
                              size_t max_concurrent = 8, double rescan_s = 60);
    ~RefreshScheduler();
    RefreshScheduler(const RefreshScheduler&) = delete;
    RefreshScheduler& operator=(const RefreshScheduler&) = delete;

    /// A callable that wakes the scheduler early; safe to call from any
    /// thread, even after the scheduler is destroyed. Pass it to the rigs.
    std::function<void()> notifier() const;

    /// A liveness hook for a watchdog (the daemon pings systemd's with it):
    /// once started, the thread calls `hook` after a pass of run_due(), at
    /// least every `every_s` seconds (monotonic; each wait is capped to half
    /// of it) and at most every `every_s`/2 (a busy loop does not flood it). A
    /// pass that never returns (a wedged rig) stops the calls: that is the
    /// point. The hook runs on the scheduler's thread: keep it cheap, never
    /// throw. Call before start(); every_s > 0.
    void set_heartbeat(std::function<void()> hook, double every_s);

    /// Starts the thread over `registry` (must outlive stop()). Call after the
    /// daemon has forked: threads do not survive fork.
    void start(const RigRegistry& registry);

    /// Stops and joins the thread. Refreshes in flight keep running; their
    /// Rigs join them. Idempotent.
    void stop();

    /// One pass: publishes the held-back tokens and starts the background
    /// refreshes that are due at wall time `now` (a due rig left waiting by
    /// the max_concurrent limit starts when a pass finds a slot: each
    /// refresh's end wakes the thread). Returns the earliest wall time a
    /// refresh or a publication is due next (or WallTime::max()). Reads
    /// only the rigs that are due or reported a change, except after a
    /// reload (a new RigSet) or every rescan_s: then every rig once.
    /// Exposed for unit tests; one caller at a time.
    WallTime run_due(const RigRegistry& registry, WallTime now) CREDFS_EXCLUDES(mu_);

  private:
    struct WakeState {
        Mutex mu;
        std::condition_variable cv;
        bool woken CREDFS_GUARDED_BY(mu) = false;
        bool stopping CREDFS_GUARDED_BY(mu) = false;
    };

    /// One due time of one rig in the heap; valid while it equals the key
    /// recorded for that rig (lazy deletion).
    struct Entry {
        WallTime at{};
        uint32_t index = 0;
        bool publish = false;  ///< A publication, else a refresh.
    };

    void loop(const RigRegistry& registry);
    /// Calls the heartbeat hook when at least every_s/2 has passed since the last call.
    void beat();
    /// Forgets the old generation and reads every rig of `set`.
    void adopt(std::shared_ptr<const RigSet> set, WallTime now) CREDFS_REQUIRES(mu_);
    /// Reads every rig's due times again and rebuilds the heap.
    void rescan(WallTime now) CREDFS_REQUIRES(mu_);
    /// Reads rig `index`: whether a refresh we started has ended, and its
    /// due times. New due times go into the heap (at once, or into `later`
    /// when they are not after `now`, so one pass never loops on them).
    void track(size_t index, WallTime now, std::vector<Entry>* later) CREDFS_REQUIRES(mu_);
    /// Records `at` as rig `index`'s refresh or publication key; pushes an
    /// entry unless it is unchanged or WallTime::max().
    void set_key(size_t index, bool publish, WallTime at, WallTime now, std::vector<Entry>* later)
        CREDFS_REQUIRES(mu_);
    void push(Entry entry) CREDFS_REQUIRES(mu_);
    /// Handles the heap's entries due at `now`; refreshes due go to ready_.
    void pop_due(WallTime now) CREDFS_REQUIRES(mu_);
    /// Starts ready rigs while fewer than max_concurrent_ of ours run.
    void start_ready(WallTime now) CREDFS_REQUIRES(mu_);
    /// The earliest valid entry's time, dropping stale ones on top.
    WallTime next_due() CREDFS_REQUIRES(mu_);

    const Clock& clock_;
    const double max_sleep_s_;
    const size_t max_concurrent_;
    const double rescan_s_;
    // Set before start(), read by the thread only.
    std::function<void()> heartbeat_;
    double heartbeat_every_s_ = 0;
    std::chrono::steady_clock::time_point last_beat_{};

    // The heap and what it stands for; only run_due's caller touches them.
    Mutex mu_;
    std::shared_ptr<const RigSet> set_ CREDFS_GUARDED_BY(mu_);
    std::vector<Entry> heap_ CREDFS_GUARDED_BY(mu_);
    // Per rig index: the key of its valid refresh / publication entry
    // (WallTime::max(): none), whether a background refresh we started may
    // still run, and whether it waits in ready_.
    std::vector<WallTime> refresh_key_ CREDFS_GUARDED_BY(mu_);
    std::vector<WallTime> publish_key_ CREDFS_GUARDED_BY(mu_);
    std::vector<uint8_t> started_ CREDFS_GUARDED_BY(mu_);
    std::vector<uint8_t> ready_flag_ CREDFS_GUARDED_BY(mu_);
    std::deque<uint32_t> ready_ CREDFS_GUARDED_BY(mu_);  // due, waiting for a slot, in due order
    size_t running_ CREDFS_GUARDED_BY(mu_) = 0;          // our background refreshes not seen ended
    WallTime rescan_at_ CREDFS_GUARDED_BY(mu_){};
    std::shared_ptr<WakeState> wake_ = std::make_shared<WakeState>();
    std::thread thread_;
};

}  // namespace credfs

// The background refresher: one thread that starts each rig's refresh when its
// refresh time (wall clock) comes, through the same Rig::refresh_async path
// that on-demand reads use.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <thread>

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
    /// connection per rig at once.
    explicit RefreshScheduler(const Clock& clock, double max_sleep_s = 1.0,
                              size_t max_concurrent = 8);
    ~RefreshScheduler();
    RefreshScheduler(const RefreshScheduler&) = delete;
    RefreshScheduler& operator=(const RefreshScheduler&) = delete;

    /// A callable that wakes the scheduler early; safe to call from any
    /// thread, even after the scheduler is destroyed. Pass it to the rigs.
    std::function<void()> notifier() const;

    /// Starts the thread over `registry` (must outlive stop()). Call after the
    /// daemon has forked: threads do not survive fork.
    void start(const RigRegistry& registry);

    /// Stops and joins the thread. Refreshes in flight keep running; their
    /// Rigs join them. Idempotent.
    void stop();

    /// One pass: publishes the held-back tokens and starts the background
    /// refreshes that are due at wall time `now`. Returns the earliest wall
    /// time a refresh or a publication is due next (or WallTime::max()).
    /// Exposed for unit tests.
    WallTime run_due(const RigRegistry& registry, WallTime now) const;

  private:
    struct WakeState {
        Mutex mu;
        std::condition_variable cv;
        bool woken CREDFS_GUARDED_BY(mu) = false;
        bool stopping CREDFS_GUARDED_BY(mu) = false;
    };

    void loop(const RigRegistry& registry);

    const Clock& clock_;
    const double max_sleep_s_;
    const size_t max_concurrent_;
    std::shared_ptr<WakeState> wake_ = std::make_shared<WakeState>();
    std::thread thread_;
};

}  // namespace credfs

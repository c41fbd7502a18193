#include "credfs/engine/refresh_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace credfs {

RefreshScheduler::RefreshScheduler(const Clock& clock, double max_sleep_s, size_t max_concurrent)
    : clock_(clock), max_sleep_s_(max_sleep_s), max_concurrent_(max_concurrent) {}

RefreshScheduler::~RefreshScheduler() { stop(); }

std::function<void()> RefreshScheduler::notifier() const {
    std::weak_ptr<WakeState> weak = wake_;
    return [weak] {
        if (auto state = weak.lock()) {
            {
                MutexLock lock(state->mu);
                state->woken = true;
            }
            state->cv.notify_one();
        }
    };
}

void RefreshScheduler::start(const RigRegistry& registry) {
    thread_ = std::thread(&RefreshScheduler::loop, this, std::cref(registry));
}

void RefreshScheduler::stop() {
    {
        MutexLock lock(wake_->mu);
        wake_->stopping = true;
    }
    wake_->cv.notify_one();
    if (thread_.joinable()) thread_.join();
}

WallTime RefreshScheduler::run_due(const RigRegistry& registry, WallTime now) const {
    const auto set = registry.rigs();
    size_t running = 0;
    for (const auto& rig : set->rigs) running += rig->refresh_in_flight() ? 1 : 0;
    WallTime next = WallTime::max();
    for (const auto& rig : set->rigs) {
        // A held-back token is published on time even with no read to do it,
        // so the fallback file (all files mode serves) gets it then.
        rig->publish_due(now);
        next = std::min(next, rig->next_publication_at());
        if (rig->refresh_in_flight()) continue;  // its completion wakes us
        const WallTime due = rig->next_refresh_at();
        if (due > now) {
            next = std::min(next, due);
        } else if (running < max_concurrent_) {
            rig->refresh_async(RefreshTrigger::Background);
            ++running;
        }
    }
    return next;
}

void RefreshScheduler::loop(const RigRegistry& registry) {
    WakeState& wake = *wake_;
    while (true) {
        {
            MutexLock lock(wake.mu);
            if (wake.stopping) break;
        }
        const WallTime now = clock_.now();
        WallTime next = now + to_wall_duration(max_sleep_s_);
        try {
            next = run_due(registry, now);
        } catch (const std::exception& e) {
            // E.g. no thread could be started: try again on the next pass.
            spdlog::error("refresh scheduler: {}", e.what());
        }
        const double until_due =
            next == WallTime::max() ? max_sleep_s_ : std::max(0.0, seconds_between(now, next));
        MutexLock lock(wake.mu);
        if (wake.stopping) break;
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(std::min(until_due, max_sleep_s_)));
        while (!wake.woken && !wake.stopping) {
            if (wake.mu.wait_until(wake.cv, deadline) == std::cv_status::timeout) break;
        }
        wake.woken = false;
    }
}

}  // namespace credfs

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
                std::lock_guard lock(state->mu);
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
        std::lock_guard lock(wake_->mu);
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
    std::unique_lock lock(wake_->mu);
    while (!wake_->stopping) {
        lock.unlock();
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
        lock.lock();
        if (wake_->stopping) break;
        wake_->cv.wait_for(lock, std::chrono::duration<double>(std::min(until_due, max_sleep_s_)),
                           [this] { return wake_->woken || wake_->stopping; });
        wake_->woken = false;
    }
}

}  // namespace credfs

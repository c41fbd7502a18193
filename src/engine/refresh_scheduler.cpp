#include "credfs/engine/refresh_scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace credfs {

RefreshScheduler::RefreshScheduler(const Clock& clock, double max_sleep_s, size_t max_concurrent,
                                   double rescan_s)
    : clock_(clock),
      max_sleep_s_(max_sleep_s),
      max_concurrent_(max_concurrent),
      rescan_s_(rescan_s) {}

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

void RefreshScheduler::set_heartbeat(std::function<void()> hook, double every_s) {
    heartbeat_ = std::move(hook);
    heartbeat_every_s_ = every_s;
}

void RefreshScheduler::beat() {
    if (!heartbeat_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_beat_ < std::chrono::duration<double>(heartbeat_every_s_ / 2)) return;
    last_beat_ = now;
    heartbeat_();
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

namespace {

constexpr WallTime kNever = WallTime::max();

// std::push_heap keeps the largest on top: "greater" makes it a min-heap.
template <class E>
bool later_first(const E& a, const E& b) {
    return a.at > b.at;
}

}  // namespace

WallTime RefreshScheduler::run_due(const RigRegistry& registry, WallTime now) {
    MutexLock lock(mu_);
    auto set = registry.rigs();
    if (set != set_) {
        adopt(std::move(set), now);
    } else if (now >= rescan_at_ || now + to_wall_duration(rescan_s_) < rescan_at_) {
        rescan(now);  // the safety net, and a clock that went back
    }
    if (set_->events) {
        for (const size_t index : set_->events->take_changed()) track(index, now, nullptr);
    }
    pop_due(now);
    start_ready(now);
    return next_due();
}

void RefreshScheduler::adopt(std::shared_ptr<const RigSet> set, WallTime now) {
    // The old rigs were retired before the swap: none of our refreshes runs.
    set_ = std::move(set);
    const size_t n = set_->rigs.size();
    refresh_key_.assign(n, kNever);
    publish_key_.assign(n, kNever);
    started_.assign(n, 0);
    ready_flag_.assign(n, 0);
    ready_.clear();
    running_ = 0;
    if (set_->events) set_->events->take_changed();  // read below anyway
    rescan(now);
}

void RefreshScheduler::rescan(WallTime now) {
    rescan_at_ = now + to_wall_duration(rescan_s_);
    heap_.clear();
    for (size_t i = 0; i < set_->rigs.size(); ++i) {
        const Rig& rig = *set_->rigs[i];
        const bool in_flight = rig.refresh_in_flight();
        if (started_[i] != 0 && !in_flight) {
            started_[i] = 0;
            --running_;
        }
        refresh_key_[i] = in_flight || ready_flag_[i] != 0 ? kNever : rig.next_refresh_at();
        publish_key_[i] = rig.next_publication_at();
        const auto index = static_cast<uint32_t>(i);
        if (refresh_key_[i] != kNever) heap_.push_back({refresh_key_[i], index, false});
        if (publish_key_[i] != kNever) heap_.push_back({publish_key_[i], index, true});
    }
    std::make_heap(heap_.begin(), heap_.end(), later_first<Entry>);
}

void RefreshScheduler::track(size_t index, WallTime now, std::vector<Entry>* later) {
    const Rig& rig = *set_->rigs[index];
    const bool in_flight = rig.refresh_in_flight();
    if (started_[index] != 0 && !in_flight) {
        started_[index] = 0;
        --running_;
    }
    // A refresh in flight reports its end; a ready rig is re-read when it starts.
    if (!in_flight && ready_flag_[index] == 0) {
        set_key(index, false, rig.next_refresh_at(), now, later);
    }
    set_key(index, true, rig.next_publication_at(), now, later);
}

void RefreshScheduler::set_key(size_t index, bool publish, WallTime at, WallTime now,
                               std::vector<Entry>* later) {
    WallTime& key = publish ? publish_key_[index] : refresh_key_[index];
    if (key == at) return;
    key = at;
    if (at == kNever) return;
    const Entry entry{at, static_cast<uint32_t>(index), publish};
    if (later != nullptr && at <= now) {
        later->push_back(entry);
    } else {
        push(entry);
    }
}

void RefreshScheduler::push(Entry entry) {
    heap_.push_back(entry);
    std::push_heap(heap_.begin(), heap_.end(), later_first<Entry>);
    // Stale entries pile up when due times move a lot; compact now and then.
    if (heap_.size() > 4 * set_->rigs.size() + 64) {
        heap_.clear();
        for (size_t i = 0; i < set_->rigs.size(); ++i) {
            const auto index = static_cast<uint32_t>(i);
            if (refresh_key_[i] != kNever) heap_.push_back({refresh_key_[i], index, false});
            if (publish_key_[i] != kNever) heap_.push_back({publish_key_[i], index, true});
        }
        std::make_heap(heap_.begin(), heap_.end(), later_first<Entry>);
    }
}

void RefreshScheduler::pop_due(WallTime now) {
    std::vector<Entry> later;
    while (!heap_.empty() && heap_.front().at <= now) {
        std::pop_heap(heap_.begin(), heap_.end(), later_first<Entry>);
        const Entry entry = heap_.back();
        heap_.pop_back();
        WallTime& key = entry.publish ? publish_key_[entry.index] : refresh_key_[entry.index];
        if (key != entry.at) continue;  // superseded
        key = kNever;
        Rig& rig = *set_->rigs[entry.index];
        if (entry.publish) {
            // A held-back token is published on time even with no read to do
            // it, so the fallback file (all files mode serves) gets it then.
            rig.publish_due(now);
            set_key(entry.index, true, rig.next_publication_at(), now, &later);
            continue;
        }
        if (rig.refresh_in_flight()) continue;  // its end is reported
        const WallTime due = rig.next_refresh_at();
        if (due > now) {
            set_key(entry.index, false, due, now, &later);
        } else if (ready_flag_[entry.index] == 0) {
            ready_flag_[entry.index] = 1;
            ready_.push_back(entry.index);
        }
    }
    for (const Entry& entry : later) push(entry);
}

void RefreshScheduler::start_ready(WallTime now) {
    while (running_ < max_concurrent_ && !ready_.empty()) {
        const uint32_t index = ready_.front();
        Rig& rig = *set_->rigs[index];
        if (rig.refresh_in_flight()) {
            // An on-demand refresh got there first; its end is reported.
            ready_.pop_front();
            ready_flag_[index] = 0;
            continue;
        }
        if (const WallTime due = rig.next_refresh_at(); due > now) {
            ready_.pop_front();  // moved later since (e.g. a read refreshed it)
            ready_flag_[index] = 0;
            set_key(index, false, due, now, nullptr);
            continue;
        }
        rig.refresh_async(RefreshTrigger::Background);  // throws: stays ready for the next pass
        ready_.pop_front();
        ready_flag_[index] = 0;
        started_[index] = 1;
        ++running_;
    }
}

WallTime RefreshScheduler::next_due() {
    while (!heap_.empty()) {
        const Entry& top = heap_.front();
        const WallTime key = top.publish ? publish_key_[top.index] : refresh_key_[top.index];
        if (key == top.at) return top.at;
        std::pop_heap(heap_.begin(), heap_.end(), later_first<Entry>);
        heap_.pop_back();
    }
    return kNever;
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
        beat();  // only after a pass that returned: a wedged one stops the pings
        double sleep_s =
            next == WallTime::max() ? max_sleep_s_ : std::max(0.0, seconds_between(now, next));
        sleep_s = std::min(sleep_s, max_sleep_s_);
        // Half: a pass skipped for coming too soon is followed by one in time.
        if (heartbeat_) sleep_s = std::min(sleep_s, heartbeat_every_s_ / 2);
        MutexLock lock(wake.mu);
        if (wake.stopping) break;
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(sleep_s));
        while (!wake.woken && !wake.stopping) {
            if (wake.mu.wait_until(wake.cv, deadline) == std::cv_status::timeout) break;
        }
        wake.woken = false;
    }
}

}  // namespace credfs

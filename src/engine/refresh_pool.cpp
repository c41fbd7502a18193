#include "credfs/engine/refresh_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "credfs/core/signals.hpp"

namespace credfs {

/// Its fields change only under the pool's mu_ (the analysis cannot see
/// through the shared_ptr, hence no annotations).
class RefreshPool::Job {
  public:
    Job(std::function<void()> run, bool in_urgent_lane)
        : fn(std::move(run)), urgent(in_urgent_lane) {}
    std::function<void()> fn;
    bool urgent;         // in the urgent lane (also when promoted from the other)
    bool taken = false;  // a worker runs it or ran it
};

RefreshPool::RefreshPool(std::size_t background_workers, std::size_t urgent_reserve)
    : background_max_(std::max<std::size_t>(background_workers, 1)),
      max_workers_(background_max_ + std::max<std::size_t>(urgent_reserve, 1)) {}

RefreshPool::~RefreshPool() { stop(); }

RefreshPool& RefreshPool::shared() {
    // Never destroyed: a static's destructor would join workers at exit,
    // after whatever they refer to may be gone.
    static auto* const pool = new RefreshPool();  // NOLINT(cppcoreguidelines-owning-memory)
    return *pool;
}

RefreshPool::Ticket RefreshPool::submit(Lane lane, std::function<void()> job) {
    const bool urgent = lane == Lane::Urgent;
    auto ticket = std::make_shared<Job>(std::move(job), urgent);
    MutexLock lock(mu_);
    if (stopping_) throw std::logic_error("refresh pool: stopped, no refresh can start");
    (urgent ? urgent_ : background_).push_back(ticket);
    if (!urgent) ++background_queued_;
    try {
        add_worker_if_needed();
    } catch (const std::system_error&) {
        // With a worker running the job waits for it; with none it never runs.
        if (!threads_.empty()) return ticket;
        (urgent ? urgent_ : background_).pop_back();
        if (!urgent) --background_queued_;
        throw;
    }
    cv_.notify_one();
    return ticket;
}

void RefreshPool::promote(const Ticket& ticket) {
    if (!ticket) return;
    MutexLock lock(mu_);
    if (ticket->taken || ticket->urgent) return;
    ticket->urgent = true;
    --background_queued_;
    urgent_.push_back(ticket);  // its background_ entry is skipped when reached
    if (stopping_) return;      // the workers drain every queued job anyway
    try {
        add_worker_if_needed();
    } catch (const std::system_error& e) {
        // Still urgent: it runs as soon as a worker is free.
        spdlog::warn("refresh pool: no worker started for a reader's refresh: {}", e.what());
    }
    cv_.notify_one();
}

void RefreshPool::stop() {
    std::vector<std::thread> threads;
    {
        MutexLock lock(mu_);
        stopping_ = true;
        threads = std::move(threads_);
        threads_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
}

std::size_t RefreshPool::workers() const {
    MutexLock lock(mu_);
    return threads_.size();
}

std::size_t RefreshPool::running() const {
    MutexLock lock(mu_);
    return running_;
}

std::size_t RefreshPool::runnable() const {
    const std::size_t background_free =
        background_running_ < background_max_ ? background_max_ - background_running_ : 0;
    return urgent_.size() + std::min(background_queued_, background_free);
}

void RefreshPool::add_worker_if_needed() {
    if (runnable() <= idle_ || threads_.size() >= max_workers_) return;
    // Threads inherit the mask of the thread that starts them: a FUSE
    // worker's, which takes SIGTERM. A SIGTERM handled on a refresh worker
    // sets libfuse's exit flag while the main loop sleeps on, and the daemon
    // hangs (LifecycleTest.SigtermAsSoonAsTheMountAppearsUnmountsAndExitsZero
    // under TSan). Blocked here, the signal reaches a thread that wakes.
    const DaemonSignalsBlocked blocked;
    threads_.emplace_back(&RefreshPool::work, this);
}

RefreshPool::Ticket RefreshPool::next_job() {
    while (!urgent_.empty()) {
        Ticket job = std::move(urgent_.front());
        urgent_.pop_front();
        if (job->taken) continue;
        job->taken = true;
        return job;
    }
    if (background_running_ >= background_max_) return nullptr;
    while (!background_.empty()) {
        Ticket job = std::move(background_.front());
        background_.pop_front();
        if (job->taken || job->urgent) continue;  // promoted: run from the urgent lane
        job->taken = true;
        --background_queued_;
        return job;
    }
    return nullptr;
}

void RefreshPool::work() {
    MutexLock lock(mu_);
    while (true) {
        Ticket job = next_job();
        if (!job) {
            // Nothing this worker may take: once stopping, whatever is still
            // queued waits for a running background job's worker.
            if (stopping_) return;
            ++idle_;
            mu_.wait(cv_);
            --idle_;
            continue;
        }
        const bool background = !job->urgent;
        std::function<void()> fn = std::move(job->fn);
        job.reset();
        ++running_;
        if (background) ++background_running_;
        lock.unlock();
        run(fn);
        fn = nullptr;  // what it holds goes now, not with the next job
        // The count drops and the worker counts as idle in one hold of the
        // lock: a job submitted once running() is 0 finds it idle.
        lock.lock();
        --running_;
        if (background) --background_running_;
    }
}

void RefreshPool::run(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        spdlog::error("refresh pool: a refresh threw: {}", e.what());
    } catch (...) {
        spdlog::error("refresh pool: a refresh threw");
    }
}

}  // namespace credfs

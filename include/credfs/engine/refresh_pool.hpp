// The threads that run refreshes: a few long-lived workers instead of a new
// thread per refresh, in two lanes so a reader never waits behind the
// scheduler's background work.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

/// Runs jobs (one refresh each) on worker threads it starts lazily, up to
/// background_workers + urgent_reserve of them, kept for the next job.
///
/// Two lanes. Background jobs (the scheduler's renewals) run at most
/// `background_workers` at a time, oldest first. Urgent jobs (a reader is
/// waiting: on-demand, or git just reported the token rejected) are taken
/// before any background job and may use every worker, so at least
/// `urgent_reserve` workers are never busy with background work: a reader's
/// refresh starts at once unless that many urgent refreshes already run, and
/// never waits behind slow background ones. A queued background job can be
/// promoted to urgent (a reader joined its flight). Why a reserve rather than
/// only jumping the queue: a queue jump still waits for a worker, and with
/// every worker stuck on a hung upstream for request_timeout_s that wait
/// would be the reader's.
///
/// Workers start with the daemon's stop signals and SIGHUP blocked
/// (core/signals.hpp: a SIGTERM handled on a worker would hang the daemon),
/// and only when a job needs them, so a pool made before the daemon forks
/// holds no thread to lose. Thread-safe.
class RefreshPool {
  public:
    enum class Lane { Background, Urgent };
    /// A submitted job, for promote(). Opaque; null when none.
    class Job;
    using Ticket = std::shared_ptr<Job>;

    /// The defaults the daemon uses: the scheduler's bound on concurrent
    /// background refreshes (RefreshScheduler's max_concurrent), and as many
    /// workers again kept free of background work for readers.
    static constexpr std::size_t kDefaultBackgroundWorkers = 8;
    static constexpr std::size_t kDefaultUrgentReserve = 8;

    /// Both at least 1 (0 is taken as 1).
    explicit RefreshPool(std::size_t background_workers = kDefaultBackgroundWorkers,
                         std::size_t urgent_reserve = kDefaultUrgentReserve);
    /// stop().
    ~RefreshPool();
    RefreshPool(const RefreshPool&) = delete;
    RefreshPool& operator=(const RefreshPool&) = delete;

    /// Queues `job` in `lane`, starting a worker when none is free for it
    /// and the cap allows. The job must not throw (one that does is logged
    /// and dropped). Throws std::system_error when no worker runs and none
    /// can be started (then `job` is not queued), std::logic_error after
    /// stop().
    Ticket submit(Lane lane, std::function<void()> job) CREDFS_EXCLUDES(mu_);

    /// Moves `ticket`'s job to the urgent lane if it is still queued in the
    /// background lane; otherwise (running, done, already urgent, null)
    /// nothing.
    void promote(const Ticket& ticket) CREDFS_EXCLUDES(mu_);

    /// Runs every job already queued, then joins the workers. Jobs submitted
    /// after this are refused. Idempotent.
    void stop() CREDFS_EXCLUDES(mu_);

    /// For tests and status: workers started and not yet joined, and jobs
    /// running now.
    std::size_t workers() const CREDFS_EXCLUDES(mu_);
    std::size_t running() const CREDFS_EXCLUDES(mu_);

    /// A pool for rigs that were given none (Rig::set_refresh_pool): made on
    /// first use, never destroyed (its idle workers end with the process).
    static RefreshPool& shared();

  private:
    /// The next job a free worker may take, removed from its lane; null when
    /// none may run now.
    Ticket next_job() CREDFS_REQUIRES(mu_);
    /// Queued jobs a free worker could take now.
    std::size_t runnable() const CREDFS_REQUIRES(mu_);
    /// Starts a worker if the runnable jobs outnumber the idle workers.
    void add_worker_if_needed() CREDFS_REQUIRES(mu_);
    void work() CREDFS_EXCLUDES(mu_);
    /// Runs one job without the lock; an exception is logged, not thrown.
    static void run(const std::function<void()>& fn);

    const std::size_t background_max_;
    const std::size_t max_workers_;
    mutable Mutex mu_;
    std::condition_variable cv_;
    std::deque<Ticket> urgent_ CREDFS_GUARDED_BY(mu_);
    std::deque<Ticket> background_ CREDFS_GUARDED_BY(mu_);      // promoted ones are skipped
    std::size_t background_queued_ CREDFS_GUARDED_BY(mu_) = 0;  // not promoted, not taken
    std::size_t background_running_ CREDFS_GUARDED_BY(mu_) = 0;
    std::size_t running_ CREDFS_GUARDED_BY(mu_) = 0;
    std::size_t idle_ CREDFS_GUARDED_BY(mu_) = 0;
    bool stopping_ CREDFS_GUARDED_BY(mu_) = false;
    std::vector<std::thread> threads_ CREDFS_GUARDED_BY(mu_);
};

}  // namespace credfs

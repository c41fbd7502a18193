// What the kernel may cache of rig files, and how the mount drops it when a
// rig's served content changes (docs/design.md, "Kernel caching").
//
// The kernel keeps a rig file's attributes (10-s attribute timeout) so the
// permission check at open and fstat need no request, and every change of the
// served content invalidates them at once, before the change is visible to
// any open. Reads stay direct_io: a handle's bytes never come from a page
// another handle filled (a MAP_PRIVATE mmap or POSIX_FADV_WILLNEED fills the
// page cache even through a direct_io handle, so no open can prove what the
// pages hold). The pages such calls leave are dropped too, on a thread of
// its own, since that may wait for reads in flight.
//
// FUSE-free: the invalidation is a function the adapter supplies
// (fuse_lowlevel_notify_inval_inode), so unit tests drive this directly.
#pragma once

#include <condition_variable>
#include <functional>
#include <set>
#include <thread>

#include "credfs/core/thread_annotations.hpp"
#include "credfs/fs/inodes.hpp"

namespace credfs {

class KernelCache {
  public:
    /// Drops the kernel's cached attributes of an inode and, when `pages`,
    /// its cached pages; returns 0 or a negative errno. Without `pages` it
    /// must never block on a FUSE request.
    using Invalidate = std::function<int(Ino, bool pages)>;

    KernelCache() = default;
    /// Stops the queue's thread (stop()).
    ~KernelCache();
    KernelCache(const KernelCache&) = delete;
    KernelCache& operator=(const KernelCache&) = delete;

    /// Sets the invalidation (empty: none, e.g. before the mount or in
    /// unit tests). Stop the queue and unsubscribe from changes before
    /// clearing it for good: calls in progress use a copy.
    void set_invalidate(Invalidate invalidate) CREDFS_EXCLUDES(mu_);

    /// The served content of `ino` changed: drops its attributes now (so
    /// no open after the change sees the old size) and queues its pages
    /// for the queue's thread. Called under the Rig's lock (ServedFeed):
    /// never waits on the kernel. Thread-safe.
    void changed(Ino ino) CREDFS_EXCLUDES(mu_, queue_mu_);

    /// Starts the thread that drops queued pages (start it with the stop
    /// signals blocked). stop() joins it and drops what is queued;
    /// idempotent.
    void start() CREDFS_EXCLUDES(queue_mu_);
    void stop() CREDFS_EXCLUDES(queue_mu_);

  private:
    Invalidate current() const CREDFS_EXCLUDES(mu_);
    void drain_queue() CREDFS_EXCLUDES(queue_mu_);

    mutable Mutex mu_;
    Invalidate invalidate_ CREDFS_GUARDED_BY(mu_);

    Mutex queue_mu_;
    std::condition_variable queue_cv_;
    std::set<Ino> queued_ CREDFS_GUARDED_BY(queue_mu_);
    bool running_ CREDFS_GUARDED_BY(queue_mu_) = false;
    std::thread thread_;
};

}  // namespace credfs

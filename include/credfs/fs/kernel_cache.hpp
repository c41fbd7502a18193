// Which opens of a rig file may read through the kernel's page cache, and
// which content the file's attributes describe meanwhile. The argument that
// no read ever gets older content than its open was given, or a torn line,
// is in docs/design.md ("Kernel caching"); in short:
//
// * A handle reads through the cache only when every handle that does so now
//   reads the same bytes (`cached_` below), so the pages the kernel fills can
//   only hold those bytes.
// * The cached content changes only when no such handle is open, and only
//   after the kernel has dropped the inode's pages and attributes (the
//   invalidation, done before the open is answered). With no cached handle
//   open no read is in flight on the inode, so that never waits on a read.
// * While a cached handle is open, the inode's attributes report the cached
//   content's size, so the kernel's i_size always matches its pages.
// * Any other open is direct_io: its reads reach the daemon and its handle.
//
// FUSE-free: the invalidation is a function the adapter supplies
// (fuse_lowlevel_notify_inval_inode), so unit tests drive this directly.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <set>
#include <thread>
#include <unordered_map>

#include "credfs/core/credential.hpp"
#include "credfs/core/thread_annotations.hpp"
#include "credfs/fs/inodes.hpp"

namespace credfs {

/// Counters for tests and benchmarks.
struct KernelCacheStats {
    uint64_t cached_opens = 0;   ///< Opens answered with the page cache (keep_cache).
    uint64_t direct_opens = 0;   ///< Opens answered with direct_io.
    uint64_t invalidations = 0;  ///< Invalidations done at open (not the queued ones).
};

class KernelCache {
  public:
    /// Drops the kernel's attributes and pages of an inode; 0 or a negative
    /// errno. Must not wait on a read of that inode.
    using Invalidate = std::function<int(Ino)>;

    KernelCache() = default;
    /// Stops the queue's thread (stop()).
    ~KernelCache();
    KernelCache(const KernelCache&) = delete;
    KernelCache& operator=(const KernelCache&) = delete;

    /// Turns caching on with `invalidate` (empty: off). Until then, and after
    /// it is set empty, every open is direct_io. Set it while the mount
    /// serves; clear it before the session goes.
    void set_invalidate(Invalidate invalidate) CREDFS_EXCLUDES(mu_);

    /// For an open of rig file `ino` that serves `content` (not null): true
    /// when its handle may read through the page cache; then release(ino)
    /// must be called once when that handle is released. May invalidate
    /// `ino` first (a blocking call of the Invalidate function); when that
    /// fails the answer is false. Thread-safe.
    bool admit(Ino ino, const CredentialPtr& content) CREDFS_EXCLUDES(mu_);

    /// A handle admit() said true for is released. Thread-safe.
    void release(Ino ino) CREDFS_EXCLUDES(mu_);

    /// What the attributes of `ino` must describe (size, mtime): the content
    /// cached handles read while one is open, else `current` (what an open
    /// would serve now). Thread-safe.
    CredentialPtr attr_content(Ino ino, CredentialPtr current) const CREDFS_EXCLUDES(mu_);

    /// The served content of `ino` changed: its attributes and pages are
    /// dropped soon, on the queue's thread, so stat shows the new size
    /// without waiting for an open. Never blocks on the kernel. Thread-safe.
    void changed(Ino ino) CREDFS_EXCLUDES(queue_mu_);

    /// Starts the thread that works the changed() queue (start it with the
    /// stop signals blocked). stop() joins it; idempotent. Stop it before
    /// clearing the Invalidate function: the thread calls a copy of it.
    void start();
    void stop() CREDFS_EXCLUDES(queue_mu_);

    KernelCacheStats stats() const CREDFS_EXCLUDES(mu_);

  private:
    struct State {
        CredentialPtr cached;  ///< What the kernel's pages may hold; null: nothing proven.
        uint32_t opens = 0;    ///< Open handles reading through the cache.
    };
    void drain_queue() CREDFS_EXCLUDES(queue_mu_);

    mutable Mutex mu_;
    std::unordered_map<Ino, State> states_ CREDFS_GUARDED_BY(mu_);
    Invalidate invalidate_ CREDFS_GUARDED_BY(mu_);
    KernelCacheStats stats_ CREDFS_GUARDED_BY(mu_);

    Mutex queue_mu_;
    std::condition_variable queue_cv_;
    std::set<Ino> queued_ CREDFS_GUARDED_BY(queue_mu_);
    bool running_ CREDFS_GUARDED_BY(queue_mu_) = false;
    std::thread thread_;
};

}  // namespace credfs

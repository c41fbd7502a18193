#include "credfs/fs/kernel_cache.hpp"

#include <utility>

namespace credfs {

KernelCache::~KernelCache() { stop(); }

void KernelCache::set_invalidate(Invalidate invalidate) {
    MutexLock lock(mu_);
    invalidate_ = std::move(invalidate);
}

KernelCache::Invalidate KernelCache::current() const {
    MutexLock lock(mu_);
    return invalidate_;
}

void KernelCache::changed(Ino ino) {
    // Attributes only: the kernel drops them without waiting on anything.
    // An attribute answer computed before this and delivered after it is
    // discarded by the kernel (its attribute version is older).
    if (const Invalidate invalidate = current()) invalidate(ino, false);
    {
        MutexLock lock(queue_mu_);
        if (!running_) return;
        queued_.insert(ino);
    }
    queue_cv_.notify_one();
}

void KernelCache::start() {
    {
        MutexLock lock(queue_mu_);
        if (running_) return;
        running_ = true;
    }
    thread_ = std::thread(&KernelCache::drain_queue, this);
}

void KernelCache::stop() {
    {
        MutexLock lock(queue_mu_);
        running_ = false;
        queued_.clear();
    }
    queue_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void KernelCache::drain_queue() {
    while (true) {
        std::set<Ino> batch;
        {
            MutexLock lock(queue_mu_);
            while (queued_.empty() && running_) queue_mu_.wait(queue_cv_);
            if (!running_) return;
            batch.swap(queued_);
        }
        // Pages a private mapping or a readahead filled; dropping them may
        // wait for such a read in flight, which no lock of ours holds up.
        const Invalidate invalidate = current();
        for (const Ino ino : batch) {
            if (invalidate) invalidate(ino, true);
        }
    }
}

}  // namespace credfs

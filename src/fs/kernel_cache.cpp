#include "credfs/fs/kernel_cache.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>
#include <vector>

namespace credfs {

namespace {

bool same_bytes(const CredentialPtr& a, const CredentialPtr& b) {
    return a == b || (a && b && a->content == b->content);
}

}  // namespace

KernelCache::~KernelCache() { stop(); }

void KernelCache::set_invalidate(Invalidate invalidate) {
    MutexLock lock(mu_);
    invalidate_ = std::move(invalidate);
    // What the kernel cached under the old function is unknown to the new one.
    for (auto& [ino, state] : states_) state.cached.reset();
}

bool KernelCache::admit(Ino ino, const CredentialPtr& content) {
    MutexLock lock(mu_);
    State& state = states_[ino];
    if (invalidate_ && same_bytes(state.cached, content)) {
        ++state.opens;
        ++stats_.cached_opens;
        return true;
    }
    if (!invalidate_ || state.opens > 0) {
        // Handles reading other bytes through the cache are open: they could
        // fill it again after an invalidation.
        ++stats_.direct_opens;
        return false;
    }
    // Under mu_: no other open may be admitted for these bytes before the
    // kernel has dropped the old ones. No cached handle is open, so no read
    // of this inode is in flight and the call does not wait on one.
    ++stats_.invalidations;
    if (const int rc = invalidate_(ino); rc != 0 && rc != -ENOENT) {
        // -ENOENT: the kernel holds nothing for the inode; anything else
        // leaves its cache unknown.
        spdlog::warn("kernel cache: cannot invalidate inode {}: {}", ino, std::strerror(-rc));
        state.cached.reset();
        ++stats_.direct_opens;
        return false;
    }
    state.cached = content;
    state.opens = 1;
    ++stats_.cached_opens;
    return true;
}

void KernelCache::release(Ino ino) {
    MutexLock lock(mu_);
    const auto it = states_.find(ino);
    if (it != states_.end() && it->second.opens > 0) --it->second.opens;
}

CredentialPtr KernelCache::attr_content(Ino ino, CredentialPtr current) const {
    MutexLock lock(mu_);
    const auto it = states_.find(ino);
    if (it != states_.end() && it->second.opens > 0 && it->second.cached) return it->second.cached;
    return current;
}

void KernelCache::changed(Ino ino) {
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
        Invalidate invalidate;
        {
            MutexLock lock(mu_);
            invalidate = invalidate_;
        }
        // Outside mu_: with cached handles open this may wait for their
        // reads, which never need mu_. Dropping pages and attributes is
        // always safe: the kernel asks again, and the answers follow the
        // rules above.
        for (const Ino ino : batch) {
            if (invalidate) invalidate(ino);
        }
    }
}

KernelCacheStats KernelCache::stats() const {
    MutexLock lock(mu_);
    return stats_;
}

}  // namespace credfs

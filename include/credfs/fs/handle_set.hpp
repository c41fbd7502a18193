// The open handles the kernel holds (fuse_file_info::fh), owned here rather
// than by the kernel's promise to send RELEASE: when the daemon stops with
// files still open (SIGTERM while git holds a lock file), no RELEASE comes,
// and whatever the set still holds is freed with it.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

template <class T>
class HandleSet {
  public:
    /// Takes ownership of `handle` and returns the number for fi->fh (its
    /// address, never 0). Thread-safe.
    uint64_t adopt(std::unique_ptr<T> handle) CREDFS_EXCLUDES(mu_) {
        T* raw = handle.get();
        MutexLock lock(mu_);
        live_.emplace(raw, std::move(handle));
        return to_fh(raw);
    }

    /// The handle behind `fh`, still owned here; nullptr for 0. Valid until
    /// take(fh): the kernel sends no request on a handle after its RELEASE.
    static T* get(uint64_t fh) {
        // NOLINTNEXTLINE(performance-no-int-to-ptr): fi->fh is how libfuse hands a handle back
        return reinterpret_cast<T*>(static_cast<uintptr_t>(fh));
    }

    /// Gives the handle behind `fh` back (RELEASE, or a reply that failed so
    /// no RELEASE will come); nullptr when `fh` is not held. Thread-safe.
    std::unique_ptr<T> take(uint64_t fh) CREDFS_EXCLUDES(mu_) {
        MutexLock lock(mu_);
        const auto it = live_.find(get(fh));
        if (it == live_.end()) return nullptr;
        std::unique_ptr<T> handle = std::move(it->second);
        live_.erase(it);
        return handle;
    }

    /// How many handles are held (open and not yet released).
    size_t size() const CREDFS_EXCLUDES(mu_) {
        MutexLock lock(mu_);
        return live_.size();
    }

  private:
    static uint64_t to_fh(T* raw) {
        return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(raw));
    }

    mutable Mutex mu_;
    std::unordered_map<T*, std::unique_ptr<T>> live_ CREDFS_GUARDED_BY(mu_);
};

}  // namespace credfs

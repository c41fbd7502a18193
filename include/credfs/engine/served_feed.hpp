// Tells a front end that a rig's served content changed (a refresh, a
// publication, git's rewrite, a seed at reload), so it can drop what it let
// the kernel cache (the FUSE mount's page cache, docs/design.md "Kernel
// caching"). Never carries a token: only the rig's file name.
#pragma once

#include <functional>
#include <string>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

class ServedFeed {
  public:
    /// Called with the rig's file name (config `file`), on the thread that
    /// changed the content and under that Rig's lock: it must not block or
    /// call back into the Rig.
    using Listener = std::function<void(const std::string& file)>;

    /// Replaces the listener (empty: none). Returns once no call of the old
    /// one is running, so its owner may be destroyed then. Thread-safe.
    void subscribe(Listener listener) CREDFS_EXCLUDES(mu_);

    /// Runs the listener, if any, for `file`. Thread-safe.
    void changed(const std::string& file) const CREDFS_EXCLUDES(mu_);

  private:
    mutable Mutex mu_;
    Listener listener_ CREDFS_GUARDED_BY(mu_);
};

}  // namespace credfs

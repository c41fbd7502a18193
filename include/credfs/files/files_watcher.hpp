// Files mode's front end: with no mount, the rig files are plain files in
// the directory, kept fresh by the engine's write-through (FallbackStore).
// What is left to a front end is git's side: its credential-store helper
// rewrites a rig file by renaming `<file>.lock` over it (git's lockfile.c),
// on `store` after a success and on `erase` after a 401. This watcher sees
// those renames through inotify(7) and hands them to the engine as the mount
// does: an erase is a rejection (forced refresh, then rewrite), an approval
// keeps the other lines and gets the managed line back first with the
// current token. A rig file that was removed is written again, and one
// whose write failed is retried every second.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "credfs/engine/backing_dir.hpp"
#include "credfs/engine/rig_registry.hpp"

namespace credfs {

class FilesWatcher {
  public:
    /// Watches `path` (the directory `dir` has open); `registry` and `dir`
    /// must outlive the watcher.
    FilesWatcher(std::string path, RigRegistry& registry, const BackingDir& dir);
    /// stop().
    ~FilesWatcher();
    FilesWatcher(const FilesWatcher&) = delete;
    FilesWatcher& operator=(const FilesWatcher&) = delete;

    /// Starts watching on a thread of its own. Throws std::system_error
    /// naming the path when inotify cannot watch it (inotify(7): ENOSPC when
    /// fs.inotify.max_user_watches is spent, EMFILE at max_user_instances).
    void start();
    /// Stops and joins; idempotent.
    void stop();

    /// What the watcher does with rig file `name` as it is now: nothing when
    /// it holds what the engine serves (the daemon's own write) or is no
    /// rig's; else git's rewrite applied, or the file written again. Public
    /// so unit tests drive it without inotify. Thread-safe.
    void reconcile(const std::string& name);

  private:
    void run();
    /// Reconciles the rig files named in `size` bytes of inotify events;
    /// false once the watch is gone (the directory removed).
    bool handle_events(const char* buf, size_t size);
    /// Writes again every rig file whose last write failed.
    void retry_failed_writes();

    const std::string path_;
    RigRegistry& registry_;
    const BackingDir& dir_;
    int inotify_fd_ = -1;
    int wake_fd_ = -1;  // an eventfd: stop() wakes the poll
    std::thread thread_;
};

}  // namespace credfs

// The directory the mount hides: opened before mounting and kept, so the
// daemon can still write the static fallback files under its own mount.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credfs {

class BackingDir {
  public:
    /// Opens `path` (the mountpoint, before mounting) and takes an exclusive
    /// flock(2) on it for the object's life: two daemons keeping the same
    /// files fresh would each take the other's writes for git's and rewrite
    /// them without end. Throws std::system_error naming the path when it
    /// cannot be opened as a directory, or (EWOULDBLOCK) when another
    /// process holds the lock.
    explicit BackingDir(const std::string& path);
    ~BackingDir();
    BackingDir(const BackingDir&) = delete;
    BackingDir& operator=(const BackingDir&) = delete;

    /// Atomically replaces `name` with `content`: a temp file created with
    /// O_EXCL and mode 0600 in the directory, written, fsync'ed, renamed over `name` (readers see
    /// the old or the new file, never a partial one). The directory is not fsync'ed:
    /// docs/design.md, "The fallback write's fsyncs". Returns 0 or an errno; the temp file is
    /// removed on failure.
    int write_atomic(const std::string& name, std::string_view content) const;

    /// Overwrites `name` in place (created with mode 0600 when absent; a
    /// symlink is refused with ELOOP): one pwrite of `content` at offset 0,
    /// then a truncate to its length. No temp file, rename or fsync, which
    /// on ext4 cost more CPU than the rest of a refresh. A concurrent reader
    /// may see old and new bytes mixed, and a crash between the two calls
    /// leaves the old content's tail after the new: only for a small record
    /// whose damage is detected when it is read back (the fallback's state
    /// record carries the token's fingerprint). Returns 0 or an errno.
    int write_in_place(const std::string& name, std::string_view content) const;

    /// Replaces `name` the way git's credential-store helper does (git's
    /// lockfile.c): creates `<name>.lock` with O_CREAT|O_EXCL and mode 0600,
    /// writes `render(content of name now)` (std::nullopt when absent or
    /// unreadable) into it, fsyncs and renames it over `name`. `render` runs
    /// while the lock is held, so what git wrote before is read and merged,
    /// never overwritten unseen. While the lock file exists (a git holds it)
    /// it retries every few milliseconds for up to `lock_wait_s` seconds
    /// (monotonic). Returns 0 or an errno: EEXIST when the lock stayed held.
    int write_under_git_lock(
        const std::string& name,
        const std::function<std::string(const std::optional<std::string>&)>& render,
        double lock_wait_s = 2) const;

    /// Whether git may write the rig files in this directory directly (files
    /// mode: no mount hides it), so that replacing them must take git's lock
    /// file. Off while a mount hides the directory. Thread-safe.
    void set_shared_with_git(bool shared) { shared_with_git_ = shared; }
    bool shared_with_git() const { return shared_with_git_; }

    /// The content of regular file `name`, or std::nullopt when absent,
    /// unreadable, not a regular file or over `max_bytes`.
    std::optional<std::string> read(const std::string& name, size_t max_bytes = 1 << 20) const;

    /// Regular files in the directory, without the daemon's temp files.
    std::vector<std::string> list() const;

    /// fstatat without following symlinks; 0 or an errno.
    int stat(const std::string& name, struct stat& out) const;

    /// A read-only descriptor for regular file `name`, or a negative errno.
    int open_read(const std::string& name) const;

    /// True for the daemon's own temp files (hidden from listings).
    static bool is_temp_name(std::string_view name);

  private:
    /// Writes `content` to `fd` (the new file `temp`), fsyncs (as `sync`
    /// says), closes it and renames `temp` over `name`; removes `temp` on
    /// failure. 0 or an errno.
    int commit(int fd, const std::string& temp, const std::string& name,
               std::string_view content) const;

    int fd_ = -1;
    std::string path_;
    std::atomic<bool> shared_with_git_{false};
};

}  // namespace credfs

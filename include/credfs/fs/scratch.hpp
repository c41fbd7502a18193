// The small in-memory directory beside the rig files: git's lock files
// (`<file>.lock`, created with O_EXCL, written, renamed over the target) and
// any other file git creates in the mount (`git credential-store --file
// <mnt>/other`). Contents live in memory only, mode 0600.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "credfs/core/clock.hpp"

namespace credfs {

struct ScratchLimits {
    size_t max_files = 10000;        ///< Creating more gives ENOSPC.
    size_t lock_reserve = 1000;      ///< Of max_files, kept for `*.lock` files only.
    size_t max_file_size = 1 << 20;  ///< Bytes; writing past it gives EFBIG.
    size_t max_total_bytes =
        64 << 20;  ///< Bytes in all files (open unlinked ones too); past it, ENOSPC.
    /// Of max_total_bytes, kept for `*.lock` files only, so files git made
    /// beside the rigs cannot starve the rigs' own rewrites.
    size_t lock_reserve_bytes = 8 << 20;
    /// A lock file nobody holds open, untouched (no open, write or close) for
    /// this long (seconds, wall time), was left by a killed git; a lookup or
    /// an O_EXCL create may drop it (git waits only 1 s for a lock).
    double stale_lock_s = 5;
};

/// One scratch file. Opaque to callers; they hold it to read and write even
/// after it is renamed or unlinked (POSIX semantics).
struct ScratchEntry;
using ScratchHandle = std::shared_ptr<ScratchEntry>;

struct ScratchStat {
    off_t size = 0;
    WallTime mtime{};
    /// The file's inode number: fixed at creation, kept across renames, never
    /// reused while the Scratch lives.
    uint64_t ino = 0;
};

/// Thread-safe. Every int return is 0 or a negative errno.
class Scratch {
  public:
    /// Inode numbers count up from `first_ino`; the caller keeps its own
    /// numbers below it.
    Scratch(const Clock& clock, const ScratchLimits& limits = {},
            uint64_t first_ino = uint64_t{1} << 32);

    /// Creates `name` (or opens it when it exists and `exclusive` is false;
    /// `truncate` empties it). -EEXIST when it exists and `exclusive`, unless
    /// it is a stale lock file (see ScratchLimits); -ENOSPC past max_files.
    int create(const std::string& name, bool exclusive, bool truncate, ScratchHandle& out);
    /// Opens an existing file; -ENOENT when absent.
    int open(const std::string& name, bool truncate, ScratchHandle& out);
    /// Called once per successful create/open when the handle is closed.
    void release(const ScratchHandle& handle);

    /// Writes at `offset` (or at the end when `append`); returns the count or
    /// -EFBIG past max_file_size.
    ssize_t write(const ScratchHandle& handle, std::string_view data, off_t offset, bool append);
    /// Copies up to `size` bytes from `offset` into `out` (replacing it).
    void read(const ScratchHandle& handle, size_t size, off_t offset, std::string& out) const;
    /// Resizes to `size`; -EFBIG past max_file_size, -EINVAL when negative.
    int truncate(const ScratchHandle& handle, off_t size);
    int truncate(const std::string& name, off_t size);

    std::optional<ScratchStat> stat(const std::string& name) const;
    /// Drops `name` when it is a stale lock file (see ScratchLimits); true
    /// when it did. The kernel answers an O_EXCL create from its lookup alone,
    /// so a stale lock must vanish at lookup for git's create to reach us.
    bool drop_if_stale_lock(const std::string& name);
    ScratchStat stat(const ScratchHandle& handle) const;
    int set_mtime(const std::string& name, WallTime mtime);

    // By inode number: a file stays reachable this way while it is in the
    // directory or held open after an unlink (fstat, fchmod, futimens and
    // reopening /proc/self/fd/N of an unlinked file work as on a disk).
    std::optional<ScratchStat> stat_ino(uint64_t ino) const;
    /// Opens the file with inode `ino`; -ESTALE when it is gone.
    int open_ino(uint64_t ino, bool truncate, ScratchHandle& out);
    int set_mtime_ino(uint64_t ino, WallTime mtime);

    int unlink(const std::string& name);
    /// Moves `from` to `to`, replacing `to`. -ENOENT when `from` is absent;
    /// -ENOSPC when a lock file would become a plain file that the plain
    /// files' share of the limits (outside the lock reserves) has no room for.
    int rename(const std::string& from, const std::string& to);
    /// Removes `name` and returns its content (for a rename onto a rig file).
    std::optional<std::string> take(const std::string& name);

    std::vector<std::string> list() const;
    size_t size() const;
    /// The current name of the file with inode `ino`, or nullopt once it was
    /// unlinked or renamed onto a rig file.
    std::optional<std::string> name_of(uint64_t ino) const;

  private:
    bool is_stale(const ScratchEntry& entry) const;
    void log_stale(const std::string& name) const;
    /// Must hold mu_. Resizes within the per-file and total budgets.
    int resize_locked(ScratchEntry& entry, size_t size);
    /// Must hold mu_. Removes from the directory; open handles keep the data
    /// (and its bytes count until the last one closes).
    void unlink_locked(std::map<std::string, ScratchHandle>::iterator it);
    /// Must hold mu_. The file with inode `ino`, linked or open; null if gone.
    ScratchHandle find_ino_locked(uint64_t ino) const;
    /// Must hold mu_. Bytes the total may reach for `entry` (plain files stop
    /// short of the lock reserve).
    size_t byte_cap(const ScratchEntry& entry) const;
    /// Must hold mu_. Adds one open handle to `entry`, optionally emptying it.
    void open_locked(const ScratchHandle& entry, bool truncate, ScratchHandle& out);

    const Clock& clock_;
    const ScratchLimits limits_;
    mutable std::mutex mu_;
    std::map<std::string, ScratchHandle> files_;
    std::unordered_map<uint64_t, std::string> names_by_ino_;     // the inverse of files_
    std::unordered_map<uint64_t, ScratchHandle> open_unlinked_;  // unlinked, still open
    uint64_t next_ino_;
    size_t total_bytes_ = 0;  // content of the files in files_ and open_unlinked_
};

}  // namespace credfs

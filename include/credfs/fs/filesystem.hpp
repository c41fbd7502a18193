// The mount's logic, free of FUSE types so unit tests can drive it: a root
// directory with one credential-store file per rig, plus a small in-memory
// scratch directory for the files git creates beside them (lock files). The
// FUSE adapter (src/fuse_adapter.cpp) only translates calls and results.
// Every int return is 0 (or a byte count) or a negative errno.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "credfs/engine/backing_dir.hpp"
#include "credfs/core/clock.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/engine/metrics.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/fs/scratch.hpp"
#include "credfs/engine/status.hpp"

namespace credfs {

/// An inode number as the kernel sees it (FUSE's nodeid). Stable for a name's
/// whole life: a rig file keeps its number across git's rename of a lock file
/// onto it, so an open racing that rename never finds its inode gone.
using Ino = uint64_t;
inline constexpr Ino kRootIno = 1;     ///< FUSE_ROOT_ID.
inline constexpr Ino kStatusIno = 2;   ///< .status
inline constexpr Ino kMetricsIno = 3;  ///< .metrics
/// Rig files and the backing directory's files are numbered from here, by name.
inline constexpr Ino kFirstNamedIno = 16;
/// Scratch files are numbered from here, one number per file created.
inline constexpr Ino kFirstScratchIno = Ino{1} << 32;

/// What getattr reports for one node.
struct NodeAttr {
    Ino ino = 0;
    bool is_dir = false;
    mode_t mode = 0;  ///< Permission bits only (0700 root, 0600 files).
    off_t size = 0;   ///< Bytes; for a rig file, the length of the content served now.
    uid_t uid = 0;
    gid_t gid = 0;
    WallTime mtime{};  ///< Wall time of the last change (token fetch, write).
};

/// An open file: a rig file's content snapshot taken at open (a refresh
/// between two read() calls never mixes two tokens), or a scratch file.
struct OpenFile {
    CredentialPtr credential;  ///< Rig file.
    ScratchHandle scratch;     ///< Scratch file.
    int backing_fd = -1;       ///< An unmanaged file of the backing directory, read-only.
    std::shared_ptr<const std::string> blob{};  ///< .status or .metrics, rendered at open.
    Ino blob_ino = 0;                           ///< Which of the two `blob` is.
};

class Filesystem {
  public:
    /// `registry` and `clock` must outlive the Filesystem. Nodes are owned by
    /// uid/gid.
    /// With `backing` (the directory the mount hides), its other regular
    /// files stay visible read-only through the mount (EROFS on writes).
    Filesystem(const RigRegistry& registry, const Clock& clock, uid_t uid, gid_t gid,
               const ScratchLimits& limits = {}, const BackingDir* backing = nullptr);

    /// Attributes of `path` ("/" or "/<name>"); `open` is the caller's handle
    /// when the kernel asks about an open file (fstat), so the size matches
    /// it. Never calls an upstream. 0 or -ENOENT.
    int getattr(std::string_view path, const OpenFile* open, NodeAttr& out) const;

    /// Names in the root: rig files in config order, then scratch files, then
    /// the backing directory's other files.
    std::vector<std::string> list() const;

    /// The path ("/" or "/<name>") that inode `ino` has now, or empty when no
    /// node has it any more (an unlinked scratch file, a removed rig): the
    /// FUSE edge answers ESTALE, and the kernel looks the name up again.
    std::string path_of(Ino ino) const;

    /// Opens an existing file. A rig file opens read-only (-EACCES for write
    /// access or O_TRUNC) and may wait up to refresh.read_timeout_s for an
    /// on-demand refresh (-EIO when no unexpired token). -ENOENT, -EISDIR.
    int open(std::string_view path, int flags, std::unique_ptr<OpenFile>& out);

    /// Creates (or with no O_EXCL, opens) a scratch file. A rig file's name
    /// gives -EEXIST with O_EXCL, else -EACCES. -ENOSPC past the file limit,
    /// -ENAMETOOLONG past 255 bytes.
    int create(std::string_view path, int flags, std::unique_ptr<OpenFile>& out);

    /// Copies up to `size` bytes from `offset`; returns the count.
    ssize_t read(const OpenFile& file, char* buf, size_t size, off_t offset) const;
    /// Scratch files only (-EBADF on a rig file). `append`: the file's flags
    /// now have O_APPEND (fcntl may change them after open), so the data goes
    /// to the end whatever `offset` says. Returns the count or -EFBIG.
    ssize_t write(const OpenFile& file, std::string_view data, off_t offset, bool append);
    /// Called once when the kernel releases `file`.
    void release(const OpenFile& file);

    /// Scratch files only; rig files give -EACCES.
    int truncate(std::string_view path, const OpenFile* open, off_t size);
    /// Scratch files only; rig files give -EPERM (they are the config's).
    int unlink(std::string_view path);
    /// Sets a scratch file's mtime; a no-op success on rig and daemon files
    /// (touch); -EROFS on the backing directory's files.
    int set_mtime(std::string_view path, WallTime mtime);

    // By inode number, as the kernel asks about open files: scratch files are
    // found by inode, so an unlinked file keeps working while it is open;
    // other nodes go by path_of(). -ESTALE when the inode is gone.
    int getattr_ino(Ino ino, const OpenFile* open, NodeAttr& out) const;
    int open_ino(Ino ino, int flags, std::unique_ptr<OpenFile>& out);
    int set_mtime_ino(Ino ino, WallTime mtime);

    /// rename(2). Scratch → scratch moves (replacing); from or onto a
    /// backing-directory file: -EROFS. Scratch → rig file is
    /// git's rewrite (store/erase): the content is handed to
    /// Rig::apply_rewrite and the scratch file disappears. A rig file as the
    /// source gives -EPERM. `no_replace`: -EEXIST when `to` exists.
    int rename(std::string_view from, std::string_view to, bool no_replace);

    const Scratch& scratch() const { return scratch_; }

    /// What .status and .metrics report about the daemon itself. Set before
    /// mounting.
    void set_status_info(StatusInfo info) { status_info_ = std::move(info); }

  private:
    /// The name in "/<name>", or empty for "/" and nested paths.
    static std::string_view name_of(std::string_view path);
    RigPtr rig_at(std::string_view path) const;
    /// A backing-directory file shown through the mount: not a rig's, not the
    /// daemon's own (state and temp files).
    bool is_passthrough(std::string_view name) const;
    int passthrough_attr(const std::string& name, NodeAttr& out) const;
    bool is_shown_backing_file(const std::string& name) const;
    int open_passthrough(const std::string& name, int flags, std::unique_ptr<OpenFile>& out) const;
    /// The inode number of a rig or backing-directory file, assigned on first
    /// use and kept for the daemon's life (never reused for another name).
    Ino named_ino(const std::string& name) const;

    const RigRegistry& registry_;
    const uid_t uid_;
    const gid_t gid_;
    const WallTime mounted_at_;
    // Mutable: a lookup (getattr) drops a stale lock file, see
    // Scratch::drop_if_stale_lock.
    mutable Scratch scratch_;
    const BackingDir* backing_;
    const Clock& clock_;
    StatusInfo status_info_;
    mutable std::mutex ino_mu_;
    mutable std::unordered_map<std::string, Ino> ino_by_name_;
    mutable std::unordered_map<Ino, std::string> name_by_ino_;
    mutable Ino next_named_ino_ = kFirstNamedIno;
};

}  // namespace credfs

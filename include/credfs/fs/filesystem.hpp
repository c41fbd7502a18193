// The mount's logic, free of FUSE types so unit tests can drive it: a root
// directory with one credential-store file per rig, plus a small in-memory
// scratch directory for the files git creates beside them (lock files). The
// mount is one flat directory, so a node is an inode or a name in the root,
// never a path. The FUSE adapter (src/fs/fuse_adapter.cpp) only translates
// calls and results. Every int return is 0 (or a byte count) or a negative
// errno.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/engine/backing_dir.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/engine/status.hpp"
#include "credfs/fs/inodes.hpp"
#include "credfs/fs/kernel_cache.hpp"
#include "credfs/fs/open_file.hpp"
#include "credfs/fs/scratch.hpp"

namespace credfs {

/// What getattr reports for one node.
struct NodeAttr {
    Ino ino = 0;
    bool is_dir = false;
    mode_t mode = 0;  ///< Permission bits only (0700 root, 0600 files).
    off_t size = 0;   ///< Bytes; for a rig file, the length of the content served now.
    uid_t uid = 0;
    gid_t gid = 0;
    WallTime mtime{};  ///< Wall time of the last change (token fetch, write).
    /// The kernel may cache these attributes (a rig file, the root): every
    /// change is invalidated explicitly (KernelCache). Others change behind
    /// the kernel's back and are never cached.
    bool cacheable = false;
};

/// Thread-safe: the FUSE loop calls it from several threads at once.
class Filesystem {
  public:
    /// `registry` and `clock` must outlive the Filesystem. Nodes are owned by
    /// uid/gid.
    /// With `backing` (the directory the mount hides), its other regular
    /// files stay visible read-only through the mount (EROFS on writes).
    Filesystem(const RigRegistry& registry, const Clock& clock, uid_t uid, gid_t gid,
               const ScratchLimits& limits = {}, const BackingDir* backing = nullptr);

    // ---- By name in the root (the mount is one flat directory). A name
    // holding '/' names nothing here.

    /// Attributes of `name` (LOOKUP). Never calls an upstream; drops a stale
    /// lock file (Scratch::drop_if_stale_lock) so an O_EXCL create reaches us.
    /// 0, -ENOENT, or -ENAMETOOLONG past NAME_MAX (255) bytes.
    int lookup(std::string_view name, NodeAttr& out) const;

    /// Names in the root: rig files in config order, then the daemon's files,
    /// then the backing directory's other files, then scratch files.
    std::vector<std::string> list() const;

    /// Creates (or with no O_EXCL, opens) a scratch file; `attr` is then its
    /// attributes. A rig or daemon file's name gives -EEXIST with O_EXCL,
    /// else -EACCES. -ENOSPC past the file limit, -ENAMETOOLONG past 255
    /// bytes, -EINVAL for an empty name or one holding '/'.
    int create(std::string_view name, int flags, std::unique_ptr<OpenFile>& out, NodeAttr& attr);

    /// Scratch files only; rig and daemon files give -EPERM (they are the
    /// config's), the backing directory's -EROFS. -ENOENT.
    int unlink(std::string_view name);

    /// rename(2). Scratch → scratch moves (replacing); from or onto a
    /// backing-directory file: -EROFS. Scratch → rig file is git's rewrite
    /// (store/erase): the content is handed to Rig::apply_rewrite and the
    /// scratch file disappears. A rig or daemon file as the source, or a
    /// daemon file as the target, gives -EPERM. `no_replace`: -EEXIST when
    /// `to` exists. -EINVAL for an empty name or one holding '/'.
    int rename(std::string_view from, std::string_view to, bool no_replace);

    // ---- By inode, as the kernel asks once it has looked a name up. Scratch
    // files go by their own inode, so an unlinked one keeps working while it
    // is open; other inodes by the name they were given. -ESTALE when the
    // inode is gone (an unlinked scratch file, a removed rig): the kernel
    // then looks the name up again.

    /// Attributes of `ino`. `open` is the caller's handle when the kernel asks
    /// about an open file (fstat), so the size matches what it reads: a rig
    /// or rendered file's snapshot. Never calls an upstream. -ENOENT when a
    /// handle's backing-directory file is gone.
    int getattr(Ino ino, const OpenFile* open, NodeAttr& out) const;

    /// Opens an existing file. A rig file opens read-only (-EACCES for write
    /// access or O_TRUNC) and may wait up to refresh.read_timeout_s for an
    /// on-demand refresh (-EIO when no unexpired token); .status and .metrics
    /// likewise (-EACCES), rendered now; the backing directory's files
    /// read-only (-EROFS). -EISDIR for the root.
    int open(Ino ino, int flags, std::unique_ptr<OpenFile>& out);

    /// Resizes `ino` to `size` bytes (truncate, or ftruncate with `open`).
    /// Scratch files only; rig and daemon files give -EACCES, the backing
    /// directory's -EROFS, the root -EISDIR.
    int truncate(Ino ino, const OpenFile* open, off_t size);

    /// Sets a scratch file's mtime; a no-op success on the root, rig and
    /// daemon files (touch); -EROFS on the backing directory's files.
    int set_mtime(Ino ino, WallTime mtime);

    /// The name `ino` has now: "" for the root, nullopt when it is gone.
    std::optional<std::string> name_of(Ino ino) const;

    // ---- Open files (OpenFile kinds: open_file.hpp).

    /// Copies up to `size` bytes from `offset`; returns the count or -errno.
    ssize_t read(const OpenFile& file, char* buf, size_t size, off_t offset) const;
    /// Scratch files only (-EBADF on the others). `append`: the file's flags
    /// now have O_APPEND (fcntl may change them after open), so the data goes
    /// to the end whatever `offset` says. Returns the count or -EFBIG.
    ssize_t write(const OpenFile& file, std::string_view data, off_t offset, bool append);
    /// Called once when the kernel releases `file`; the caller then frees it.
    void release(OpenFile& file);

    const Scratch& scratch() const { return scratch_; }
    /// Drops what the kernel cached of a rig file when its content changes.
    /// The FUSE adapter turns it on.
    KernelCache& kernel_cache() { return cache_; }
    /// A rig's served content changed (ServedFeed's listener): the kernel's
    /// cache of file `file` is dropped soon (KernelCache::changed).
    void served_changed(const std::string& file) { cache_.changed(named_.ino_of(file)); }

    /// What .status and .metrics report about the daemon itself. Set before
    /// mounting.
    void set_status_info(StatusInfo info) { status_info_ = std::move(info); }

  private:
    /// What an inode below kFirstScratchIno is now (filesystem.cpp).
    struct Node;
    Node resolve(Ino ino) const;
    NodeAttr base_attr() const;
    void rig_attr(const Rig& rig, NodeAttr& out) const;
    /// A name that is neither a rig's nor the daemon's: a scratch file, else
    /// a backing-directory file.
    int other_attr(const std::string& name, NodeAttr& out) const;
    /// fstat's answer from the handle alone (its snapshot); false when the
    /// handle's kind goes by name as stat does.
    bool handle_attr(Ino ino, const OpenFile& open, NodeAttr& out) const;
    int open_other(const std::string& name, int flags, std::unique_ptr<OpenFile>& out);
    int truncate_name(const std::string& name, off_t size);
    /// A backing-directory file shown through the mount: not a rig's, not the
    /// daemon's own (state and temp files).
    bool is_passthrough(std::string_view name) const;
    int passthrough_attr(const std::string& name, NodeAttr& out) const;
    bool is_shown_backing_file(const std::string& name) const;
    int open_passthrough(const std::string& name, int flags, std::unique_ptr<OpenFile>& out) const;

    const RigRegistry& registry_;
    const uid_t uid_;
    const gid_t gid_;
    const WallTime mounted_at_;
    // Mutable: a lookup drops a stale lock file, see Scratch::drop_if_stale_lock.
    mutable Scratch scratch_;
    const BackingDir* backing_;
    const Clock& clock_;
    StatusInfo status_info_;
    // Mutable: a name gets its number when first looked up.
    mutable NamedInodes named_;
    KernelCache cache_;
};

}  // namespace credfs

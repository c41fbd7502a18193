// The mount's logic, free of FUSE types so unit tests can drive it: a root
// directory listing one credential-store file per rig. The FUSE adapter
// (src/fuse_adapter.cpp) only translates calls and results.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/clock.hpp"
#include "credfs/credential.hpp"
#include "credfs/rig_registry.hpp"

namespace credfs {

/// What getattr reports for one node.
struct NodeAttr {
    bool is_dir = false;
    mode_t mode = 0;  ///< Permission bits only (0700 root, 0600 files).
    off_t size = 0;   ///< Bytes; for a rig file, the length of the content served now.
    uid_t uid = 0;
    gid_t gid = 0;
    WallTime mtime{};  ///< Wall time the served token was fetched (mount time if none).
};

/// A rig file opened for reading: the content snapshot taken at open, so a
/// refresh between two read() calls never mixes two tokens.
struct OpenFile {
    CredentialPtr credential;
};

class Filesystem {
  public:
    /// `registry` must outlive the Filesystem. Nodes are owned by uid/gid.
    Filesystem(const RigRegistry& registry, uid_t uid, gid_t gid, WallTime mounted_at);

    /// Attributes of `path` ("/" or "/<file>"); `open` is the caller's handle
    /// when the kernel asks about an open file (fstat), so the size matches the
    /// snapshot. Never calls an upstream. Returns 0 or -ENOENT.
    int getattr(std::string_view path, const OpenFile* open, NodeAttr& out) const;

    /// Names in the root, in config order. Never calls an upstream.
    std::vector<std::string> list() const;

    /// Opens a rig file for reading: may wait up to refresh.read_timeout_s for
    /// an on-demand refresh (Rig::credential_for_read). Returns 0 and sets
    /// `out`, or -ENOENT (unknown name), -EACCES (opened for writing or with
    /// O_TRUNC), -EISDIR (the root), -EIO (no unexpired token).
    int open(std::string_view path, int flags, std::unique_ptr<OpenFile>& out) const;

    /// Copies up to `size` bytes of the snapshot from `offset` into `buf`;
    /// returns the count (0 at or past the end).
    static size_t read(const OpenFile& file, char* buf, size_t size, off_t offset);

  private:
    /// The rig named by "/<file>", or null.
    Rig* rig_at(std::string_view path) const;

    const RigRegistry& registry_;
    const uid_t uid_;
    const gid_t gid_;
    const WallTime mounted_at_;
};

}  // namespace credfs

// libfuse 3.14 low-level operations: thin adapters over Filesystem.
//
// The low-level API because inode numbers must be ours: git renames
// `<rig>.lock` over a rig file hundreds of times a second in a busy
// container, and with the high-level API every such rename gave the name a
// new node, so an open racing it could fail with ESTALE. Here a rig file
// keeps one inode number for the daemon's life (NamedInodes).
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>

#include "credfs/engine/served_feed.hpp"
#include "credfs/fs/filesystem.hpp"
#include "credfs/fs/handle_set.hpp"
#include "credfs/fs/open_file.hpp"

namespace credfs {

/// One pass of readdir over the root (defined in fuse_adapter.cpp).
struct DirSnapshot;

/// The session's userdata: the Filesystem every operation goes to, and the
/// open file and directory handles the kernel holds. Create it before
/// fuse_session_new and destroy it after fuse_session_destroy; handles
/// still open then (no RELEASE came) are freed with it.
class FuseFrontEnd {
  public:
    explicit FuseFrontEnd(Filesystem& fs);
    ~FuseFrontEnd();
    FuseFrontEnd(const FuseFrontEnd&) = delete;
    FuseFrontEnd& operator=(const FuseFrontEnd&) = delete;

    Filesystem& fs;
    HandleSet<OpenFile> files;
    HandleSet<DirSnapshot> dirs;
};

/// The operation table for fuse_session_new; its userdata must be the
/// credfs::FuseFrontEnd* every operation goes to (no global state). Names and
/// inodes pass straight through: the mount is one flat directory. Rig files
/// and the root have 10 s attribute timeouts (a rig file's changes are
/// invalidated through KernelCache), every other node 0; entry timeouts are 0
/// for scratch files and 10 s for nodes whose inode never changes. Every
/// open is direct_io. There is no flush (the kernel stops sending it).
/// Forgets are no-ops: no per-lookup state is kept, and inode numbers are
/// never reused.
const fuse_lowlevel_ops& fuse_ll_ops();

/// Turns on the invalidation of `fs`'s rig files for session `se`
/// (fuse_lowlevel_notify_inval_inode: the attributes at once, the pages on
/// the queue's thread), starts that thread (call with the stop signals
/// blocked) and feeds it `feed`'s changes. Undo it with
/// stop_kernel_cache() before the session is unmounted.
void start_kernel_cache(Filesystem& fs, fuse_session* se, ServedFeed& feed);
void stop_kernel_cache(Filesystem& fs, ServedFeed& feed);

}  // namespace credfs

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

namespace credfs {

/// The operation table for fuse_session_new; its userdata must be the
/// credfs::Filesystem* every operation goes to (no global state). Names and
/// inodes pass straight through: the mount is one flat directory. Attribute timeouts are 0 (content
/// changes behind the kernel's back); entry timeouts are 0 for scratch files and 10 s for nodes
/// whose inode never changes; open() sets direct_io so the page cache never
/// serves an old token. There is no flush (the kernel stops sending it).
/// Forgets are no-ops: no per-lookup state is kept, and inode numbers are
/// never reused.
const fuse_lowlevel_ops& fuse_ll_ops();

}  // namespace credfs

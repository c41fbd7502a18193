// libfuse 3.14 low-level operations: thin adapters over Filesystem.
//
// The low-level API because inode numbers must be ours: git renames
// `<rig>.lock` over a rig file hundreds of times a second in a busy
// container, and with the high-level API every such rename gave the name a
// new node, so an open racing it could fail with ESTALE. Here a rig file
// keeps one inode number for the daemon's life (Filesystem::path_of).
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse3/fuse_lowlevel.h>

namespace credfs {

/// The operation table for fuse_session_new; its userdata must be a
/// credfs::Filesystem*. Every entry and attribute reply carries entry and
/// attr timeouts of 0 (content changes behind the kernel's back), and open()
/// sets direct_io so the page cache never serves an old token. Forgets are
/// no-ops: no per-lookup state is kept, and inode numbers are never reused.
const fuse_lowlevel_ops& fuse_ll_ops();

}  // namespace credfs

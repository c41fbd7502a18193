// libfuse 3.14 high-level operations: thin adapters over Filesystem.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse3/fuse.h>

namespace credfs {

/// The operation table. fuse_new's user_data must be a credfs::Filesystem*.
/// init() sets entry, negative and attr timeouts to 0 (content changes behind
/// the kernel's back); open() sets direct_io so the page cache never serves
/// an old token.
const fuse_operations& fuse_ops();

}  // namespace credfs

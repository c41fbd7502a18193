// The files the daemon shows about itself in the mount's root (.status,
// .metrics): read-only (mode 0400), a fixed inode each, rendered anew at each
// open, and refused to create, write, truncate, unlink and rename.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/engine/status.hpp"
#include "credfs/fs/inodes.hpp"

namespace credfs {

struct DaemonFile {
    std::string_view name;
    Ino ino;
    /// The file's bytes for `rigs` at wall time `now`; never holds a token.
    std::string (*render)(const RigSet& rigs, const StatusInfo& info, WallTime now);
};

/// Both files, in listing order.
std::span<const DaemonFile> daemon_files();
/// The daemon's file called `name` / numbered `ino`, or null.
const DaemonFile* daemon_file(std::string_view name);
const DaemonFile* daemon_file(Ino ino);
bool is_daemon_file(std::string_view name);

}  // namespace credfs

// Mounting and serving: wires config, token source, rigs, scheduler and FUSE.
#pragma once

#include <string>

#include "credfs/core/config.hpp"

namespace credfs {

struct DaemonOptions {
    /// The credential directory: the mountpoint, or files mode's directory.
    std::string mountpoint;
    std::string config_path;  ///< Re-read on SIGHUP.
    bool foreground = false;  ///< -f: stay attached, log to stderr unless log.file is set.
    /// --files: no mount at all; keep the plain files in `mountpoint` fresh.
    bool files_only = false;
    /// --require-mount: a refused mount is fatal (exit 1) instead of falling
    /// back to files mode.
    bool require_mount = false;
};

/// Mounts at `options.mountpoint` and serves until SIGINT/SIGTERM, then
/// unmounts; SIGHUP reloads `options.config_path`. When the kernel refuses
/// the mount (no /dev/fuse, EPERM, EACCES, EINVAL: a container without FUSE
/// rights), logs one line saying why and serves files mode over the same
/// directory, unless `require_mount` (then exit status 1). When the mount
/// goes away while serving (fusermount3 -u from outside) it goes on in files
/// mode until SIGTERM/SIGINT/SIGQUIT. With `files_only` it never mounts.
/// Files mode: the rig files are plain files renewed before expiry and
/// replaced under git's lock file; git's rewrites are seen through inotify.
/// Without `foreground` it forks: the parent returns only once the mount
/// answers, or files mode has every rig's token (exit status 0), or startup
/// failed (status 1, with one error line on stderr). Returns the process
/// exit status: 0 after a signal, 1 on failure. Takes `config` whole (move
/// it in): the rigs keep referring to it while they serve.
int run_daemon(Config config, const DaemonOptions& options);

}  // namespace credfs

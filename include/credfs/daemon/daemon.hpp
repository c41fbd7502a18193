// Mounting and serving: wires config, token source, rigs, scheduler and FUSE.
#pragma once

#include <string>

#include "credfs/core/config.hpp"

namespace credfs {

struct DaemonOptions {
    std::string mountpoint;
    std::string config_path;  ///< Re-read on SIGHUP.
    bool foreground = false;  ///< -f: stay attached, log to stderr unless log.file is set.
};

/// Mounts at `options.mountpoint` and serves until SIGINT/SIGTERM or an
/// external unmount, then unmounts; SIGHUP reloads `options.config_path`. Without `foreground` it
/// forks: the parent returns only once the mount answers (exit status 0) or startup failed (status
/// 1, with one error line on stderr). Returns the process exit status.
int run_daemon(const Config& config, const DaemonOptions& options);

}  // namespace credfs

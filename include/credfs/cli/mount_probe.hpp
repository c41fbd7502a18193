// Looking at a gastown-credfs mount from outside the daemon: is it live, and
// what does its <mnt>/.status say? Used by the status and doctor commands.
#pragma once

#include <string>

namespace credfs {

/// What a path turned out to be.
enum class MountState {
    Live,           ///< A FUSE mount whose .status could be read.
    Dead,           ///< ENOTCONN: the daemon died and its mount is left behind.
    Missing,        ///< The path does not exist.
    NotADirectory,  ///< The path exists but is no directory.
    NotAMount,      ///< A directory that is no FUSE mount, or has no .status.
    Unreadable,     ///< Any other error (permissions, I/O).
};

struct MountProbe {
    MountState state = MountState::Unreadable;
    /// The bytes of <mnt>/.status, as the daemon rendered them; Live only.
    std::string status_json;
    /// One line naming `mountpoint` and what is wrong, with the fix where
    /// there is one, e.g. "/tmp/gastown-creds: daemon died (Transport
    /// endpoint is not connected); run gastown-creds-umount --mountpoint
    /// /tmp/gastown-creds". Empty when Live.
    std::string problem;
};

/// Probes `mountpoint`: stat, statfs (FUSE_SUPER_MAGIC), then reads
/// <mountpoint>/.status whole. Never throws. Reading .status makes no
/// upstream call in the daemon, so this does not block on a hung upstream;
/// it can block on a hung daemon (like any read of its mount).
MountProbe probe_mount(const std::string& mountpoint);

}  // namespace credfs

// Looking at a gastown-credfs mount from outside the daemon: is it live, and
// what does its <mnt>/.status say? Without a live mount (files mode, or the
// mount went away), the daemon's socket <mnt>.sock answers instead. Used by
// the status and doctor commands.
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

/// Where a daemon's status document came from.
struct DaemonProbe {
    enum class Source {
        Mount,   ///< <mnt>/.status of a live mount.
        Socket,  ///< No live mount; the daemon answered `status` on `socket`.
        None,    ///< Neither answered; `problem` says why.
    };
    Source source = Source::None;
    MountProbe mount;         ///< The mount probe, whatever the source.
    std::string socket;       ///< socket_for_mountpoint(mountpoint).
    std::string status_json;  ///< The document (Mount or Socket).
    /// One line naming the mountpoint and the fix; empty unless None. A
    /// socket left behind (a files-mode daemon stopped or died) is named as
    /// such rather than as "not a mount".
    std::string problem;
};

/// probe_mount, then, when it is not Live, the `status` request on the
/// daemon's socket (bounded by the helper client's timeouts). Never throws.
DaemonProbe probe_daemon(const std::string& mountpoint);

}  // namespace credfs

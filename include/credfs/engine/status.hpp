// <mnt>/.status: the daemon's health as JSON, for operators and the status
// command. Built from counters and times only: never a token or a JWT.
#pragma once

#include <string>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/engine/revoker.hpp"
#include "credfs/engine/rig_registry.hpp"

namespace credfs {

/// The name of the status file in the mount root.
inline constexpr const char* kStatusFile = ".status";

struct StatusInfo {
    std::string version;
    WallTime started_at{};  ///< Wall time the daemon started.
    /// The front end serving the rig files: "mount" (FUSE) or "files"
    /// (plain files kept fresh, no mount).
    std::string mode = "mount";
    /// Revocation of replaced tokens; null when no source revokes.
    const Revoker* revoker = nullptr;
};

/// GitHub's rate limit per installation, the latest reading of the rigs'
/// sources (one per installation label, the newest wins), in label order.
std::vector<RateLimit> rate_limits(const RigSet& rigs);

/// One rig's state word: "ok", "stale" (less than min_ttl_s left), "failing"
/// (the last refresh failed, the token still valid), "expired", "no token".
std::string rig_state(const Rig& rig, WallTime now);

/// One line for a service manager (systemd's STATUS=, `systemctl status`):
/// "serving N rigs: A ok, B stale, C failing", then ", D expired" and
/// ", E without a token" when not zero, then " (files mode)" when `mode` is
/// "files". The states are rig_state()'s, with a files-mode rig whose file
/// cannot be written counted failing, as in render_status(). Counts only:
/// never a token. Reads every rig once (at 100,000 rigs tens of ms).
std::string status_line(const RigSet& rigs, const std::string& mode, WallTime now);

/// The status document (pretty JSON, newline-terminated):
/// {"version", "mode", "uptime_s", "rigs": [{"file", "id", "source", "state",
///  "expires_at", "seconds_left", "last_refresh_at", "next_refresh_at",
///  "last_error", "refreshes", "failures", "consecutive_failures",
///  "on_demand_waits", "rejections", "write_through": {"ok", "failures",
///  "error"}}], "rate_limits": [{"installation", "limit", "remaining",
///  "reset_at"}], "revocation": {"revoked", "already_dead", "failures",
///  "pending"} (only with StatusInfo::revoker)}. Times are ISO-8601 UTC (wall time) or null; a
///  token that
/// never expires has "expires_at": "never" and "seconds_left": null. In
/// files mode a rig whose file cannot be written (write_through not ok) is
/// "failing" rather than "ok" or "stale", with "last_error" naming the file
/// and the error when no refresh error is there: git reads that file.
std::string render_status(const RigSet& rigs, const StatusInfo& info, WallTime now);

}  // namespace credfs

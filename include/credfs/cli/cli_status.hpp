// `gastown-credfs status`: the human table rendered from a <mnt>/.status
// document (see status.hpp for its fields), and the exit status it implies.
// Pure functions of the JSON text and a wall time, so they are unit-testable
// without a mount.
#pragma once

#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"

namespace credfs {

/// A duration for people: "3s", "52m 10s", "2h 05m", "3d 04h". `seconds`
/// is rounded down to whole seconds; negative values are treated as 0.
std::string format_duration(double seconds);

/// Exit status of `status`: every rig "ok" or "stale" (or no rigs at all).
inline constexpr int kStatusHealthy = 0;
/// Any rig "failing", "expired", "no token" (or a state this build does not
/// know), or the document could not be read.
inline constexpr int kStatusUnhealthy = 1;

struct StatusTable {
    /// False when the document is not a status document; then `error` says
    /// why (one line, without the path) and `text` is empty.
    bool parsed = false;
    std::string error;
    /// The table, newline-terminated: a header line ("gastown-credfs 0.1.0,
    /// up 3h 02m, 2 rig(s)"), then one row per rig in the document's order
    /// with columns RIG (the file name), STATE, EXPIRES IN ("52m 10s",
    /// "expired", "never", "-" without a token), LAST REFRESH ("4m 12s ago",
    /// "never") and LAST ERROR (cut to 60 bytes, "..." appended).
    std::string text;
    int exit_code = kStatusUnhealthy;  ///< kStatusHealthy or kStatusUnhealthy.
    int unhealthy_rigs = 0;            ///< Rigs counted against kStatusHealthy.
    std::string unhealthy_summary;     ///< e.g. "rig-b (failing), c (expired)"; empty when healthy.
};

/// Renders `status_json` (the bytes of <mnt>/.status) as seen at wall time
/// `now`: "expires in" is `expires_at - now`, "last refresh" is
/// `now - last_refresh_at`. Never throws.
StatusTable render_status_table(std::string_view status_json, WallTime now);

}  // namespace credfs

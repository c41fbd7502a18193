// <mnt>/.metrics: the daemon's counters and gauges in the Prometheus text
// exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for a
// node_exporter textfile collector or a sidecar that scrapes the file. Built
// from counters and times only, like .status: never a token or a JWT.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/engine/rig.hpp"
#include "credfs/engine/rig_registry.hpp"
#include "credfs/engine/status.hpp"

namespace credfs {

/// The name of the metrics file in the mount root.
inline constexpr const char* kMetricsFile = ".metrics";

/// One rig as the metrics see it, snapshotted once per render.
struct RigMetrics {
    std::string id;     ///< Rig id: the `rig` label (escaped when rendered).
    std::string file;   ///< File name in the mount root: the `file` label; unique.
    std::string state;  ///< rig_state(): "ok", "stale", "failing", "expired", "no token".
    bool has_token = false;
    bool never_expires = false;  ///< A PAT: gauges report +Inf.
    WallTime expires_at{};       ///< Wall time; used when has_token && !never_expires.
    RigStats stats;
};

/// Snapshots `rig` at wall time `now`. Thread-safe.
RigMetrics rig_metrics(const Rig& rig, WallTime now);

/// The exposition (text/plain; version=0.0.4), newline-terminated. Every
/// family has "# HELP" and "# TYPE" lines; names start "gastown_credfs_";
/// per-rig series carry labels rig="<id>",file="<file>", in `rigs` order:
///
/// * counters (since the rig was built; a reload rebuilds rigs, which resets
///   them, as counters may): `_refreshes_total`, `_refresh_failures_total`,
///   `_on_demand_waits_total` (counted as waits start), `_rejections_total`,
///   `_write_through_failures_total`;
/// * gauges: `_up` (1 for state ok/stale, else 0), `_consecutive_failures`,
///   `_token_expiry_timestamp_seconds` (wall-clock Unix seconds) and
///   `_token_seconds_left` (wall time from `now`; negative once expired),
///   both omitted for a rig with no token and +Inf for one that never
///   expires; `_uptime_seconds` (from info.started_at to `now`, wall time)
///   and `_build_info{version="…"} 1`, without rig labels;
/// * histogram `_on_demand_wait_seconds` (monotonic seconds per finished
///   wait): cumulative `_bucket{…,le="…"}` lines for WaitHistogram::kBounds
///   and "+Inf", then `_sum` and `_count`.
///
/// * per installation (label installation="…", from `limits`): gauges
///   `_github_rate_limit`, `_github_rate_limit_remaining` and
///   `_github_rate_limit_reset_timestamp_seconds` (wall-clock Unix seconds);
/// * with `revocations`: counters `_revocations_total{outcome="revoked"|
///   "already_dead"}` and `_revocation_failures_total`, gauge
///   `_revocations_pending`.
///
/// Values are decimal (shortest round-trip form) or "+Inf"; label values are
/// escaped by escape_label_value.
std::string render_metrics(const std::vector<RigMetrics>& rigs, const StatusInfo& info,
                           WallTime now, const std::vector<RateLimit>& limits = {},
                           const std::optional<RevocationStats>& revocations = std::nullopt);

/// render_metrics over every rig of `rigs`, snapshotted at `now`, with their
/// rate_limits() and info.revoker's stats. Thread-safe.
std::string render_metrics(const RigSet& rigs, const StatusInfo& info, WallTime now);

/// A label value as the exposition format writes it between double quotes:
/// backslash, double quote and line feed become \\, \" and \n.
std::string escape_label_value(std::string_view value);

}  // namespace credfs

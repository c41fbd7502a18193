// How long opens waited for an on-demand refresh, as the buckets of a
// Prometheus histogram (gastown_credfs_on_demand_wait_seconds, rendered by
// metrics.cpp).
#pragma once

#include <array>
#include <cstdint>

namespace credfs {

/// Finished on-demand waits (monotonic seconds, from the open starting the
/// wait to the refresh finishing or read_timeout_s passing). Plain data, not
/// thread-safe: the Rig updates it under its lock, and stats() copies it.
struct WaitHistogram {
    /// Upper bounds (seconds, inclusive: a wait of exactly 0.5 s counts in
    /// le="0.5"); one more bucket, +Inf, follows the last.
    static constexpr std::array<double, 11> kBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,    2.5,   5,    10};
    /// Waits per bucket, not cumulative: counts[i] holds the waits in
    /// (kBounds[i-1], kBounds[i]]; counts.back() the waits above 10 s.
    std::array<uint64_t, kBounds.size() + 1> counts{};
    double sum_s = 0;  ///< Total seconds of all recorded waits.

    /// Adds one wait of `seconds` (negative counts as 0).
    void record(double seconds);
    /// The number of recorded waits.
    uint64_t count() const;
};

}  // namespace credfs

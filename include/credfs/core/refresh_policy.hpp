// When to refresh, how long to back off, and whether a token is fresh enough
// to serve. Pure functions of their inputs: the random draws are passed in so
// tests can pin them.
#pragma once

#include <functional>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/core/credential.hpp"
#include "credfs/core/http.hpp"  // kMaxRetryAfterS

namespace credfs {

/// Uniform draws in [0, 1). Must be callable from several threads at once.
using RandomUnit = std::function<double()>;

/// A thread-safe RandomUnit seeded from std::random_device.
RandomUnit default_random();

/// Wall time at which a token fetched at `fetched_at` and expiring at
/// `expires_at` should be renewed in the background:
/// expires_at - margin_s - draw * jitter_s. When that falls before half the
/// token's life (a token living less than the margin), half its life is used
/// instead, so short-lived tokens are renewed early without refreshing in a loop.
WallTime refresh_time(WallTime fetched_at, WallTime expires_at, const RefreshConfig& cfg,
                      double draw);

/// Delay in seconds before retry number `failures` (1 = first retry):
/// min(backoff_max_s, backoff_initial_s * 2^(failures-1)), then scaled by
/// (1 - 0.2 * draw) so rigs that failed together do not retry in lockstep.
/// Never above backoff_max_s; never below 0.8 * backoff_initial_s.
double backoff_delay(int failures, const RefreshConfig& cfg, double draw);

/// Delay in seconds before retry number `failures` after a failed refresh:
/// backoff_delay(failures, cfg, draw), or the upstream's own `retry_after_s`
/// (its Retry-After, as the source read it) when that asks for longer,
/// capped at kMaxRetryAfterS. A `retry_after_s` that is not positive (0 when
/// absent, negative, NaN) is ignored; +inf counts as the cap.
double retry_delay(int failures, const RefreshConfig& cfg, double draw, double retry_after_s);

/// The publish delay applied (seconds): min(publish_delay_s,
/// max(0, margin_s - min_ttl_s)). A background refresh starts margin_s (plus
/// jitter) before expiry, so the token it replaces still has min_ttl_s left
/// when the new one is published and no read waits for the delay.
double effective_publish_delay_s(const RefreshConfig& cfg);

/// How young (seconds since it was fetched) a token must be for git's erase
/// of it to be read as replication lag rather than a revocation:
/// effective_publish_delay_s + 10; 0 (never lag) when publish_delay_s is 0.
double lag_window_s(const RefreshConfig& cfg);

/// The mandatory window applied (seconds): min(mandatory_s, min_ttl_s). A
/// read that finds no more than this left never gets the token without a
/// refresh tried first.
double effective_mandatory_s(const RefreshConfig& cfg);

/// True when `cred` has at least min_ttl_s of life left at wall time `now`
/// (the boundary counts as fresh).
bool is_fresh(const Credential& cred, WallTime now, const RefreshConfig& cfg);

}  // namespace credfs

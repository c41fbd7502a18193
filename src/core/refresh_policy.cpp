#include "credfs/core/refresh_policy.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "credfs/core/thread_annotations.hpp"

namespace credfs {

RandomUnit default_random() {
    struct State {
        Mutex mu;
        std::mt19937_64 gen CREDFS_GUARDED_BY(mu){std::random_device{}()};
        std::uniform_real_distribution<double> dist CREDFS_GUARDED_BY(mu){0.0, 1.0};
    };
    auto state = std::make_shared<State>();
    return [state] {
        MutexLock lock(state->mu);
        return state->dist(state->gen);
    };
}

WallTime refresh_time(WallTime fetched_at, WallTime expires_at, const RefreshConfig& cfg,
                      double draw) {
    const WallTime planned = expires_at - to_wall_duration(cfg.margin_s + draw * cfg.jitter_s);
    const WallTime half_life = fetched_at + (expires_at - fetched_at) / 2;
    return std::max(planned, half_life);
}

double backoff_delay(int failures, const RefreshConfig& cfg, double draw) {
    const int doublings = std::clamp(failures - 1, 0, 62);
    const double base = std::min(cfg.backoff_max_s, std::ldexp(cfg.backoff_initial_s, doublings));
    return base * (1.0 - 0.2 * draw);
}

double retry_delay(int failures, const RefreshConfig& cfg, double draw, double retry_after_s) {
    // Sources pass what the header said: NaN, inf or 1e300 included.
    const double asked = retry_after_s > 0 ? std::min(retry_after_s, kMaxRetryAfterS) : 0;
    return std::max(backoff_delay(failures, cfg, draw), asked);
}

double effective_publish_delay_s(const RefreshConfig& cfg) {
    return std::min(cfg.publish_delay_s, std::max(0.0, cfg.margin_s - cfg.min_ttl_s));
}

double lag_window_s(const RefreshConfig& cfg) {
    // GitHub's lag can outlast the delay (the octokit issues saw 401s for
    // several seconds): 10 s more before an erase counts as a revocation.
    constexpr double kLagBeyondDelayS = 10;
    return cfg.publish_delay_s > 0 ? effective_publish_delay_s(cfg) + kLagBeyondDelayS : 0;
}

double effective_mandatory_s(const RefreshConfig& cfg) {
    return std::min(cfg.mandatory_s, cfg.min_ttl_s);
}

bool is_fresh(const Credential& cred, WallTime now, const RefreshConfig& cfg) {
    return cred.ttl_at(now) >= cfg.min_ttl_s;
}

}  // namespace credfs

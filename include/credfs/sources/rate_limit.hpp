// GitHub's REST rate limit as its responses report it (X-RateLimit-Limit,
// X-RateLimit-Remaining, X-RateLimit-Reset; docs.github.com, "Rate limits for
// the REST API"), kept per source so status and metrics can show it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "credfs/core/clock.hpp"

namespace credfs {

/// One reading of the rate limit. Counts are requests; never holds a token.
struct RateLimit {
    /// Which installation it is for: its id, or how it is configured
    /// ("repository owner/repo", "org name") while the id is not known yet.
    std::string installation;
    long long limit = 0;      ///< Requests allowed per window (X-RateLimit-Limit).
    long long remaining = 0;  ///< Left in this window (X-RateLimit-Remaining).
    WallTime reset_at{};      ///< Wall time the window resets (X-RateLimit-Reset, epoch s).
    WallTime observed_at{};   ///< Wall time of the response that said so.
};

/// The three headers of one response (names compared case-insensitively);
/// std::nullopt unless all three are there and are non-negative integers
/// (limit > 0). `installation` and `observed_at` are copied into the result.
std::optional<RateLimit> parse_rate_limit(const std::map<std::string, std::string>& headers,
                                          const std::string& installation, WallTime observed_at);

/// The latest reading of one source, and the warning when it runs low: one
/// warning line when remaining drops under kLowFraction of the limit, and no
/// other until it has been back at or above that. Thread-safe.
class RateLimitTracker {
  public:
    static constexpr double kLowFraction = 0.1;

    /// Reads the headers of a response (ignored when they carry no rate
    /// limit). `what` names the source for the warning ("github_app").
    void observe(const std::map<std::string, std::string>& headers, const std::string& installation,
                 WallTime now, const std::string& what);
    /// The latest reading; std::nullopt before any.
    std::optional<RateLimit> latest() const;

  private:
    mutable std::mutex mu_;
    std::optional<RateLimit> latest_;
    bool warned_ = false;
};

}  // namespace credfs

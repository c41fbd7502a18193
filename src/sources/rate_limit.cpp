#include "credfs/sources/rate_limit.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "credfs/core/http.hpp"

namespace credfs {

namespace {

std::optional<long long> non_negative(const std::string& text) {
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

std::optional<RateLimit> parse_rate_limit(const std::map<std::string, std::string>& headers,
                                          const std::string& installation, WallTime observed_at) {
    const auto limit = non_negative(header_value(headers, "x-ratelimit-limit"));
    const auto remaining = non_negative(header_value(headers, "x-ratelimit-remaining"));
    const auto reset = non_negative(header_value(headers, "x-ratelimit-reset"));
    // Past ~2160 the nanosecond wall clock would overflow.
    if (!limit || !remaining || !reset || *limit == 0 || *reset > 6'000'000'000LL) {
        return std::nullopt;
    }
    RateLimit out;
    out.installation = installation;
    out.limit = *limit;
    out.remaining = *remaining;
    out.reset_at = WallTime{} + std::chrono::seconds(*reset);
    out.observed_at = observed_at;
    return out;
}

void RateLimitTracker::observe(const std::map<std::string, std::string>& headers,
                               const std::string& installation, WallTime now,
                               const std::string& what) {
    const auto reading = parse_rate_limit(headers, installation, now);
    if (!reading) return;
    const bool low = static_cast<double>(reading->remaining) <
                     kLowFraction * static_cast<double>(reading->limit);
    bool warn = false;
    {
        std::lock_guard lock(mu_);
        latest_ = reading;
        warn = low && !warned_;
        warned_ = low;
    }
    if (warn) {
        spdlog::warn(
            "{}: installation {}: GitHub rate limit low: {} of {} requests left, resets at {} "
            "(refreshes fail once it reaches 0; other users of the installation share it)",
            what, installation, reading->remaining, reading->limit,
            format_iso8601(reading->reset_at));
    }
}

std::optional<RateLimit> RateLimitTracker::latest() const {
    std::lock_guard lock(mu_);
    return latest_;
}

}  // namespace credfs

// What the token sources read from HTTP response headers, as pure functions:
// header lookup, HTTP-dates, Retry-After in both its forms and GitHub's
// x-ratelimit-reset. No I/O; the clock is passed in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"

namespace credfs {

/// The longest wait, in seconds, an upstream may ask for (Retry-After,
/// x-ratelimit-reset): a token must not be left to die while we obey it.
/// Every parser below caps at it; the engine caps a source's wait with it too.
inline constexpr double kMaxRetryAfterS = 600;

/// The value of header `name` in `headers` (names compared ASCII
/// case-insensitively, RFC 9110 section 5.1), or "" when absent.
std::string header_value(const std::map<std::string, std::string>& headers, std::string_view name);

/// An HTTP-date in its preferred form, IMF-fixdate (RFC 9110 section 5.6.7):
/// "Sun, 06 Nov 1994 08:49:37 GMT" (day and month names case-insensitive), as
/// wall time. std::nullopt for anything else (the obsolete RFC 850 and asctime
/// forms, trailing bytes, a day that does not exist, years outside 1970..2200).
std::optional<WallTime> parse_http_date(std::string_view text);

/// Seconds a Retry-After value asks to wait (RFC 9110 section 10.2.3): either
/// delta-seconds ("120") or an HTTP-date, read against `now` (wall time).
/// Clamped to [0, kMaxRetryAfterS]: a date in the past is 0, a delta too
/// large to read is kMaxRetryAfterS. 0 when empty or unreadable ("soon",
/// "-5", "1.5").
double parse_retry_after(std::string_view value, WallTime now);

/// Seconds until a rate-limit window resets, from GitHub's x-ratelimit-reset
/// (epoch seconds, UTC) read against `now` (wall time). Clamped to
/// [0, kMaxRetryAfterS]; std::nullopt when empty or not a number.
std::optional<double> parse_ratelimit_reset(std::string_view value, WallTime now);

}  // namespace credfs

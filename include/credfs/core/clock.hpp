// Time sources. Expiry is judged on wall-clock time (tokens expire on wall
// time and containers get suspended); waits use the monotonic clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace credfs {

using WallClock = std::chrono::system_clock;
using WallTime = WallClock::time_point;
using Seconds = std::chrono::duration<double>;

/// Converts fractional seconds to the wall clock's duration type.
WallClock::duration to_wall_duration(double seconds);

/// Seconds (may be negative) from `from` to `to`, both wall time.
double seconds_between(WallTime from, WallTime to);

/// Injectable clock. Thread-safe.
class Clock {
  public:
    virtual ~Clock() = default;
    /// Current wall-clock time (system_clock): what token expiry is judged on.
    virtual WallTime now() const = 0;
};

/// The real system clock.
class SystemClock final : public Clock {
  public:
    WallTime now() const override { return WallClock::now(); }
};

/// The wall time of a UTC calendar date and time (month 1..12, day 1..31,
/// hour 0..23, minute 0..59, second 0..60). std::nullopt when a field is out
/// of range, the day does not exist in that month (Feb 31), or the year lies
/// outside 1970..2200 (the nanosecond wall clock overflows in 2262). Shared by
/// the ISO-8601 and HTTP-date parsers (core/http.hpp).
std::optional<WallTime> wall_time_from_utc(int year, int month, int day, int hour, int minute,
                                           int second);

/// Parses an ISO-8601 UTC timestamp as GitHub and Gastown send it:
/// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)". Returns std::nullopt
/// on anything else (no time zone, out-of-range fields, trailing bytes).
std::optional<WallTime> parse_iso8601(std::string_view text);

/// Formats wall time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds).
std::string format_iso8601(WallTime t);

}  // namespace credfs

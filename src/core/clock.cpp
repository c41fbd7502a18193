#include "credfs/core/clock.hpp"

#include <time.h>

#include <cstdio>

namespace credfs {

WallClock::duration to_wall_duration(double seconds) {
    return std::chrono::duration_cast<WallClock::duration>(Seconds(seconds));
}

double seconds_between(WallTime from, WallTime to) {
    return std::chrono::duration_cast<Seconds>(to - from).count();
}

namespace {

bool parse_fixed(std::string_view s, size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

bool expect(std::string_view s, size_t pos, char c) { return pos < s.size() && s[pos] == c; }

// Offset of the zone designator in seconds east of UTC, consuming it from pos.
std::optional<long> parse_zone(std::string_view s, size_t pos) {
    if (pos == s.size() - 1 && s[pos] == 'Z') return 0;
    if (s.size() - pos != 6 || (s[pos] != '+' && s[pos] != '-') || s[pos + 3] != ':') {
        return std::nullopt;
    }
    int hh = 0, mm = 0;
    if (!parse_fixed(s, pos + 1, 2, hh) || !parse_fixed(s, pos + 4, 2, mm) || hh > 23 || mm > 59) {
        return std::nullopt;
    }
    const long off = hh * 3600L + mm * 60L;
    return s[pos] == '-' ? -off : off;
}

}  // namespace

std::optional<WallTime> wall_time_from_utc(int year, int month, int day, int hour, int minute,
                                           int second) {
    // Years past 2200 would overflow the nanosecond wall clock (2262).
    if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
        return std::nullopt;
    }
    struct tm tm {};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const time_t epoch = timegm(&tm);
    if (tm.tm_mday != day) return std::nullopt;  // timegm rolled Feb 31 into March
    return WallClock::from_time_t(epoch);
}

std::optional<WallTime> parse_iso8601(std::string_view s) {
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    if (!parse_fixed(s, 0, 4, year) || !expect(s, 4, '-') || !parse_fixed(s, 5, 2, mon) ||
        !expect(s, 7, '-') || !parse_fixed(s, 8, 2, day) ||
        !(expect(s, 10, 'T') || expect(s, 10, 't') || expect(s, 10, ' ')) ||
        !parse_fixed(s, 11, 2, hour) || !expect(s, 13, ':') || !parse_fixed(s, 14, 2, min) ||
        !expect(s, 16, ':') || !parse_fixed(s, 17, 2, sec)) {
        return std::nullopt;
    }
    size_t pos = 19;
    double fraction = 0;
    if (expect(s, pos, '.')) {
        double scale = 0.1;
        size_t digits = 0;
        for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
            fraction += (s[pos] - '0') * scale;
            scale /= 10;
        }
        if (digits == 0) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;
    const auto zone = parse_zone(s, pos);
    if (!zone) return std::nullopt;
    const auto local = wall_time_from_utc(year, mon, day, hour, min, sec);
    if (!local) return std::nullopt;
    return *local - std::chrono::seconds(*zone) + to_wall_duration(fraction);
}

std::string format_iso8601(WallTime t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const time_t secs = static_cast<time_t>(ms.count() / 1000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    return buf;
}

}  // namespace credfs

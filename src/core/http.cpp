#include "credfs/core/http.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

namespace credfs {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Exactly `s.size()` decimal digits; from_chars alone would take a sign.
std::optional<int> digits(std::string_view s) {
    int v = 0;
    if (!all_digits(s) || std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc{}) {
        return std::nullopt;
    }
    return v;
}

// Index of `name` (case-insensitive) in `names`, or -1.
template <size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
    for (size_t i = 0; i < N; ++i) {
        if (iequals(names[i], name)) return static_cast<int>(i);
    }
    return -1;
}

double clamp_wait(double seconds) {
    if (std::isnan(seconds)) return 0;
    return std::clamp(seconds, 0.0, kMaxRetryAfterS);
}

}  // namespace

std::string header_value(const std::map<std::string, std::string>& headers, std::string_view name) {
    // Our HTTP client lower-cases names: the exact lookup is the usual hit.
    if (const auto it = headers.find(std::string(name)); it != headers.end()) return it->second;
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return "";
}

std::optional<WallTime> parse_http_date(std::string_view text) {
    // "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, fixed separators.
    static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                              "Fri", "Sat", "Sun"};
    static constexpr std::array<std::string_view, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
        text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT" ||
        index_of(kDays, text.substr(0, 3)) < 0) {
        return std::nullopt;
    }
    const int month = index_of(kMonths, text.substr(8, 3)) + 1;
    const auto day = digits(text.substr(5, 2));
    const auto year = digits(text.substr(12, 4));
    const auto hour = digits(text.substr(17, 2));
    const auto minute = digits(text.substr(20, 2));
    const auto second = digits(text.substr(23, 2));
    if (month == 0 || !day || !year || !hour || !minute || !second) return std::nullopt;
    return wall_time_from_utc(*year, month, *day, *hour, *minute, *second);
}

double parse_retry_after(std::string_view value, WallTime now) {
    if (all_digits(value)) {
        // More digits than a double holds exactly is "very long" anyway.
        if (value.size() > 9) return kMaxRetryAfterS;
        return clamp_wait(*digits(value));
    }
    if (const auto date = parse_http_date(value)) return clamp_wait(seconds_between(now, *date));
    return 0;
}

std::optional<double> parse_ratelimit_reset(std::string_view value, WallTime now) {
    double epoch = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), epoch);
    if (value.empty() || ec != std::errc{} || end != value.data() + value.size()) {
        return std::nullopt;
    }
    return clamp_wait(epoch - std::chrono::duration<double>(now.time_since_epoch()).count());
}

}  // namespace credfs

#include "credfs/cli/cli_status.hpp"

#include <json/json.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

namespace credfs {

namespace {

constexpr size_t kErrorWidth = 60;

std::string two_units(long long major, const char* major_unit, long long minor,
                      const char* minor_unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld%s %02lld%s", major, major_unit, minor, minor_unit);
    return buf;
}

std::string string_field(const Json::Value& v, const char* key) {
    const Json::Value& f = v[key];
    return f.isString() ? f.asString() : std::string();
}

// One line of the table, never more: a newline in an error would break rows.
std::string one_line(std::string text, size_t width) {
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    if (text.size() > width) {
        text.resize(width - 3);
        text += "...";
    }
    return text;
}

/// The error as the table shows it: without the "rig <id>: " the row already
/// says, and with each URL shortened to "<url>", so the reason fits the
/// column (--json has the whole text).
std::string table_error(std::string text, const std::string& id) {
    const std::string prefix = "rig " + id + ": ";
    if (!id.empty() && text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
    for (size_t at = 0; (at = text.find("://", at)) != std::string::npos;) {
        size_t begin = at;
        while (begin > 0 && std::isalpha(static_cast<unsigned char>(text[begin - 1])) != 0) --begin;
        size_t end = text.find_first_of(" \t", at);
        if (end == std::string::npos) end = text.size();
        const bool colon = text[end - 1] == ':';
        text.replace(begin, end - begin, colon ? "<url>:" : "<url>");
        at = begin + 5;
    }
    return text;
}

std::string expires_in(const Json::Value& rig, WallTime now) {
    const Json::Value& at = rig["expires_at"];
    if (at.isString() && at.asString() == "never") return "never";
    if (at.isString()) {
        if (const auto t = parse_iso8601(at.asString())) {
            const double left = seconds_between(now, *t);
            return left <= 0 ? "expired" : format_duration(left);
        }
    }
    const Json::Value& left = rig["seconds_left"];
    if (left.isNumeric())
        return left.asDouble() <= 0 ? "expired" : format_duration(left.asDouble());
    return "-";
}

std::string last_refresh(const Json::Value& rig, WallTime now) {
    const Json::Value& at = rig["last_refresh_at"];
    if (!at.isString()) return "never";
    const auto t = parse_iso8601(at.asString());
    if (!t) return "?";
    return format_duration(seconds_between(*t, now)) + " ago";
}

bool healthy_state(const std::string& state) { return state == "ok" || state == "stale"; }

/// "github installation 777: rate limit 4990/5000, resets 12:34:56 UTC", one
/// line per installation the daemon has heard GitHub's rate limit for.
std::string rate_limit_lines(const Json::Value& root) {
    std::string out;
    const Json::Value& limits = root["rate_limits"];
    if (!limits.isArray()) return out;
    for (const auto& l : limits) {
        if (!l.isObject() || !l["limit"].isNumeric() || !l["remaining"].isNumeric()) continue;
        std::string resets;
        if (const auto t = parse_iso8601(string_field(l, "reset_at"))) {
            resets = ", resets " + format_iso8601(*t).substr(11, 8) + " UTC";
        }
        out += "github installation " + one_line(string_field(l, "installation"), 60) +
               ": rate limit " + std::to_string(l["remaining"].asInt64()) + "/" +
               std::to_string(l["limit"].asInt64()) + resets + "\n";
    }
    return out;
}

}  // namespace

std::string format_duration(double seconds) {
    const long long s =
        std::isfinite(seconds) && seconds > 0 ? static_cast<long long>(std::floor(seconds)) : 0;
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return two_units(s / 60, "m", s % 60, "s");
    if (s < 86400) return two_units(s / 3600, "h", s % 3600 / 60, "m");
    return two_units(s / 86400, "d", s % 86400 / 3600, "h");
}

StatusTable render_status_table(std::string_view status_json, WallTime now) {
    StatusTable table;
    Json::Value root;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    if (!reader->parse(status_json.data(), status_json.data() + status_json.size(), &root,
                       &errors)) {
        table.error = ".status is not valid JSON: " + one_line(errors, 120);
        return table;
    }
    if (!root.isObject() || !root["rigs"].isArray()) {
        table.error = ".status is not a gastown-credfs status document (no \"rigs\" list)";
        return table;
    }
    const Json::Value& rigs = root["rigs"];
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"RIG", "STATE", "EXPIRES IN", "LAST REFRESH", "LAST ERROR"});
    for (const auto& rig : rigs) {
        if (!rig.isObject()) {
            table.error = ".status is not a gastown-credfs status document (a rig is no object)";
            return table;
        }
        std::string file = string_field(rig, "file");
        if (file.empty()) file = string_field(rig, "id");
        std::string state = string_field(rig, "state");
        if (state.empty()) state = "unknown";
        if (!healthy_state(state)) {
            ++table.unhealthy_rigs;
            if (!table.unhealthy_summary.empty()) table.unhealthy_summary += ", ";
            table.unhealthy_summary += file;
            table.unhealthy_summary += " (" + state + ")";
        }
        const std::string error = string_field(rig, "last_error");
        rows.push_back({one_line(file, 40), state, expires_in(rig, now), last_refresh(rig, now),
                        error.empty()
                            ? "-"
                            : one_line(table_error(error, string_field(rig, "id")), kErrorWidth)});
    }

    std::string header = "gastown-credfs";
    if (const std::string v = string_field(root, "version"); !v.empty()) header += " " + v;
    if (root["uptime_s"].isNumeric())
        header += ", up " + format_duration(root["uptime_s"].asDouble());
    header += ", " + std::to_string(rigs.size()) + " rig(s)";
    // Older daemons wrote no mode: they only served a mount.
    if (const std::string mode = string_field(root, "mode"); !mode.empty()) {
        header += mode == "files" ? ", files mode (no mount)" : ", " + mode + " mode";
    }
    table.text = header + "\n";
    if (rigs.empty()) {
        table.text += "(no rigs configured)\n";
    } else {
        std::vector<size_t> width(rows.front().size(), 0);
        for (const auto& row : rows) {
            for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
        }
        for (const auto& row : rows) {
            std::string line;
            for (size_t i = 0; i < row.size(); ++i) {
                line += row[i];
                if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
            }
            table.text += line + "\n";
        }
    }
    table.text += rate_limit_lines(root);
    if (const Json::Value& r = root["revocation"]; r.isObject()) {
        const auto count = [&r](const char* key) {
            return std::to_string(r[key].isUInt64() ? r[key].asUInt64() : 0);
        };
        const bool any = count("revoked") != "0" || count("already_dead") != "0" ||
                         count("pending") != "0" || count("failures") != "0";
        if (any)
            table.text += "replaced tokens: " + count("revoked") + " revoked, " +
                          count("already_dead") + " already invalid, " + count("pending") +
                          " pending, " + count("failures") + " failed attempts\n";
    }
    table.parsed = true;
    table.exit_code = table.unhealthy_rigs == 0 ? kStatusHealthy : kStatusUnhealthy;
    return table;
}

}  // namespace credfs

#include "config_json.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "credfs/core/config.hpp"

namespace credfs::config_json {

namespace {
// Past this, sums with wall time and curl's millisecond longs overflow.
constexpr double kMaxSeconds = 1e7;
}  // namespace

void fail(const std::string& key, const std::string& problem) {
    throw ConfigError(key + ": " + problem);
}

Json::Value parse_strict(const std::string& text) {
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value root;
    std::string errors;
    if (!reader->parse(text.data(), text.data() + text.size(), &root, &errors)) {
        // jsoncpp reports "* Line L, Column C\n  message\n...": fold it onto one line.
        std::string one_line;
        for (char c : errors) {
            if (c == '\n' || c == '*') c = ' ';
            if (c == ' ' && (one_line.empty() || one_line.back() == ' ')) continue;
            one_line.push_back(c);
        }
        while (!one_line.empty() && one_line.back() == ' ') one_line.pop_back();
        fail("config", "invalid JSON: " + one_line);
    }
    return root;
}

void check_keys(const Json::Value& obj, const std::string& where,
                const std::set<std::string>& known) {
    for (const auto& name : obj.getMemberNames()) {
        if (!known.contains(name)) fail(where.empty() ? name : where + "." + name, "unknown key");
    }
}

const Json::Value& object_at(const Json::Value& parent, const std::string& name,
                             const std::string& key) {
    const Json::Value& v = parent[name];
    if (!v.isNull() && !v.isObject()) fail(key, "must be an object");
    return v;
}

std::optional<std::string> string_at(const Json::Value& parent, const std::string& name,
                                     const std::string& key) {
    const Json::Value& v = parent[name];
    if (v.isNull()) return std::nullopt;
    if (!v.isString()) fail(key, "must be a string");
    return v.asString();
}

void seconds_at(const Json::Value& parent, const std::string& name, const std::string& key,
                double& out) {
    const Json::Value& v = parent[name];
    if (v.isNull()) return;
    if (!v.isNumeric() || v.isBool()) fail(key, "must be a number of seconds");
    const double s = v.asDouble();
    if (!std::isfinite(s) || s < 0) fail(key, "must be a non-negative number of seconds");
    if (s > kMaxSeconds) fail(key, "must be at most 10000000 seconds");
    out = s;
}

void count_at(const Json::Value& parent, const std::string& name, const std::string& key, int min,
              int max, int& out) {
    const Json::Value& v = parent[name];
    if (v.isNull()) return;
    if (!v.isInt() || v.isBool() || v.asInt() < min || v.asInt() > max) {
        fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    out = v.asInt();
}

void at_least_a_millisecond(double value, const std::string& key) {
    if (value < 0.001) fail(key, "must be at least 0.001 seconds");
}

bool has_control_or_space(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

}  // namespace credfs::config_json

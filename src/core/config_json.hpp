// Private to core/config.cpp: reading typed values out of the config's JSON,
// each failure one ConfigError naming the key.
#pragma once

#include <json/json.h>

#include <optional>
#include <set>
#include <string>

namespace credfs::config_json {

/// Throws ConfigError("<key>: <problem>").
[[noreturn]] void fail(const std::string& key, const std::string& problem);

/// The JSON document in `text` (strict: no comments, one root value).
/// Throws ConfigError("config: invalid JSON: ...") with jsoncpp's report
/// folded onto one line.
Json::Value parse_strict(const std::string& text);

/// Refuses keys this version does not know: a typo must not silently fall back
/// to a default. `where` is the dotted path of `obj` ("" at the root).
void check_keys(const Json::Value& obj, const std::string& where,
                const std::set<std::string>& known);

/// parent[name], null when absent; throws unless it is an object.
const Json::Value& object_at(const Json::Value& parent, const std::string& name,
                             const std::string& key);

/// parent[name] as a string; std::nullopt when absent; throws unless a string.
std::optional<std::string> string_at(const Json::Value& parent, const std::string& name,
                                     const std::string& key);

/// Sets `out` to parent[name] when present: a number of seconds in [0, 1e7].
void seconds_at(const Json::Value& parent, const std::string& name, const std::string& key,
                double& out);

/// Throws unless `value` (seconds) is at least 0.001.
/// Reads `parent[name]` (when present) into `out`: an integer from `min` to
/// `max`; else fail(key, ...).
void count_at(const Json::Value& parent, const std::string& name, const std::string& key, int min,
              int max, int& out);

void at_least_a_millisecond(double value, const std::string& key);

/// True when `s` holds a space, a control byte or DEL.
bool has_control_or_space(const std::string& s);

}  // namespace credfs::config_json

#include "credfs/core/config.hpp"

#include <json/json.h>

#include <spdlog/common.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config_json.hpp"
#include "credfs/core/refresh_policy.hpp"

namespace credfs {

namespace {

using namespace config_json;

/// Relative paths are taken from the config file's directory, since the
/// detached daemon runs in "/".
std::string resolve(const std::string& path, const std::string& base_dir) {
    if (path.empty() || path.front() == '/') return path;
    return base_dir + "/" + path;
}

/// An id that becomes one path segment of the control plane's URL.
void check_path_segment(const std::string& value, const std::string& key) {
    if (value.find('/') != std::string::npos) fail(key, "must not contain /");
    if (value == "." || value == "..") fail(key, "must not be . or ..");
    if (has_control_or_space(value)) fail(key, "must not contain spaces or control bytes");
}

std::string with_fallback(const Json::Value& src, const std::string& name, const char* env_var,
                          const EnvLookup& env) {
    const std::string key = "source." + name;
    if (auto v = string_at(src, name, key); v && !v->empty()) return *v;
    if (auto e = env(env_var); e && !e->empty()) return *e;
    fail(key, std::string("missing (set it in the config or export ") + env_var + ")");
}

/// A base URL: http(s)://, no spaces, query or fragment; a trailing / dropped.
std::string base_url(std::string url, const std::string& key) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        fail(key, "must start with http:// or https://");
    }
    if (has_control_or_space(url) || url.find_first_of("?#") != std::string::npos) {
        fail(key, "must be a plain base URL (no spaces, query or fragment)");
    }
    return url;
}

/// revoke_superseded (default `by_default`) and revoke_after_s.
void parse_revocation(const Json::Value& src, bool by_default, SourceConfig& out) {
    out.revoke_superseded = by_default;
    if (src.isMember("revoke_superseded")) {
        if (!src["revoke_superseded"].isBool())
            fail("source.revoke_superseded", "must be true or false");
        out.revoke_superseded = src["revoke_superseded"].asBool();
    }
    seconds_at(src, "revoke_after_s", "source.revoke_after_s", out.revoke_after_s);
}

/// "installation": a positive integer, {"repository": "owner/repo"} or
/// {"org": "name"}; the older "installation_id" takes the integer only.
void parse_installation(const Json::Value& src, SourceConfig& out) {
    constexpr const char* kForms =
        "must be a positive integer or {\"repository\": \"owner/repo\"} or {\"org\": \"name\"}";
    const bool has_new = src.isMember("installation");
    if (has_new && src.isMember("installation_id")) {
        fail("source.installation", "give either installation or installation_id, not both");
    }
    const std::string key = has_new ? "source.installation" : "source.installation_id";
    const Json::Value& inst = src[has_new ? "installation" : "installation_id"];
    if (inst.isUInt64() && inst.asUInt64() > 0) {
        out.installation_id = std::to_string(inst.asUInt64());
        return;
    }
    if (inst.isString() && !inst.asString().empty() &&
        inst.asString().find_first_not_of("0123456789") == std::string::npos &&
        inst.asString().find_first_not_of('0') != std::string::npos) {
        out.installation_id = inst.asString();
        return;
    }
    if (!has_new || !inst.isObject() || inst.size() != 1) {
        fail(key, has_new ? kForms : "must be a positive integer");
    }
    const auto is_name = [](const std::string& s) {
        return !s.empty() && s != "." && s != ".." &&
               s.find_first_not_of(
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-_.") == std::string::npos;
    };
    if (inst.isMember("repository") && inst["repository"].isString()) {
        const std::string repo = inst["repository"].asString();
        const size_t slash = repo.find('/');
        if (slash == std::string::npos || !is_name(repo.substr(0, slash)) ||
            !is_name(repo.substr(slash + 1))) {
            fail(key + ".repository", "must be \"owner/repo\"");
        }
        out.installation_repository = repo;
    } else if (inst.isMember("org") && inst["org"].isString()) {
        if (!is_name(inst["org"].asString())) fail(key + ".org", "must be an organization name");
        out.installation_org = inst["org"].asString();
    } else {
        fail(key, kForms);
    }
}

void parse_gastown(const Json::Value& src, const EnvLookup& env, const std::string& base_dir,
                   SourceConfig& out) {
    check_keys(src, "source",
               {"type", "api_url", "town_id", "container_token_file", "container_token_env",
                "connect_timeout_s", "request_timeout_s", "ca_bundle", "revoke_superseded",
                "revoke_after_s", "github_api_url"});
    out.api_url = with_fallback(src, "api_url", "GASTOWN_API_URL", env);
    while (!out.api_url.empty() && out.api_url.back() == '/') out.api_url.pop_back();
    if (out.api_url.rfind("http://", 0) != 0 && out.api_url.rfind("https://", 0) != 0) {
        fail("source.api_url", "must start with http:// or https://");
    }
    if (has_control_or_space(out.api_url) || out.api_url.find_first_of("?#") != std::string::npos) {
        fail("source.api_url", "must be a plain base URL (no spaces, query or fragment)");
    }
    out.town_id = with_fallback(src, "town_id", "GASTOWN_TOWN_ID", env);
    check_path_segment(out.town_id, "source.town_id");
    const auto token_file = string_at(src, "container_token_file", "source.container_token_file");
    if (token_file && token_file->empty()) fail("source.container_token_file", "must not be empty");
    out.container_token_file = resolve(token_file.value_or(""), base_dir);
    out.container_token_env = string_at(src, "container_token_env", "source.container_token_env")
                                  .value_or(out.container_token_env);
    if (out.container_token_env.empty()) fail("source.container_token_env", "must not be empty");
    seconds_at(src, "connect_timeout_s", "source.connect_timeout_s", out.connect_timeout_s);
    seconds_at(src, "request_timeout_s", "source.request_timeout_s", out.request_timeout_s);
    out.ca_bundle = resolve(string_at(src, "ca_bundle", "source.ca_bundle").value_or(""), base_dir);
    at_least_a_millisecond(out.connect_timeout_s, "source.connect_timeout_s");
    at_least_a_millisecond(out.request_timeout_s, "source.request_timeout_s");
    parse_revocation(src, false, out);
    if (const auto gh = string_at(src, "github_api_url", "source.github_api_url")) {
        out.github_api_url = base_url(*gh, "source.github_api_url");
    }
    if (out.revoke_superseded && out.github_api_url.empty()) {
        fail("source.revoke_superseded",
             "true needs source.github_api_url (where GitHub revokes the control plane's tokens, "
             "e.g. \"https://api.github.com\")");
    }
    if (out.container_token_file.empty()) {
        if (auto tok = env(out.container_token_env); !tok || tok->empty()) {
            fail("source.container_token_env", out.container_token_env +
                                                   " is not set and source.container_token_file "
                                                   "is not given");
        }
    }
}

void parse_exec(const Json::Value& src, const std::string& base_dir, SourceConfig& out) {
    check_keys(src, "source", {"type", "command", "timeout_s"});
    const Json::Value& cmd = src["command"];
    if (!cmd.isArray() || cmd.empty()) {
        fail("source.command", "must be a non-empty list: [\"/path/prog\", \"arg\", ...]");
    }
    for (Json::ArrayIndex i = 0; i < cmd.size(); ++i) {
        const std::string key = "source.command[" + std::to_string(i) + "]";
        if (!cmd[i].isString() || cmd[i].asString().empty())
            fail(key, "must be a non-empty string");
        out.command.push_back(cmd[i].asString());
    }
    // A bare name is looked up on PATH when it runs; a path is the config's.
    if (out.command[0].find('/') != std::string::npos) {
        out.command[0] = resolve(out.command[0], base_dir);
    }
    seconds_at(src, "timeout_s", "source.timeout_s", out.exec_timeout_s);
    at_least_a_millisecond(out.exec_timeout_s, "source.timeout_s");
}

void parse_github_app(const Json::Value& src, const std::string& base_dir, SourceConfig& out) {
    check_keys(src, "source",
               {"type", "app_id", "private_key_file", "installation", "installation_id", "api_url",
                "connect_timeout_s", "request_timeout_s", "ca_bundle", "revoke_superseded",
                "revoke_after_s"});
    const Json::Value& app = src["app_id"];
    if (app.isUInt64()) {
        out.app_id = std::to_string(app.asUInt64());
    } else if (app.isString() && !app.asString().empty()) {
        out.app_id = app.asString();
    } else {
        fail("source.app_id", "missing (the App's id or client id)");
    }
    parse_installation(src, out);
    out.private_key_file = resolve(
        string_at(src, "private_key_file", "source.private_key_file").value_or(""), base_dir);
    if (out.private_key_file.empty()) fail("source.private_key_file", "missing");
    out.api_url = string_at(src, "api_url", "source.api_url").value_or("https://api.github.com");
    while (!out.api_url.empty() && out.api_url.back() == '/') out.api_url.pop_back();
    if (out.api_url.rfind("http://", 0) != 0 && out.api_url.rfind("https://", 0) != 0) {
        fail("source.api_url", "must start with http:// or https://");
    }
    parse_revocation(src, true, out);
    seconds_at(src, "connect_timeout_s", "source.connect_timeout_s", out.connect_timeout_s);
    seconds_at(src, "request_timeout_s", "source.request_timeout_s", out.request_timeout_s);
    at_least_a_millisecond(out.connect_timeout_s, "source.connect_timeout_s");
    at_least_a_millisecond(out.request_timeout_s, "source.request_timeout_s");
    out.ca_bundle = resolve(string_at(src, "ca_bundle", "source.ca_bundle").value_or(""), base_dir);
}

void parse_scope(const Json::Value& v, const std::string& key, RigConfig& rig) {
    const Json::Value& repos = v["repositories"];
    if (!repos.isNull()) {
        if (!repos.isArray()) fail(key + ".repositories", "must be a list of repository names");
        for (const auto& r : repos) {
            if (!r.isString() || r.asString().empty()) {
                fail(key + ".repositories", "must be a list of repository names");
            }
            rig.repositories.push_back(r.asString());
        }
    }
    const Json::Value& perms = v["permissions"];
    if (!perms.isNull()) {
        if (!perms.isObject()) fail(key + ".permissions", "must be an object of name: level");
        for (const auto& name : perms.getMemberNames()) {
            if (!perms[name].isString()) {
                fail(key + ".permissions." + name, "must be \"read\", \"write\" or \"admin\"");
            }
            rig.permissions[name] = perms[name].asString();
        }
    }
}

SourceConfig parse_source(const Json::Value& root, const EnvLookup& env,
                          const std::string& base_dir) {
    const Json::Value& src = object_at(root, "source", "source");
    if (src.isNull()) fail("source", "missing");
    SourceConfig out;
    const std::string type = string_at(src, "type", "source.type").value_or("");
    if (type == "gastown") {
        out.type = SourceConfig::Type::Gastown;
        parse_gastown(src, env, base_dir, out);
    } else if (type == "static") {
        out.type = SourceConfig::Type::Static;
        check_keys(src, "source", {"type", "token_file"});
        out.token_file = string_at(src, "token_file", "source.token_file").value_or("");
        if (out.token_file.empty()) fail("source.token_file", "missing");
        out.token_file = resolve(out.token_file, base_dir);
    } else if (type == "github_app") {
        out.type = SourceConfig::Type::GitHubApp;
        parse_github_app(src, base_dir, out);
    } else if (type == "exec") {
        out.type = SourceConfig::Type::Exec;
        parse_exec(src, base_dir, out);
    } else if (type.empty()) {
        fail("source.type",
             "missing (expected \"gastown\", \"github_app\", \"static\" or \"exec\")");
    } else {
        fail("source.type",
             "unknown source type \"" + type + "\" (expected gastown, github_app, static or exec)");
    }
    return out;
}

RefreshConfig parse_refresh(const Json::Value& root) {
    RefreshConfig r;
    const Json::Value& v = object_at(root, "refresh", "refresh");
    if (v.isNull()) return r;
    check_keys(v, "refresh",
               {"margin_s", "min_ttl_s", "jitter_s", "read_timeout_s", "backoff_initial_s",
                "backoff_max_s", "assumed_ttl_s", "reject_cooldown_s", "publish_delay_s",
                "mandatory_s", "max_concurrent_refreshes"});
    seconds_at(v, "margin_s", "refresh.margin_s", r.margin_s);
    seconds_at(v, "min_ttl_s", "refresh.min_ttl_s", r.min_ttl_s);
    seconds_at(v, "jitter_s", "refresh.jitter_s", r.jitter_s);
    seconds_at(v, "read_timeout_s", "refresh.read_timeout_s", r.read_timeout_s);
    seconds_at(v, "backoff_initial_s", "refresh.backoff_initial_s", r.backoff_initial_s);
    seconds_at(v, "backoff_max_s", "refresh.backoff_max_s", r.backoff_max_s);
    seconds_at(v, "assumed_ttl_s", "refresh.assumed_ttl_s", r.assumed_ttl_s);
    seconds_at(v, "reject_cooldown_s", "refresh.reject_cooldown_s", r.reject_cooldown_s);
    seconds_at(v, "publish_delay_s", "refresh.publish_delay_s", r.publish_delay_s);
    seconds_at(v, "mandatory_s", "refresh.mandatory_s", r.mandatory_s);
    count_at(v, "max_concurrent_refreshes", "refresh.max_concurrent_refreshes", 1, 256,
             r.max_concurrent_refreshes);
    at_least_a_millisecond(r.read_timeout_s, "refresh.read_timeout_s");
    at_least_a_millisecond(r.backoff_initial_s, "refresh.backoff_initial_s");
    if (r.backoff_max_s < r.backoff_initial_s) {
        fail("refresh.backoff_max_s", "must not be less than refresh.backoff_initial_s");
    }
    if (r.min_ttl_s >= r.assumed_ttl_s) {
        std::ostringstream msg;
        msg << "must be less than refresh.assumed_ttl_s (" << r.min_ttl_s
            << " >= " << r.assumed_ttl_s << ")";
        fail("refresh.min_ttl_s", msg.str());
    }
    return r;
}

void check_file_name(const std::string& name, const std::string& key) {
    if (name.empty()) fail(key, "must not be empty");
    if (name.size() > 250) fail(key, "longer than 250 bytes (git needs room for \".lock\")");
    if (name.find('/') != std::string::npos) fail(key, "must not contain /");
    if (name.find('\0') != std::string::npos) fail(key, "must not contain NUL");
    if (name.find("..") != std::string::npos) fail(key, "must not contain ..");
    if (name.front() == '.') fail(key, "must not start with . (reserved for the daemon's files)");
    if (name.ends_with(".lock")) fail(key, "must not end in .lock (git's lock-file suffix)");
}

void check_host(const std::string& host, const std::string& key) {
    if (host.empty()) fail(key, "must not be empty");
    for (char c : host) {
        if (c == '/' || c == '@' || c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ') {
            fail(key, "must be a bare host[:port]");
        }
    }
}

/// A rig's own "source", parsed like the top-level one; errors name the rig's key.
SourceConfig parse_rig_source(const Json::Value& v, const std::string& key, const EnvLookup& env,
                              const std::string& base_dir) {
    Json::Value wrapper(Json::objectValue);
    wrapper["source"] = v;
    try {
        return parse_source(wrapper, env, base_dir);
    } catch (const ConfigError& e) {
        throw ConfigError(key + "." + e.what());
    }
}

RigConfig parse_rig(const Json::Value& v, const std::string& key, const EnvLookup& env,
                    const std::string& base_dir) {
    if (!v.isObject()) fail(key, "must be an object");
    check_keys(
        v, key,
        {"id", "file", "host", "username", "protocol", "source", "repositories", "permissions"});
    RigConfig rig;
    rig.id = string_at(v, "id", key + ".id").value_or("");
    if (rig.id.empty()) fail(key + ".id", "missing");
    check_path_segment(rig.id, key + ".id");
    rig.file = string_at(v, "file", key + ".file").value_or(rig.id);
    check_file_name(rig.file, key + ".file");
    rig.host = string_at(v, "host", key + ".host").value_or(rig.host);
    check_host(rig.host, key + ".host");
    rig.username = string_at(v, "username", key + ".username").value_or(rig.username);
    if (rig.username.empty()) fail(key + ".username", "must not be empty");
    rig.protocol = string_at(v, "protocol", key + ".protocol").value_or(rig.protocol);
    if (rig.protocol != "https" && rig.protocol != "http") {
        fail(key + ".protocol", "must be \"https\" or \"http\"");
    }
    if (v.isMember("source")) rig.source = parse_rig_source(v["source"], key, env, base_dir);
    parse_scope(v, key, rig);
    return rig;
}

std::vector<RigConfig> parse_rigs(const Json::Value& root, const EnvLookup& env,
                                  const std::string& base_dir) {
    const Json::Value& list = root["rigs"];
    if (list.isNull()) fail("rigs", "missing");
    if (!list.isArray()) fail("rigs", "must be a list");
    if (list.empty()) fail("rigs", "must list at least one rig");
    std::vector<RigConfig> rigs;
    // Exact size: at 100,000 rigs a doubling vector's spare capacity alone
    // costs tens of megabytes for the daemon's whole life.
    rigs.reserve(list.size());
    std::map<std::string, std::string> owner_of_file;
    for (Json::ArrayIndex i = 0; i < list.size(); ++i) {
        const std::string key = "rigs[" + std::to_string(i) + "]";
        RigConfig rig = parse_rig(list[i], key, env, base_dir);
        auto [it, fresh] = owner_of_file.emplace(rig.file, rig.id);
        if (!fresh) {
            fail(key + ".file",
                 "\"" + rig.file + "\" is already used by rig \"" + it->second + "\"");
        }
        rigs.push_back(std::move(rig));
    }
    return rigs;
}

LogConfig parse_log(const Json::Value& root, const std::string& base_dir) {
    LogConfig log;
    const Json::Value& v = object_at(root, "log", "log");
    if (v.isNull()) return log;
    check_keys(v, "log", {"level", "file", "format"});
    log.level = string_at(v, "level", "log.level").value_or(log.level);
    if (spdlog::level::from_str(log.level) == spdlog::level::off && log.level != "off") {
        fail("log.level", "unknown level \"" + log.level +
                              "\" (trace, debug, info, warn, error, critical, off)");
    }
    const std::string format = string_at(v, "format", "log.format").value_or("plain");
    if (format == "json") {
        log.format = LogFormat::Json;
    } else if (format != "plain") {
        fail("log.format", "unknown format \"" + format + "\" (plain or json)");
    }
    log.file = resolve(string_at(v, "file", "log.file").value_or(""), base_dir);
    return log;
}

/// Cross-field rules that do not refuse a config but say what it will do.
std::vector<std::string> warnings_for(const Config& cfg) {
    std::vector<std::string> out;
    if (cfg.refresh.margin_s < cfg.refresh.min_ttl_s) {
        out.emplace_back(
            "refresh.margin_s < refresh.min_ttl_s: tokens go stale before their "
            "background refresh, so reads will wait for on-demand refreshes");
    }
    if (const double applied = effective_publish_delay_s(cfg.refresh);
        applied < cfg.refresh.publish_delay_s && cfg.refresh.margin_s >= cfg.refresh.min_ttl_s) {
        // A config that worked before the delay existed keeps working: the
        // delay shrinks so the previous token still has min_ttl_s left when
        // the new one is published. (Below, margin_s < min_ttl_s has its own
        // warning: the previous token is stale at the refresh already.)
        std::ostringstream msg;
        msg << "refresh.publish_delay_s (" << cfg.refresh.publish_delay_s
            << " s) does not fit in refresh.margin_s - refresh.min_ttl_s: new tokens are "
               "published after "
            << applied << " s (lower refresh.publish_delay_s or raise refresh.margin_s to keep it)";
        out.push_back(msg.str());
    }
    if (cfg.source.type == SourceConfig::Type::Gastown &&
        cfg.source.request_timeout_s >= cfg.refresh.read_timeout_s) {
        out.emplace_back(
            "source.request_timeout_s >= refresh.read_timeout_s: a read may give up "
            "before the request it waits for can fail or succeed");
    }
    return out;
}

/// A path a Unix socket can bind: sun_path holds 107 bytes and a NUL.
std::string parse_socket(const Json::Value& root, const std::string& base_dir) {
    const auto socket = string_at(root, "socket", "socket");
    if (!socket) return "";
    if (socket->empty()) fail("socket", "must not be empty (leave it out for <mountpoint>.sock)");
    if (socket->back() == '/') fail("socket", "must name a file, not a directory");
    std::string path = resolve(*socket, base_dir);
    if (path.size() > 107) fail("socket", "path longer than 107 bytes (a Unix socket's limit)");
    return path;
}

}  // namespace

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts.
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

Config parse_config(const std::string& json_text, const EnvLookup& env, std::string base_dir) {
    if (base_dir.empty()) base_dir = std::filesystem::current_path().string();
    const Json::Value root = parse_strict(json_text);
    if (!root.isObject()) fail("config", "must be a JSON object");
    check_keys(root, "", {"source", "refresh", "rigs", "log", "socket"});
    Config cfg;
    cfg.log = parse_log(root, base_dir);
    cfg.socket = parse_socket(root, base_dir);
    cfg.source = parse_source(root, env, base_dir);
    cfg.refresh = parse_refresh(root);
    cfg.rigs = parse_rigs(root, env, base_dir);
    cfg.warnings = warnings_for(cfg);
    return cfg;
}

Config load_config(const std::string& path, const EnvLookup& env) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        fail("--config", "\"" + path + "\" is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("--config", "cannot read \"" + path + "\"");
    std::ostringstream text;
    text << in.rdbuf();
    const auto dir = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
    return parse_config(text.str(), env, dir.string());
}

}  // namespace credfs

// Daemon configuration: the JSON file given with --config, parsed once into an
// immutable struct. The keys below are the public contract (docs/configuration.md).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "credfs/core/heap_optional.hpp"

namespace credfs {

/// Where installation tokens come from.
struct SourceConfig {
    enum class Type { Gastown, Static, Exec, GitHubApp };
    Type type = Type::Gastown;

    // type == Gastown
    std::string api_url;  ///< e.g. "https://gastown.example"; no trailing slash kept.
    std::string town_id;
    std::string container_token_file;  ///< Empty: read the env var below instead.
    std::string container_token_env = "GASTOWN_CONTAINER_TOKEN";
    double connect_timeout_s = 5;  ///< TCP+TLS connect bound, seconds.
    double request_timeout_s = 8;  ///< Whole-request bound, seconds.
    std::string ca_bundle;         ///< PEM CAs for TLS to api_url; empty: the system's.

    // type == Static
    std::string token_file;  ///< A long-lived PAT, served as is.

    // type == Exec
    std::vector<std::string> command;  ///< argv; argv[0] absolute, config-relative or on PATH.
    double exec_timeout_s = 10;        ///< Bound on one run, seconds ("timeout_s").

    // type == GitHubApp (api_url, timeouts and ca_bundle shared with Gastown)
    std::string app_id;
    std::string private_key_file;  ///< PEM, PKCS#1 or PKCS#8.
    /// The installation: digits ("installation" as an integer, or the older
    /// "installation_id"); empty when it is discovered from one of the two
    /// below ("installation": {"repository": ...} or {"org": ...}).
    std::string installation_id;
    std::string
        installation_repository;   ///< "owner/repo", discovered by GET /repos/.../installation.
    std::string installation_org;  ///< An organization, by GET /orgs/{org}/installation.

    // Revocation of replaced tokens (github_app; gastown with github_api_url).
    /// Revoke a token once replaced and unused for revoke_after_s. Default:
    /// true for github_app, false for gastown (a control plane may hand the
    /// same token to other containers).
    bool revoke_superseded = false;
    double revoke_after_s = 600;  ///< Seconds since a replaced token was last handed out.
    /// gastown: the GitHub API base its tokens are revoked at
    /// ("https://api.github.com"); empty: none given.
    std::string github_api_url;

    bool operator==(const SourceConfig&) const = default;
};

/// Freshness tuning. Every value is in seconds and may be fractional.
struct RefreshConfig {
    double margin_s = 600;           ///< Background refresh this long before expiry.
    double min_ttl_s = 300;          ///< A read needs at least this much life left.
    double jitter_s = 30;            ///< Random 0..jitter_s subtracted from refresh time.
    double read_timeout_s = 10;      ///< Longest an open() waits for a refresh.
    double backoff_initial_s = 0.5;  ///< First retry delay after a failed refresh.
    double backoff_max_s = 60;       ///< Cap on the retry delay.
    /// Lifetime assumed when the upstream reports no expiry. 1800 s is half of
    /// GitHub's one-hour installation-token life: a token the upstream minted
    /// up to 30 minutes before handing it to us is still valid when we stop
    /// trusting it (docs/configuration.md).
    double assumed_ttl_s = 1800;
    /// After git erases a rig's line (it saw the token rejected), at most one
    /// forced refresh per rig within this long: GitHub can reject a brand-new
    /// token for a moment while it replicates.
    double reject_cooldown_s = 5;
    /// Make-before-break: a token from a background refresh is served only
    /// once it is this old, while the one it replaces still has min_ttl_s
    /// left (GitHub refuses a new installation token for a few seconds while
    /// it replicates). 0 serves new tokens at once and turns off the
    /// replication-lag reading of git's erases. The delay applied is
    /// effective_publish_delay_s() (refresh_policy.hpp).
    double publish_delay_s = 5;
    /// A read that finds no more than this left always tries a refresh
    /// (waiting up to read_timeout_s) before it may be given that token; the
    /// window applied is effective_mandatory_s() (refresh_policy.hpp).
    double mandatory_s = 60;
    /// Background refreshes running at once, and as many more worker
    /// threads kept for refreshes a reader waits on (engine/refresh_pool).
    /// Read at start; a reload keeps the running value.
    int max_concurrent_refreshes = 8;
};

/// One rig: one credential-store file in the mount root.
struct RigConfig {
    std::string id;    ///< Rig id, as the control plane knows it.
    std::string file;  ///< File name in the mount root; defaults to id.
    std::string host = "github.com";
    std::string username = "x-access-token";
    /// URL scheme of the credential line; git's store helper matches it
    /// against the remote's. "https" or "http" (the latter for local tests).
    std::string protocol = "https";
    /// Overrides the top-level source for this rig (one rig on a PAT, the
    /// others on the control plane). On the heap: most rigs have none.
    HeapOptional<SourceConfig> source;
    /// github_app: scope the rig's token to these repositories (names) and
    /// permissions (name -> "read"/"write"); empty: the installation's own.
    std::vector<std::string> repositories;
    std::map<std::string, std::string> permissions;
};

/// How each log line is written.
enum class LogFormat {
    Plain,  ///< "<ISO-8601 time with offset> <level> <message>".
    Json,   ///< One JSON object per line: {"time", "level", "msg"}.
};

struct LogConfig {
    std::string level = "info";           ///< spdlog level name: trace..critical, off.
    std::string file;                     ///< Empty: stderr.
    LogFormat format = LogFormat::Plain;  ///< log.format: "plain" or "json".
};

struct Config {
    SourceConfig source;
    RefreshConfig refresh;
    std::vector<RigConfig> rigs;
    LogConfig log;
    /// The credential helper's Unix socket ("socket"): absolute, resolved
    /// against the config's directory; empty: "<mountpoint>.sock".
    std::string socket;
    /// Settings that work but probably not as meant (cross-field rules such
    /// as refresh.margin_s < refresh.min_ttl_s): one line each, naming the
    /// keys, for the log at startup, on reload and in `check`.
    std::vector<std::string> warnings;
};

/// A config that cannot be used. what() is one line naming the key and the
/// problem, e.g. "refresh.margin_s: must be a non-negative number".
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Looks up an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment (getenv).
EnvLookup process_env();

/// Parses and validates a config from JSON text, as a whole: every key,
/// every cross-field rule (errors) and the cross-field warnings
/// (Config::warnings). Pure: touches no file, so startup, `check` and a SIGHUP
/// reload apply exactly the same rules; the files the config names (token
/// files, keys, commands, log.file's directory) are checked where they are
/// used (sources/config_files.hpp). `env` supplies GASTOWN_API_URL /
/// GASTOWN_TOWN_ID fallbacks and the container-token variable. Relative file
/// paths are resolved against `base_dir` (empty: the current directory) and
/// stored absolute. Durations must lie in [0, 1e7] seconds (timeouts and the
/// first backoff at least 0.001). Throws ConfigError on the first problem
/// found.
Config parse_config(const std::string& json_text, const EnvLookup& env, std::string base_dir = "");

/// Reads `path` and calls parse_config with the file's directory as base_dir.
/// Throws ConfigError (naming the path) when the file cannot be read.
Config load_config(const std::string& path, const EnvLookup& env);

}  // namespace credfs

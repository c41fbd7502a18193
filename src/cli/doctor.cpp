#include "credfs/cli/doctor.hpp"

#include <json/json.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "credfs/cli/cli_status.hpp"
#include "credfs/cli/mount_probe.hpp"
#include "credfs/cli/remote_url.hpp"
#include "credfs/core/credential_store.hpp"
#include "credfs/engine/fallback_store.hpp"
#include "credfs/helper/helper_client.hpp"

namespace credfs {

namespace {

constexpr const char* kGitHubHost = "github.com";
// gastown-creds-git-setup's mountpoint when GASTOWN_CREDS_MOUNTPOINT is unset.
constexpr const char* kScriptMountpoint = "/tmp/gastown-creds";

// 'text' for a POSIX shell: ' becomes '\''.
std::string shell_single_quoted(const std::string& text) {
    std::string out = "'";
    for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

CheckResult ok(std::string text) { return {CheckLevel::Ok, std::move(text)}; }
CheckResult info(std::string text) { return {CheckLevel::Info, std::move(text)}; }
CheckResult warn(std::string text) { return {CheckLevel::Warn, std::move(text)}; }
CheckResult fail(std::string text) { return {CheckLevel::Fail, std::move(text)}; }

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const size_t e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::string first_line(const std::string& text) {
    const std::string t = trim(text);
    return t.substr(0, t.find('\n'));
}

/// Splits a helper value the way git's shell would for simple cases: words
/// separated by blanks, '...' and "..." quoting, backslash escapes outside
/// single quotes.
std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote == '\'') {
            if (c == '\'')
                quote = 0;
            else
                cur += c;
        } else if (quote == '"') {
            if (c == '"')
                quote = 0;
            else if (c == '\\' && i + 1 < s.size())
                cur += s[++i];
            else
                cur += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < s.size()) {
            cur += s[++i];
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(std::move(cur));
    return words;
}

/// The --file of a `store` helper, or nullopt when the helper is another one.
std::optional<std::string> store_file(const std::string& helper) {
    const std::vector<std::string> words = split_words(helper);
    if (words.empty()) return std::nullopt;
    const std::string& cmd = words.front();
    if (cmd != "store" && !cmd.ends_with("git-credential-store")) return std::nullopt;
    for (size_t i = 1; i < words.size(); ++i) {
        if (words[i].starts_with("--file=")) return words[i].substr(7);
        if (words[i] == "--file" && i + 1 < words.size()) return words[i + 1];
    }
    return std::string();  // store without --file: ~/.git-credentials
}

std::string without_trailing_slash(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
}

bool inside(const std::string& path, const std::string& dir) {
    const std::string d = without_trailing_slash(dir);
    return path.size() > d.size() + 1 && path.compare(0, d.size(), d) == 0 && path[d.size()] == '/';
}

std::string canonical_or_self(const std::string& path) {
    char* resolved = ::realpath(path.c_str(), nullptr);
    std::string out = resolved != nullptr ? resolved : path;
    std::free(resolved);
    return out;
}

std::string git_failure(const CommandOutput& r) {
    return r.err.empty() ? "exit " + std::to_string(r.exit_code) : first_line(r.err);
}

std::optional<Json::Value> parse_json(std::string_view text) {
    Json::Value root;
    std::string errors;
    const std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    if (!reader->parse(text.data(), text.data() + text.size(), &root, &errors)) return std::nullopt;
    return root;
}

/// The status document's "mode"; "mount" for older daemons, which wrote none.
std::string status_mode(std::string_view status_json) {
    const auto root = parse_json(status_json);
    if (!root || !root->isObject() || !(*root)["mode"].isString()) return "mount";
    return (*root)["mode"].asString();
}

/// The status document's verdict for the daemon at `where` (its mountpoint,
/// and how it serves), as check_mount words it.
CheckResult check_status_document(const std::string& status_json, const std::string& where,
                                  const std::string& serving, const std::string& mountpoint,
                                  WallTime now) {
    const StatusTable table = render_status_table(status_json, now);
    if (!table.parsed) return fail(where + ": " + table.error);
    if (table.exit_code != kStatusHealthy) {
        return fail(where + ": " + std::to_string(table.unhealthy_rigs) +
                    " rig(s) unhealthy: " + table.unhealthy_summary +
                    " (details: gastown-credfs status " + mountpoint + ")");
    }
    return ok(where + ": " + serving + ", every rig ok");
}

/// When `path` holds credential-store lines and none is for `url` (git's
/// credential-store matching: protocol and host, case-insensitive host),
/// the first line's "protocol://host"; else nullopt (no lines, unreadable,
/// or a match). Reads the file through the mount, like git; prints nothing.
std::optional<std::string> other_host_only(const std::string& path, std::string_view url) {
    std::ifstream in(path);
    std::optional<std::string> first;
    const auto lower = [](std::string text) {
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return text;
    };
    for (std::string line; std::getline(in, line);) {
        const std::optional<StoreLineKey> key = parse_store_line(trim(line));
        if (!key) continue;
        const std::string origin = key->protocol + "://" + key->host;
        if (lower(origin) == lower(std::string(url))) return std::nullopt;
        if (!first) first = origin;
    }
    return first;
}

std::optional<std::string> read_file(const std::string& path, int& err) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        err = errno;
        return std::nullopt;
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// The expiry the state record vouches for, for one of `content`'s lines.
std::optional<WallTime> vouched_expiry(const std::string& content, const std::string& state) {
    std::istringstream lines(content);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto key = parse_store_line(line);
        if (!key || key->password.empty()) continue;
        if (const auto at = FallbackStore::parse_state(state, key->password)) return at;
    }
    return std::nullopt;
}

std::string gastown_credfs_basename(std::string_view word) {
    const size_t slash = word.rfind('/');
    return std::string(slash == std::string_view::npos ? word : word.substr(slash + 1));
}

}  // namespace

std::string format_check(const CheckResult& check) {
    const char* label = check.level == CheckLevel::Ok     ? "OK   "
                        : check.level == CheckLevel::Info ? "INFO "
                        : check.level == CheckLevel::Warn ? "WARN "
                                                          : "FAIL ";
    return label + check.text + "\n";
}

int doctor_exit_code(const std::vector<CheckResult>& checks) {
    return std::any_of(checks.begin(), checks.end(),
                       [](const CheckResult& c) { return c.level == CheckLevel::Fail; })
               ? 1
               : 0;
}

CheckResult check_dev_fuse(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) {
            return fail(path +
                        " is missing: load the fuse module (modprobe fuse), or in a "
                        "container run with --device /dev/fuse");
        }
        return fail(path + ": " + error_text(err));
    }
    if (!S_ISCHR(st.st_mode)) return fail(path + " exists but is not a character device");
    if (::access(path.c_str(), R_OK | W_OK) != 0) {
        return fail(path + " is a character device, but this user cannot open it read-write");
    }
    return ok(path + " is a character device");
}

CheckResult check_fusermount(std::string_view path_env, bool is_root) {
    size_t start = 0;
    while (start <= path_env.size()) {
        const size_t end = std::min(path_env.find(':', start), path_env.size());
        std::string dir(path_env.substr(start, end - start));
        if (dir.empty()) dir = ".";
        const std::string candidate = dir + "/fusermount3";
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return ok("fusermount3 is " + candidate);
        }
        start = end + 1;
    }
    std::string text =
        "fusermount3 is not on PATH: install the fuse3 package (apt-get install fuse3)";
    if (is_root) return warn(text + "; root mounts without it, but unmounting needs it");
    return fail(text + "; mounting as a non-root user needs it");
}

CheckResult check_mount(const std::string& mountpoint, WallTime now) {
    const MountProbe probe = probe_mount(mountpoint);
    if (probe.state != MountState::Live) return fail(probe.problem);
    return check_status_document(probe.status_json, mountpoint, "mounted and serving", mountpoint,
                                 now);
}

CheckResult without_fuse_needed(CheckResult check) {
    if (check.level == CheckLevel::Ok) return check;
    return info(check.text + " (files mode serves without FUSE)");
}

std::vector<CheckResult> check_daemon(const DaemonProbe& probe, const std::string& mountpoint,
                                      WallTime now) {
    switch (probe.source) {
        case DaemonProbe::Source::None:
            return {fail(probe.problem)};
        case DaemonProbe::Source::Mount:
            return {check_status_document(probe.status_json, mountpoint, "mounted and serving",
                                          mountpoint, now)};
        case DaemonProbe::Source::Socket:
            break;
    }
    if (status_mode(probe.status_json) != "files") {
        // The daemon serves a mount this process cannot see (another mount
        // namespace), or one that is going away.
        return {fail(probe.mount.problem + "; yet the daemon answering on " + probe.socket +
                     " says it serves a mount (another mount namespace?)")};
    }
    const CheckResult daemon = check_status_document(
        probe.status_json, mountpoint,
        "files mode (no mount), the daemon answers on " + probe.socket, mountpoint, now);
    if (daemon.level == CheckLevel::Fail) return {daemon};
    return {daemon, check_rig_files(probe.status_json, mountpoint, now)};
}

CheckResult check_rig_files(const std::string& status_json, const std::string& dir, WallTime now) {
    const auto root = parse_json(status_json);
    if (!root || !root->isObject() || !(*root)["rigs"].isArray()) {
        return fail(dir + ": the daemon's status document lists no rigs");
    }
    std::string fresh;
    for (const auto& rig : (*root)["rigs"]) {
        std::string file = rig["file"].isString() ? rig["file"].asString() : std::string();
        if (file.empty() && rig["id"].isString()) file = rig["id"].asString();
        if (file.empty()) continue;
        const std::string path = without_trailing_slash(dir) + "/" + file;
        int err = 0;
        const auto content = read_file(path, err);
        if (!content) return fail(path + ": " + error_text(err) + " (git reads this file)");
        const std::string state_path =
            without_trailing_slash(dir) + "/" + FallbackStore::state_file_name(file);
        const auto state = read_file(state_path, err);
        if (!state) return fail(state_path + ": " + error_text(err) + " (the file's state record)");
        const auto expires = vouched_expiry(*content, *state);
        if (!expires) {
            return fail(path +
                        " does not hold the token the daemon last wrote (git erased it and the "
                        "daemon has not written the new one yet, or someone else wrote the file)");
        }
        const double left = seconds_between(now, *expires);
        if (left <= 0) return fail(path + ": its token expired " + format_duration(-left) + " ago");
        if (!fresh.empty()) fresh += ", ";
        fresh += file + (*expires == WallTime::max() ? " (never expires)"
                                                     : " (" + format_duration(left) + " left)");
    }
    if (fresh.empty()) return ok(dir + ": no rig files (no rigs configured)");
    return ok("rig files in " + without_trailing_slash(dir) +
              " hold the daemon's newest tokens: " + fresh);
}

CheckResult check_credential_helper(const CommandOutput& git_config, const std::string& mountpoint,
                                    std::string_view where, std::string_view url,
                                    std::string_view setup) {
    const std::string fix =
        "; fix: " + (setup.empty() ? "gastown-creds-git-setup RIG" +
                                         (where.empty() ? std::string() : " " + std::string(where))
                                   : std::string(setup));
    const std::string context = "credential.helper for " + std::string(url) +
                                (where.empty() ? std::string() : " in " + std::string(where));
    if (git_config.exit_code == 1 && trim(git_config.out).empty()) {
        return fail(context + " is not set, so git asks no helper" + fix);
    }
    if (git_config.exit_code != 0) {
        return fail(context + ": git config failed (" + git_failure(git_config) + ")");
    }
    // --get-urlmatch prints the value git uses: the last one set.
    std::string helper;
    std::istringstream lines(git_config.out);
    for (std::string line; std::getline(lines, line);) {
        if (!trim(line).empty()) helper = trim(line);
    }
    if (helper.empty()) return fail(context + " is reset to \"\" and nothing follows" + fix);
    if (daemon_helper_socket(helper, "")) {
        return ok(context + " is the daemon's credential helper '" + helper +
                  "' (no file fallback)");
    }
    const std::optional<std::string> file = store_file(helper);
    if (!file) return fail(context + " is '" + helper + "', not a store helper" + fix);
    if (file->empty()) {
        return fail(context + " is 'store' without --file (~/.git-credentials), not a file in " +
                    mountpoint + fix);
    }
    const std::string mnt = without_trailing_slash(mountpoint);
    if (!inside(*file, mnt) && !inside(*file, canonical_or_self(mnt))) {
        return fail(context + " is '" + helper + "', not a file in " + mnt + fix);
    }
    struct stat st {};
    if (::stat(file->c_str(), &st) != 0) {
        return warn(context + " is '" + helper + "', but " + *file + ": " + error_text(errno) +
                    " (is the mount up, and is that the rig's file name?)");
    }
    if (auto other = other_host_only(*file, url)) {
        return fail(*file + " has lines for " + *other + " only, not " + std::string(url) +
                    ", so git asking " + std::string(url) +
                    " finds no credential there; fix: set the rig's \"host\" to " +
                    std::string(url.substr(std::min(url.find("://"), url.size()) + 3)) +
                    " in the daemon's config, or configure git for " + *other);
    }
    return ok(context + " is '" + helper + "'");
}

std::optional<std::string> daemon_helper_socket(std::string_view helper,
                                                const std::string& default_socket) {
    helper = helper.substr(std::min(helper.find_first_not_of(" \t"), helper.size()));
    if (helper.starts_with('!')) helper.remove_prefix(1);
    const std::vector<std::string> words = split_words(helper);
    if (words.size() < 2 || gastown_credfs_basename(words[0]) != "gastown-credfs" ||
        std::find(words.begin(), words.end(), "credential-helper") == words.end()) {
        return std::nullopt;
    }
    for (size_t i = 1; i < words.size(); ++i) {
        if (words[i].starts_with("--socket=")) return words[i].substr(9);
        if (words[i] == "--socket" && i + 1 < words.size()) return words[i + 1];
    }
    return default_socket;
}

std::optional<CheckResult> check_daemon_helper(
    const CommandOutput& get_all, const std::string& key, const std::string& default_socket,
    const std::function<bool(const std::string&)>& answers) {
    if (get_all.exit_code != 0) return std::nullopt;
    // Only the values after the last reset ("") are git's helpers.
    std::vector<std::string> helpers;
    std::istringstream lines(get_all.out);
    for (std::string line; std::getline(lines, line);) {
        if (trim(line).empty())
            helpers.clear();
        else
            helpers.push_back(trim(line));
    }
    for (const auto& helper : helpers) {
        const auto socket = daemon_helper_socket(helper, default_socket);
        if (!socket) continue;
        const std::string what = key + " runs '" + helper + "'";
        if (answers(*socket)) {
            return ok("git asks the daemon first: " + what + ", and the daemon answers on " +
                      *socket);
        }
        return warn(what + ", but no daemon answers on " + *socket +
                    " (git falls back to its next helper)");
    }
    return std::nullopt;
}

std::vector<std::string> http_path_probe_argv(const std::string& url, const std::string& repo) {
    std::vector<std::string> argv = {"sh", "-c", "printf 'url=%s\\n\\n' \"$0\" | \"$@\"",
                                     url + "/gastown-credfs-doctor/probe.git", "git"};
    if (!repo.empty()) argv.insert(argv.end(), {"-C", repo});
    // The empty helper, last on the command line, drops every configured
    // one: only the stub answers, with a dummy user, so no prompt and no
    // real credential is involved.
    const std::string stub =
        "credential.helper=!f() { echo username=gastown-credfs-doctor; echo password=none; }; f";
    argv.insert(argv.end(), {"-c", "credential.helper=", "-c", stub, "credential", "fill"});
    return argv;
}

CheckResult check_http_path(const CommandOutput& probe, const std::string& url,
                            const std::string& repo, std::string_view scope_value,
                            std::string_view setup) {
    if (probe.exit_code != 0) {
        return fail("cannot tell whether git asks " + url +
                    " with a path: git credential fill failed (" + git_failure(probe) + ")");
    }
    std::istringstream lines(probe.out);
    bool with_path = false;
    for (std::string line; std::getline(lines, line);) with_path |= line.starts_with("path=");
    if (!with_path) {
        return ok("git asks " + url + " without a repository path (credential.useHttpPath off)");
    }
    const std::string key = "credential." + url + ".useHttpPath";
    std::string fix;
    if (trim(scope_value) == "false") {
        // Already set where git-setup puts it, and overridden by a later
        // credential.useHttpPath: git-setup writes its section after it.
        // git-setup moves its section after such a line only within its own
        // file; one in a later file (the repository's config, GIT_CONFIG_*
        // variables) must be removed where it is.
        fix = key + " is false, but a credential.useHttpPath read after it wins; fix: " +
              std::string(setup) +
              ", or remove that line where it is: git config --show-origin --get-regexp "
              "'^credential\\..*usehttppath$'";
    } else {
        fix = "fix: " + (repo.empty() ? "git config --global " : "git -C " + repo + " config ") +
              key + " false";
    }
    return fail("credential.useHttpPath is true for " + url +
                ": git asks with the repository path, so the rig file's line (host only) never "
                "matches and git prompts for a username; " +
                fix);
}

std::vector<CheckResult> check_remotes(const CommandOutput& remote_v, const std::string& repo) {
    if (remote_v.exit_code != 0) {
        return {fail("--repo " + repo + ": git remote -v failed (" +
                     (remote_v.err.empty() ? "exit " + std::to_string(remote_v.exit_code)
                                           : first_line(remote_v.err)) +
                     ")")};
    }
    // "name\turl (fetch)" and "name\turl (push)"; the two differ when the
    // remote has a pushurl.
    struct Entry {
        std::string name, url, kind;
    };
    std::vector<Entry> entries;
    std::istringstream lines(remote_v.out);
    for (std::string line; std::getline(lines, line);) {
        const size_t tab = line.find('\t');
        if (tab == std::string::npos) continue;
        std::string rest = line.substr(tab + 1);
        std::string kind = "fetch";
        if (const size_t sp = rest.rfind(" ("); sp != std::string::npos && rest.ends_with(")")) {
            kind = rest.substr(sp + 2, rest.size() - sp - 3);
            rest.resize(sp);
        }
        entries.push_back({line.substr(0, tab), rest, kind});
    }
    std::vector<CheckResult> out;
    if (entries.empty()) return {warn("--repo " + repo + ": no remotes")};
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& e : entries) {
        if (!seen.emplace(e.name, e.url).second) continue;
        // A push line whose URL differs from the fetch line's is a pushurl.
        const bool pushurl =
            e.kind == "push" && std::any_of(entries.begin(), entries.end(), [&](const Entry& o) {
                return o.name == e.name && o.kind == "fetch" && o.url != e.url;
            });
        const std::string what = "remote " + e.name + (pushurl ? " (push URL)" : "");
        if (const auto cred = find_embedded_credential(e.url)) {
            std::string text = what;
            text += " " + cred->masked;
            text +=
                " embeds a token, which wins over any credential helper and will expire; fix: "
                "git -C ";
            text += repo + " remote set-url ";
            if (pushurl) text += "--push ";
            text += e.name + " " + cred->clean;
            out.push_back(fail(std::move(text)));
        } else if (e.url.starts_with("https://") || e.url.starts_with("http://")) {
            out.push_back(ok(what + " " + e.url + " asks the credential helper"));
        } else {
            out.push_back(ok(what + " " + e.url + " does not use HTTPS credentials"));
        }
    }
    return out;
}

std::string git_setup_command(const DoctorOptions& options) {
    std::string setup;
    // The script writes a file under its own default unless told otherwise:
    // a fix without the mountpoint would configure the wrong directory.
    if (without_trailing_slash(options.mountpoint) != kScriptMountpoint) {
        const bool plain =
            options.mountpoint.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-") ==
            std::string::npos;
        setup = "GASTOWN_CREDS_MOUNTPOINT=" +
                (plain ? options.mountpoint : shell_single_quoted(options.mountpoint)) + " ";
    }
    setup += "gastown-creds-git-setup";
    if (options.host != kGitHubHost) setup += " --host " + options.host;
    setup += " RIG";
    if (!options.repo.empty()) setup += " " + options.repo;
    return setup;
}

std::vector<CheckResult> run_doctor(const DoctorOptions& options, WallTime now) {
    std::vector<CheckResult> checks;
    const DaemonProbe daemon = probe_daemon(options.mountpoint);
    const bool files_mode =
        daemon.source == DaemonProbe::Source::Socket && status_mode(daemon.status_json) == "files";
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the CLI starts no thread before this.
    const char* path_env = std::getenv("PATH");
    CheckResult fuse = check_dev_fuse();
    CheckResult fusermount =
        check_fusermount(path_env != nullptr ? path_env : "", ::geteuid() == 0);
    checks.push_back(files_mode ? without_fuse_needed(std::move(fuse)) : std::move(fuse));
    checks.push_back(files_mode ? without_fuse_needed(std::move(fusermount))
                                : std::move(fusermount));
    for (auto& c : check_daemon(daemon, options.mountpoint, now)) checks.push_back(std::move(c));

    const std::string url = "https://" + options.host;
    const std::string setup = git_setup_command(options);
    std::vector<std::string> git = {"git"};
    if (!options.repo.empty()) git = {"git", "-C", options.repo};
    auto git_with = [&](std::initializer_list<std::string> args) {
        std::vector<std::string> argv = git;
        argv.insert(argv.end(), args);
        return run_command(argv);
    };
    checks.push_back(
        check_credential_helper(git_with({"config", "--get-urlmatch", "credential.helper", url}),
                                options.mountpoint, options.repo, url, setup));
    const std::string helper_key = "credential." + url + ".helper";
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the CLI starts no thread before this.
    const std::string default_socket = default_socket_path(std::getenv("GASTOWN_CREDS_MOUNTPOINT"));
    if (auto c = check_daemon_helper(git_with({"config", "--get-all", helper_key}), helper_key,
                                     default_socket, [](const std::string& socket) {
                                         const DaemonAnswer a = ask_daemon(socket, "status\n\n");
                                         return a.outcome == DaemonAnswer::Outcome::Answered &&
                                                !a.text.empty() && !a.text.starts_with("error=");
                                     })) {
        checks.push_back(std::move(*c));
    }
    const CommandOutput scope_value =
        git_with({"config", options.repo.empty() ? "--global" : "--local", "--type=bool", "--get",
                  "credential." + url + ".useHttpPath"});
    checks.push_back(check_http_path(run_command(http_path_probe_argv(url, options.repo)), url,
                                     options.repo, scope_value.out, setup));
    if (!options.repo.empty()) {
        for (auto& c : check_remotes(git_with({"remote", "-v"}), options.repo)) checks.push_back(c);
    }
    return checks;
}

}  // namespace credfs

#include "credfs/cli/doctor.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "credfs/cli/cli_status.hpp"
#include "credfs/cli/mount_probe.hpp"
#include "credfs/cli/remote_url.hpp"

namespace credfs {

namespace {

constexpr const char* kGitHub = "https://github.com";

CheckResult ok(std::string text) { return {CheckLevel::Ok, std::move(text)}; }
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

}  // namespace

std::string format_check(const CheckResult& check) {
    const char* label = check.level == CheckLevel::Ok     ? "OK   "
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
    const StatusTable table = render_status_table(probe.status_json, now);
    if (!table.parsed) return fail(mountpoint + ": " + table.error);
    if (table.exit_code != kStatusHealthy) {
        return fail(mountpoint + ": " + std::to_string(table.unhealthy_rigs) +
                    " rig(s) unhealthy: " + table.unhealthy_summary +
                    " (details: gastown-credfs status " + mountpoint + ")");
    }
    return ok(mountpoint + ": mounted and serving, every rig ok");
}

CheckResult check_credential_helper(const CommandOutput& git_config, const std::string& mountpoint,
                                    std::string_view where) {
    const std::string fix = "; fix: gastown-creds-git-setup RIG" +
                            (where.empty() ? std::string() : " " + std::string(where));
    const std::string context = "credential.helper for " + std::string(kGitHub) +
                                (where.empty() ? std::string() : " in " + std::string(where));
    if (git_config.exit_code == 1 && trim(git_config.out).empty()) {
        return fail(context + " is not set, so git asks no helper" + fix);
    }
    if (git_config.exit_code != 0) {
        return fail(context + ": git config failed (" +
                    (git_config.err.empty() ? "exit " + std::to_string(git_config.exit_code)
                                            : first_line(git_config.err)) +
                    ")");
    }
    // --get-urlmatch prints the value git uses: the last one set.
    std::string helper;
    std::istringstream lines(git_config.out);
    for (std::string line; std::getline(lines, line);) {
        if (!trim(line).empty()) helper = trim(line);
    }
    if (helper.empty()) return fail(context + " is reset to \"\" and nothing follows" + fix);
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
    return ok(context + " is '" + helper + "'");
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

std::vector<CheckResult> run_doctor(const DoctorOptions& options, WallTime now) {
    std::vector<CheckResult> checks;
    checks.push_back(check_dev_fuse());
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the CLI starts no thread before this.
    const char* path_env = std::getenv("PATH");
    checks.push_back(check_fusermount(path_env != nullptr ? path_env : "", ::geteuid() == 0));
    checks.push_back(check_mount(options.mountpoint, now));
    std::vector<std::string> git = {"git"};
    if (!options.repo.empty()) git = {"git", "-C", options.repo};
    std::vector<std::string> config = git;
    config.insert(config.end(), {"config", "--get-urlmatch", "credential.helper", kGitHub});
    checks.push_back(
        check_credential_helper(run_command(config), options.mountpoint, options.repo));
    if (!options.repo.empty()) {
        std::vector<std::string> remote = git;
        remote.insert(remote.end(), {"remote", "-v"});
        for (auto& c : check_remotes(run_command(remote), options.repo)) checks.push_back(c);
    }
    return checks;
}

}  // namespace credfs

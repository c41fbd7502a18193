// `gastown-credfs doctor`: the checks that explain why an agent's git push
// did not get a fresh token, one result line each. The checks that interpret
// git's output are pure functions of that output, for unit tests; run_doctor
// runs git (no shell) and the file-system checks.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "credfs/cli/mount_probe.hpp"
#include "credfs/core/clock.hpp"
#include "credfs/sources/subprocess.hpp"

namespace credfs {

/// Info: a fact the operator should know that fails nothing (e.g. no
/// /dev/fuse while files mode serves without it).
enum class CheckLevel { Ok, Info, Warn, Fail };

struct CheckResult {
    CheckLevel level = CheckLevel::Ok;
    std::string text;  ///< One line, no trailing newline; never a secret.
};

/// "OK   <text>", "INFO <text>", "WARN <text>" or "FAIL <text>",
/// newline-terminated.
std::string format_check(const CheckResult& check);

/// 1 when any check failed, else 0 (warnings and infos do not fail).
int doctor_exit_code(const std::vector<CheckResult>& checks);

/// `path` (normally /dev/fuse) exists and is a character device.
CheckResult check_dev_fuse(const std::string& path = "/dev/fuse");

/// fusermount3 is an executable in one of `path_env`'s directories (the value
/// of $PATH). Missing is a warning for root (`is_root`), who can mount without
/// it, and a failure for everyone else.
CheckResult check_fusermount(std::string_view path_env, bool is_root);

/// The mount at `mountpoint` is live and every rig is ok or stale at wall time
/// `now` (the status command's logic: probe_mount + render_status_table).
CheckResult check_mount(const std::string& mountpoint, WallTime now);

/// A FUSE prerequisite's result (check_dev_fuse, check_fusermount) while a
/// files-mode daemon serves: what is not OK becomes Info, since files mode
/// serves without FUSE.
CheckResult without_fuse_needed(CheckResult check);

/// The daemon behind `mountpoint` as `probe` (probe_daemon) found it, at
/// wall time `now`. A live mount: check_mount's result. Files mode (the
/// socket answered, "mode": "files"): OK when every rig is ok or stale,
/// naming the socket, then check_rig_files. No daemon, a mount not visible
/// here, or an unhealthy rig: FAIL with the fix.
std::vector<CheckResult> check_daemon(const DaemonProbe& probe, const std::string& mountpoint,
                                      WallTime now);

/// Files mode: each rig file the status document `status_json` lists, in
/// `dir`, holds the token its state record (".<file>.credfs-state",
/// fallback_store.hpp) vouches for, unexpired at `now`. One OK naming each
/// file's time left; FAIL naming the first file that is missing, unreadable,
/// holds another token than the daemon's newest, or an expired one. Reads
/// tokens only to compare fingerprints; prints none.
CheckResult check_rig_files(const std::string& status_json, const std::string& dir, WallTime now);

/// Interprets `git [-C REPO] config --get-urlmatch credential.helper <url>`
/// (`url` e.g. "https://github.com"): OK when the helper git uses is
/// `store --file=<path>` (or `--file <path>`, quoted or not; `store` or a
/// path ending in git-credential-store) with <path> inside `mountpoint`, or
/// `gastown-credfs credential-helper` (the daemon's helper, no file
/// fallback); WARN when that file does not exist; FAIL when no helper is set
/// or it is another helper or file, or when the file has credential-store
/// lines but none for `url` (a rig configured for another host). `where` names the config looked at
/// (a repository, or empty), `setup` the git-setup command for the fix
/// ("gastown-creds-git-setup RIG [REPO]").
CheckResult check_credential_helper(const CommandOutput& git_config, const std::string& mountpoint,
                                    std::string_view where,
                                    std::string_view url = "https://github.com",
                                    std::string_view setup = "");

/// The --socket of a `gastown-credfs credential-helper` helper value (with or
/// without its leading '!'), `default_socket` when it names none; nullopt
/// when `helper` is another helper.
std::optional<std::string> daemon_helper_socket(std::string_view helper,
                                                const std::string& default_socket);

/// Interprets `git [-C REPO] config --get-all <key>` (`key` e.g.
/// credential.https://github.com.helper, the key gastown-creds-git-setup
/// writes): when a value after the last empty one runs `gastown-credfs
/// credential-helper`, OK naming it when `answers` (called with its socket)
/// says the daemon answers there, else WARN (git then falls back to its next
/// helper). nullopt when no such helper is configured under `key`.
std::optional<CheckResult> check_daemon_helper(
    const CommandOutput& get_all, const std::string& key, const std::string& default_socket,
    const std::function<bool(const std::string&)>& answers);

/// The argv that asks git, as it asks a credential helper, for a
/// repository under `url` ("https://github.com"): `git [-C repo] -c
/// credential.helper= -c credential.helper=<a stub answering a dummy user>
/// credential fill`, fed "url=<url>/gastown-credfs-doctor/probe.git" by sh.
/// git applies every matching credential.* entry in config order, the last
/// one winning (credential.c's select_all), which `git config
/// --get-urlmatch` (most specific URL wins) does not reproduce; so the
/// request git builds is the only faithful answer. No real helper runs.
std::vector<std::string> http_path_probe_argv(const std::string& url, const std::string& repo);

/// Interprets the probe's output: FAIL when git's request carries a
/// "path=" (credential.useHttpPath is in effect for `url`), with the one-line
/// fix: `git config --global credential.<url>.useHttpPath false` (`git -C
/// REPO config ...` with a `repo`), or, when `scope_value` (that key's value
/// in that config, `git config --type=bool --get`) is already "false" and
/// a later setting overrides it, `setup` (gastown-creds-git-setup, which
/// writes the section after it). OK when no path is sent; FAIL naming git's
/// error when the probe failed.
CheckResult check_http_path(const CommandOutput& probe, const std::string& url,
                            const std::string& repo, std::string_view scope_value,
                            std::string_view setup);

/// Interprets `git -C REPO remote -v`: one FAIL per remote URL that embeds a
/// secret (find_embedded_credential), printed masked with the set-url fix;
/// one OK per clean remote; WARN when there are none; FAIL when git failed.
std::vector<CheckResult> check_remotes(const CommandOutput& remote_v, const std::string& repo);

struct DoctorOptions {
    std::string mountpoint = "/tmp/gastown-creds";
    std::string repo;  ///< Empty: skip the remote checks; the helper check uses git's cwd.
    /// The host (optionally :port) git asks for: the rig's "host" config.
    std::string host = "github.com";
};

/// The gastown-creds-git-setup command that configures git for `options`,
/// printed as a fix: `--host` when not github.com, the repo when given, and
/// GASTOWN_CREDS_MOUNTPOINT=<mountpoint> (single-quoted when it needs it)
/// when the mountpoint is not the script's default, /tmp/gastown-creds.
std::string git_setup_command(const DoctorOptions& options);

/// Runs every check in order: /dev/fuse, fusermount3 (Info instead of a
/// failure when files mode serves), the daemon (mount or files mode), the
/// credential helper, the daemon's helper when configured, useHttpPath, then
/// (with a repo) its remotes. Blocks on git, on reading the mount's .status
/// and on the daemon's socket (bounded).
std::vector<CheckResult> run_doctor(const DoctorOptions& options, WallTime now);

}  // namespace credfs

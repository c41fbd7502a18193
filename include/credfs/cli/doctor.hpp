// `gastown-credfs doctor`: the checks that explain why an agent's git push
// did not get a fresh token, one result line each. The checks that interpret
// git's output are pure functions of that output, for unit tests; run_doctor
// runs git (no shell) and the file-system checks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/sources/subprocess.hpp"

namespace credfs {

enum class CheckLevel { Ok, Warn, Fail };

struct CheckResult {
    CheckLevel level = CheckLevel::Ok;
    std::string text;  ///< One line, no trailing newline; never a secret.
};

/// "OK   <text>", "WARN <text>" or "FAIL <text>", newline-terminated.
std::string format_check(const CheckResult& check);

/// 1 when any check failed, else 0 (warnings do not fail).
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

/// Interprets `git [-C REPO] config --get-urlmatch credential.helper
/// https://github.com`: OK when the helper git uses is `store --file=<path>`
/// (or `--file <path>`, quoted or not; `store` or a path ending in
/// git-credential-store) with <path> inside `mountpoint`; WARN when that
/// file does not exist; FAIL when no helper is set or it is another helper or
/// file. `where` names the config looked at, for the message.
CheckResult check_credential_helper(const CommandOutput& git_config, const std::string& mountpoint,
                                    std::string_view where);

/// Interprets `git -C REPO remote -v`: one FAIL per remote URL that embeds a
/// secret (find_embedded_credential), printed masked with the set-url fix;
/// one OK per clean remote; WARN when there are none; FAIL when git failed.
std::vector<CheckResult> check_remotes(const CommandOutput& remote_v, const std::string& repo);

struct DoctorOptions {
    std::string mountpoint = "/tmp/gastown-creds";
    std::string repo;  ///< Empty: skip the remote checks; the helper check uses git's cwd.
};

/// Runs every check in order: /dev/fuse, fusermount3, the mount, the
/// credential helper, then (with a repo) its remotes. Blocks on git and on
/// reading the mount's .status.
std::vector<CheckResult> run_doctor(const DoctorOptions& options, WallTime now);

}  // namespace credfs

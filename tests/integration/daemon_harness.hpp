// Runs the real gastown-credfs binary on a FUSE mount in a temp dir (or in
// files mode over that directory), for the integration tests. The daemon is a child process
// (fork/exec, foreground mode) so a daemon crash or hang cannot take the test process with it, and
// the test never reads the mount from a thread the FUSE loop needs.
//
// Teardown always runs (destructor): SIGTERM, bounded wait, SIGKILL, lazy
// unmount if the mount is still there, then the teardown check (log_check.hpp)
// fails the running test when a run of the daemon ended otherwise than the
// test said (exit code 0 unless expect_*()) or its log or stderr holds an
// error line the test did not allow or a sanitizer report; then the temp dir
// is removed.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "log_check.hpp"
#include "test_process.hpp"

namespace credfs::itest {

/// How start() runs the daemon and what it waits for before returning.
struct StartOptions {
    enum class Wait {
        Mount,         ///< The FUSE mount at mountpoint() is live.
        FilesServing,  ///< This run logged "serving at <mountpoint> (files mode)".
        Nothing,       ///< Return once forked (the test waits for what it expects).
    };
    /// Runs the daemon through this command: the daemon's argv is appended to
    /// it and it must exec that argv in the same process (e.g. `unshare
    /// --mount ... sh -c '...; exec "$@"' sh`), so that pid() is the daemon's.
    /// argv[0] is looked up in PATH.
    std::vector<std::string> wrapper{};
    /// Options after "--config FILE -f", before the mountpoint (or --files DIR).
    std::vector<std::string> extra_args{};
    /// `--files <mountpoint()>` instead of the MOUNTPOINT argument.
    bool files_only = false;
    Wait wait = Wait::Mount;
    std::chrono::milliseconds timeout = std::chrono::seconds(20);
};

/// The refresh section of the config; every value in seconds.
struct RefreshParams {
    double margin_s = 600;
    double min_ttl_s = 300;
    double jitter_s = 0;
    double read_timeout_s = 10;
    double backoff_initial_s = 0.2;
    double backoff_max_s = 1;
    double assumed_ttl_s = 1800;
    /// Unset: the daemon's defaults (5 and 60). A test of git's erase of a
    /// token it just minted sets publish_delay_s 0: no lag window.
    std::optional<double> publish_delay_s;
    std::optional<double> mandatory_s;
};

struct RigSpec {
    std::string id;
    std::string file;    ///< Empty: the daemon names the file after the id.
    std::string host{};  ///< Empty: the daemon's default (github.com).
};

/// What open()+read() of a whole file gave: the bytes, or the errno of the
/// first failing call (0 on success).
struct ReadResult {
    int error = 0;
    std::string data;
};
ReadResult read_whole_file(const std::string& path);

/// The token in a credential line "https://x-access-token:<token>@github.com\n",
/// or nullopt when `content` is not exactly one such line.
std::optional<std::string> token_from_line(const std::string& content);

class DaemonHarness {
  public:
    /// Creates the temp dir (mkdtemp under /tmp) and an empty mountpoint in it.
    DaemonHarness();
    /// stop(), then removes the temp dir unless something is still mounted there.
    ~DaemonHarness();

    DaemonHarness(const DaemonHarness&) = delete;
    DaemonHarness& operator=(const DaemonHarness&) = delete;

    const std::string& root() const { return root_; }
    const std::string& mountpoint() const { return mountpoint_; }
    const std::string& jwt_path() const { return jwt_path_; }
    const std::string& config_path() const { return config_path_; }
    const std::string& log_path() const { return log_path_; }
    /// The daemon's stdout and stderr.
    const std::string& output_path() const { return output_path_; }
    /// `file` inside the mount.
    std::string file(const std::string& name) const { return mountpoint_ + "/" + name; }

    /// Writes the container JWT atomically (temp + rename), as a renewing
    /// process would.
    void write_jwt(const std::string& jwt) const;
    /// Writes a gastown-source config pointing at `api_url`, logging at debug
    /// level to log_path().
    void write_config(const std::string& api_url, const RefreshParams& refresh,
                      const std::vector<RigSpec>& rigs) const;

    /// Starts the daemon in the foreground on mountpoint() and waits (up to
    /// `timeout`) until the FUSE mount is live. On failure the daemon is torn
    /// down and the result carries its output and log.
    ::testing::AssertionResult start(std::chrono::milliseconds timeout = 20s);
    /// Starts the daemon as `options` say. Waiting for files mode needs the
    /// config's log file (write_config() sets it); only what this run
    /// logged counts. On failure the daemon is torn down (stop()) and the
    /// result carries its output and log.
    ::testing::AssertionResult start(const StartOptions& options);
    /// `--files <mountpoint()>`, optionally through `wrapper`, waiting for
    /// files mode to serve.
    ::testing::AssertionResult start_files_mode(std::vector<std::string> extra_args = {},
                                                std::vector<std::string> wrapper = {});
    /// Stops the daemon (SIGTERM, bounded wait, SIGKILL) and makes sure
    /// nothing is left mounted (lazy unmount only when a mount is there; a
    /// files-mode daemon has none). Idempotent.
    void stop();

    pid_t pid() const { return pid_; }
    /// The daemon process exists and has not exited.
    bool alive();
    /// mountpoint() carries a FUSE mount (from /proc/self/mountinfo, which
    /// never blocks on the daemon, unlike stat()).
    bool mounted() const;
    /// Exit status from waitpid once the daemon was reaped.
    std::optional<int> exit_status() const { return exit_status_; }

    std::string log_text() const;
    /// What the log gained since the current (or last) run started.
    std::string run_log_text() const;
    std::string output_text() const;
    /// Daemon log and output, for failure messages.
    std::string diagnostics() const;

    /// The teardown check: lets an error or critical log line that
    /// `pattern` (ECMAScript regex, searched anywhere in the line) finds
    /// pass. For tests that make something fail on purpose. Sanitizer
    /// reports are never allowed. Throws std::regex_error on a bad pattern.
    void allow_log_line(const std::string& pattern);
    /// The teardown check: the current run of the daemon (or, when none is
    /// running, the next one started) is expected to end killed by `sig`
    /// (the test kills it) or with exit code `code`, instead of exit code 0.
    void expect_killed_by_signal(int sig);
    void expect_exit_code(int code);
    /// The teardown check now: every run ended as expected (a run still
    /// going is not judged) and the log and stderr hold no unexpected line.
    /// The destructor runs it after stop() and reports a failure with
    /// ADD_FAILURE (on stderr outside a test).
    ::testing::AssertionResult check() const;

  private:
    bool reap(std::chrono::milliseconds timeout);
    void record_exit(int wait_status);

    /// One start() of the daemon: what the test expects of its end, and
    /// its wait status once reaped.
    struct Run {
        ExpectedExit expected;
        std::optional<int> wait_status;
    };

    std::string root_;
    std::string mountpoint_;
    std::string jwt_path_;
    std::string config_path_;
    std::string log_path_;
    std::string output_path_;
    pid_t pid_ = -1;
    std::size_t run_log_offset_ = 0;
    std::optional<int> exit_status_;
    std::vector<Run> runs_;
    std::optional<ExpectedExit> next_expected_;
    std::vector<std::string> allowed_patterns_;
    std::vector<std::regex> allowed_;
};

}  // namespace credfs::itest

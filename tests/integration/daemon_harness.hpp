// Runs the real gastown-credfs binary on a FUSE mount in a temp dir, for the
// integration tests. The daemon is a child process (fork/exec, foreground
// mode) so a daemon crash or hang cannot take the test process with it, and
// the test never reads the mount from a thread the FUSE loop needs.
//
// Teardown always runs (destructor): SIGTERM, bounded wait, SIGKILL, lazy
// unmount if the mount is still there, then the temp dir is removed.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace credfs::itest {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

/// The refresh section of the config; every value in seconds.
struct RefreshParams {
    double margin_s = 600;
    double min_ttl_s = 300;
    double jitter_s = 0;
    double read_timeout_s = 10;
    double backoff_initial_s = 0.2;
    double backoff_max_s = 1;
    double assumed_ttl_s = 1800;
};

struct RigSpec {
    std::string id;
    std::string file;    ///< Empty: the daemon names the file after the id.
    std::string host{};  ///< Empty: the daemon's default (github.com).
};

/// Polls `condition` every `poll` until it holds or `timeout` passes.
/// Returns the last value of `condition`.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 20ms);

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

struct ProcessResult {
    int exit_code = -1;  ///< -1 when killed by a signal or timed out.
    bool timed_out = false;
    std::string output;  ///< stdout.
    std::string error;   ///< stderr.
};
/// Runs argv[0] (PATH lookup) with `input` on stdin; kills it after `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout);

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
    /// Stops the daemon and makes sure nothing is left mounted. Idempotent.
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
    std::string output_text() const;
    /// Daemon log and output, for failure messages.
    std::string diagnostics() const;

  private:
    bool reap(std::chrono::milliseconds timeout);

    std::string root_;
    std::string mountpoint_;
    std::string jwt_path_;
    std::string config_path_;
    std::string log_path_;
    std::string output_path_;
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
};

}  // namespace credfs::itest

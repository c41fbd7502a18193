// The one way the daemon and the CLI run another program: posix_spawnp, no
// shell, stdin from /dev/null, stdout and stderr collected through pipes.
// Used by the exec token source (bounded, in its own process group) and by
// the CLI's git calls (run_command).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace credfs {

struct SubprocessOptions {
    /// Bound on the whole run, seconds on the monotonic clock; 0: none. On
    /// expiry the child (its whole process group with new_process_group) is
    /// killed with SIGKILL and reaped.
    double timeout_s = 0;
    /// Stdout beyond this many bytes kills the child as a timeout does.
    size_t max_stdout = std::numeric_limits<size_t>::max();
    /// Stderr is kept up to about this many bytes (one read past it at most);
    /// the rest is read and dropped, so the child never blocks on it.
    size_t max_stderr = std::numeric_limits<size_t>::max();
    /// Start the child as the leader of a new process group, so a kill
    /// reaches its own children too (a shell script's grandchildren).
    bool new_process_group = false;
    /// Inherited variables whose name starts with this are left out (empty:
    /// none are), so the child sees only the values in `add_env`.
    std::string drop_env_prefix;
    /// "NAME=value" entries added to the inherited environment.
    std::vector<std::string> add_env;
};

struct SubprocessResult {
    /// Non-empty when the program never ran: why, e.g. "No such file or
    /// directory" (posix_spawnp's errno) or "pipe: Too many open files".
    std::string start_error;
    std::string out;  ///< stdout, up to the caps above.
    std::string err;  ///< stderr, up to max_stderr.
    /// The waitpid status (use WIFEXITED & co); meaningful when it ran.
    int wait_status = 0;
    bool timed_out = false;    ///< killed: timeout_s passed.
    bool out_too_big = false;  ///< killed: stdout passed max_stdout.

    /// The exit status, or -1 when it never ran, was killed or died of a signal.
    int exit_code() const;
};

/// Runs `argv` (argv[0] looked up on PATH when it has no '/') with the
/// caller's environment adjusted by `options`, SIGPIPE at its default, and
/// waits until it exits or is killed. Both pipes are drained together, so a
/// child that fills one never deadlocks. Blocks the calling thread; thread-safe
/// (pipes are close-on-exec). Never throws for a failure of the child or of
/// the system calls: see start_error.
SubprocessResult run_subprocess(const std::vector<std::string>& argv,
                                const SubprocessOptions& options = {});

/// What a short diagnostic command (git config, git remote) printed.
struct CommandOutput {
    /// The exit status; -1 when it could not be started or died of a signal.
    int exit_code = -1;
    std::string out;  ///< stdout, whole.
    std::string err;  ///< stderr, whole (or "cannot run <argv0>: <why>").
};

/// run_subprocess with no bound and the caller's environment, for the CLI's
/// diagnostic commands. Never throws.
CommandOutput run_command(const std::vector<std::string>& argv);

}  // namespace credfs

// Running a helper program (git) without a shell and collecting what it
// printed. For the CLI's diagnostic commands, not for token sources.
#pragma once

#include <string>
#include <vector>

namespace credfs {

struct CommandOutput {
    /// The exit status; -1 when it could not be started or died of a signal.
    int exit_code = -1;
    std::string out;  ///< stdout, whole.
    std::string err;  ///< stderr, whole (or why it could not be started).
};

/// Runs `argv` (argv[0] looked up on PATH) with posix_spawnp, stdin from
/// /dev/null and the caller's environment, and waits for it. No shell is
/// involved, so arguments are passed as they are. Blocks until the program
/// exits; meant for short commands such as `git config`. Never throws.
CommandOutput run_command(const std::vector<std::string>& argv);

}  // namespace credfs
